import type { Probot } from "probot";
import type { Octokit } from "./client.js";
import { installationClient } from "./installation-client.js";
import type { ClientPolicy } from "./policy.js";

/**
 * The installation client for first signals (jobs/first-signal.ts): installation-client.ts's, with
 * throttle id `first-signal:<installation>` instead of the installation id. Octokit's throttling
 * plugin keeps one process-wide Bottleneck limiter per throttle id for writes (one a second, first
 * come first served), so with the installation id a queued check run would wait behind every review
 * and comment the workers are posting for that installation. Its own id is its own lane; the intake's
 * pacer (InstallationPacer) keeps that lane at one write a second. Same client policy (policy.ts) as
 * the worker's: the plugin's rate-limit handlers answer "do not retry", the policy decides.
 */
export function signalClient(app: Pick<Probot, "auth" | "log">, installationId: number, policy: ClientPolicy): Promise<Octokit> {
  return installationClient(app, installationId, policy, `first-signal:${installationId}`);
}
