import { jailSettingsFromEnv } from "../jail/settings.js";
import { knownSecrets } from "../local/pick-agents.js";
import type { LocalSettings } from "../local/settings.js";
import { git } from "../workspace/git.js";
import { ActionError } from "./environment.js";

/**
 * The workflow's credentials, as the action meets them: the token it posts with, and whatever
 * actions/checkout (or any earlier step) left in the checkout's git config. With the default
 * `persist-credentials: true` that is `http.<server>/.extraheader = AUTHORIZATION: basic
 * base64(x-access-token:TOKEN)`, in `.git/config` (checkout v4/v5) or in a file under RUNNER_TEMP
 * that `.git/config` includes (v6).
 *
 * - Jailed (the default), the agent never sees them: the jail holds only the run's worktree and the
 *   git directories with their config sanitized (jail/git-dirs.ts), and nothing of RUNNER_TEMP
 *   outside the action's own state.
 * - Unjailed (AGENT_ISOLATION=none), the agent can read any file the runner's user can, so the
 *   action refuses to start it on a checkout whose git config holds a credential (`refuseUnjailed`)
 *   rather than edit the workflow's checkout behind its back.
 *
 * Every credential found is also registered for redaction, in all its encodings (review/sanitize.ts).
 */

export interface CheckoutCredentials {
  /** Config keys (as git lists them, includes followed) that hold a credential. */
  keys: string[];
  /** The secret values in them: a header's token (decoded from Basic), a URL's password. */
  values: string[];
}

const CREDENTIAL_KEY = /^(http\..*\.extraheader|credential\..*|.*\.(?:token|password))$/i;
const USERINFO = /[a-z][a-z0-9+.-]*:\/\/([^/@\s]+)@/i;

/** What the git config the agent's git would read (the repository's own, includes followed) holds. */
export async function checkoutCredentials(dir: string, signal?: AbortSignal): Promise<CheckoutCredentials> {
  // The hardened git of workspace/git.ts reads no global or system config: exactly the repository's
  // own files, and what they include (checkout v6's includeIf into RUNNER_TEMP), are listed.
  const listed = await git(["config", "--list", "--includes", "--show-scope", "-z"], { cwd: dir, signal, okExitCodes: [1] });
  const keys: string[] = [];
  const values = new Set<string>();
  const fields = listed.split("\0");
  for (let i = 0; i + 1 < fields.length; i += 2) {
    // "command" scope is workspace/git.ts's own hardening (credential.helper= among it), not the checkout's.
    if (fields[i] === "command") continue;
    const entry = fields[i + 1]!;
    const newline = entry.indexOf("\n");
    const key = newline < 0 ? entry : entry.slice(0, newline);
    const value = newline < 0 ? "" : entry.slice(newline + 1);
    if (CREDENTIAL_KEY.test(key)) {
      keys.push(key);
      for (const v of headerSecrets(value)) values.add(v);
      continue;
    }
    const inUrl = USERINFO.exec(value) ?? USERINFO.exec(key);
    if (inUrl) {
      keys.push(key);
      const userinfo = decodeURIComponent(inUrl[1]!);
      values.add(userinfo.includes(":") ? userinfo.slice(userinfo.indexOf(":") + 1) : userinfo);
    }
  }
  return { keys: [...new Set(keys)], values: [...values].filter((v) => v.length >= 8) };
}

/** The secrets in an `Authorization: basic|bearer …` header value: the encoded value and the token inside. */
function headerSecrets(value: string): string[] {
  const m = /authorization:\s*(basic|bearer|token)\s+(\S+)/i.exec(value);
  if (!m) return value.length >= 8 && !/\s/.test(value) ? [value] : [];
  const out = [m[2]!];
  if (m[1]!.toLowerCase() === "basic") {
    const decoded = Buffer.from(m[2]!, "base64").toString("utf8");
    if (decoded.includes(":")) out.push(decoded.slice(decoded.indexOf(":") + 1));
  }
  return out;
}

/**
 * Refuses an unjailed agent run on a checkout whose git config holds credentials: such an agent
 * could read them (`git config --list`) and a prompt injection could make it write them out.
 */
export function refuseUnjailed(env: NodeJS.ProcessEnv, creds: CheckoutCredentials): void {
  if (creds.keys.length === 0 || jailSettingsFromEnv(env).isolation !== "none") return;
  throw new ActionError(
    `refusing to run the agent unjailed (AGENT_ISOLATION=none) on a checkout whose git config holds credentials ` +
      `(${creds.keys.slice(0, 3).join(", ")}): the agent could read them. Check out with ` +
      "`persist-credentials: false` (this action fetches what it needs with `github-token`), or leave AGENT_ISOLATION " +
      "unset so the agent runs in its jail, which never shows it the checkout's credentials.",
  );
}

/**
 * Everything the action must never write out: the workflow token, the runner's own tokens, the
 * agents' keys and the checkout's credentials. review/sanitize.ts adds their encodings.
 */
export function actionSecrets(env: NodeJS.ProcessEnv, settings: LocalSettings, checkout: readonly string[] = []): string[] {
  const fromEnv = ["GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"].map((name) => env[name]?.trim() ?? "");
  return [...new Set([...knownSecrets(settings), ...fromEnv, ...checkout].filter((s) => s.length >= 8))];
}

/**
 * The token for fetching missing history, only when the checkout has no credentials of its own
 * (two Authorization headers are refused) and origin is the workflow's GitHub server.
 */
export async function fetchToken(root: string, token: string | null, serverUrl: string, creds: CheckoutCredentials, signal?: AbortSignal): Promise<string | null> {
  if (token === null || creds.keys.length > 0) return null;
  const origin = (await git(["config", "--get", "remote.origin.url"], { cwd: root, signal, okExitCodes: [1] })).trim();
  try {
    return new URL(origin).origin === new URL(serverUrl).origin ? token : null;
  } catch {
    return null;
  }
}
