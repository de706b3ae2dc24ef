import type { Probot } from "probot";
import type { Octokit } from "./client.js";
import { applyClientPolicy, type ClientPolicy } from "./policy.js";

/**
 * The worker's installation client: Probot's `app.auth(id)`, with two changes that make policy.ts
 * the only place that decides what is retried and how long a rate limit is waited out.
 * - Octokit's retry plugin is off (it would repeat a failed POST, and a review with it).
 * - The throttling plugin still paces writes (one a second per installation, as GitHub asks), but
 *   its rate-limit handlers answer "do not retry": Probot's would sleep until a primary limit resets,
 *   up to an hour inside one request, where the policy puts the job back on the queue instead.
 * The factory mirrors Probot's own (probot/lib/octokit/get-authenticated-octokit.js).
 */
export async function installationClient(
  app: Pick<Probot, "auth" | "log">,
  installationId: number,
  policy: ClientPolicy,
  /** The throttling plugin's write lane (default: the installation id, as Probot keys it). */
  throttleId = String(installationId),
): Promise<Octokit> {
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
          ? { ...throttle, id: throttleId, onRateLimit: () => false, onSecondaryRateLimit: () => false }
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
