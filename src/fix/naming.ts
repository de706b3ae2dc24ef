/** Branch names and the commit identity of fix-up pull requests. Pure. */

/** Every branch the bot pushes starts with this; fix PRs (heads under it) are never auto-fixed. */
export const BRANCH_ROOT = "codex-pr-bot/";

/** `codex-pr-bot/fix/<pr>-`: what every fix branch of one PR starts with. */
export function branchPrefix(mode: "fix" | "tests", pr: number): string {
  return `${BRANCH_ROOT}${mode}/${pr}-`;
}

/** `codex-pr-bot/fix/<pr>-<sha7>` (or `…/tests/…`): says what it is, for which PR and which head. */
export function branchBase(mode: "fix" | "tests", pr: number, headSha: string): string {
  return `${branchPrefix(mode, pr)}${headSha.slice(0, 7)}`;
}

/**
 * The first free name: the base name, then `-2`, `-3`… A second fix of the same head gets its own
 * branch instead of overwriting the first PR's.
 */
export function pickBranch(base: string, taken: readonly string[]): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const name = `${base}-${n}`;
    if (!used.has(name)) return name;
  }
}

export function isBotBranch(ref: string): boolean {
  return ref.startsWith(BRANCH_ROOT);
}

export interface CommitIdentity {
  name: string;
  email: string;
}

/**
 * Author and committer of fix commits. GitHub shows an app's commits under its bot account when the
 * e-mail is `<id>+<slug>[bot]@users.noreply.github.com`; operators set FIX_COMMIT_NAME and
 * FIX_COMMIT_EMAIL when their app's slug or bot user id differ from the defaults.
 */
export function commitIdentity(env: NodeJS.ProcessEnv = process.env): CommitIdentity {
  const name = env.FIX_COMMIT_NAME?.trim() || "codex-pr-bot[bot]";
  const slug = name.replace(/\[bot\]$/, "");
  const id = env.APP_ID?.trim();
  const fallback = id && /^\d+$/.test(id) ? `${id}+${slug}[bot]@users.noreply.github.com` : `${slug}[bot]@users.noreply.github.com`;
  return { name, email: env.FIX_COMMIT_EMAIL?.trim() || fallback };
}
