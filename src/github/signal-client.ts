import type { Probot } from "probot";
import type { Octokit } from "./client.js";
import { applyClientPolicy, type ClientPolicy } from "./policy.js";

/**
 * The installation client for first signals (jobs/first-signal.ts): installation-client.ts's, with
 * throttle id `first-signal:<installation>` instead of the installation id. Octokit's throttling
 * plugin keeps one process-wide Bottleneck limiter per throttle id for writes (one a second, first
 * come first served), so with the installation id a queued check run would wait behind every review
 * and comment the workers are posting for that installation. Its own id is its own lane; the intake's
 * pacer (InstallationPacer) keeps that lane at one write a second. Same client policy (policy.ts) as
 * the worker's: the plugin's rate-limit handlers answer "do not retry", the policy decides.
 */
export async function signalClient(app: Pick<Probot, "auth" | "log">, installationId: number, policy: ClientPolicy): Promise<Octokit> {
  const appOctokit = await app.auth();
  const octokit = (await appOctokit.auth({
    type: "installation",
    installationId,
    factory: ({ octokit: base, octokitOptions, ...otherOptions }: FactoryInput) => {
      const Octokit = base.constructor as new (options: Record<string, unknown>) => unknown;
      const throttle = octokitOptions.throttle as { enabled?: boolean } | undefined;
      return new Octokit({
        ...octokitOptions,
        log: app.log.child({ name: "github" }),
        retry: { enabled: false },
        throttle: throttle?.enabled
          ? { ...throttle, id: `first-signal:${installationId}`, onRateLimit: () => false, onSecondaryRateLimit: () => false }
          : { enabled: false },
        auth: { ...(octokitOptions.auth as object | undefined), otherOptions, installationId },
      });
    },
  })) as Octokit;
  return applyClientPolicy(octokit, policy);
}

interface FactoryInput {
  octokit: { constructor: unknown };
  octokitOptions: Record<string, unknown>;
  [key: string]: unknown;
}
