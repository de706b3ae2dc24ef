import { lstat, readFile } from "node:fs/promises";
import path from "node:path";

/**
 * The git directories a jailed worktree needs, and the config the agent may see of them.
 *
 * A worktree made by `git worktree add` holds only a `.git` file pointing at
 * `<common>/worktrees/<name>`; git inside the jail needs that common directory (objects, refs)
 * read-only. A plain checkout (the CLI on the user's repository, the Action on the runner's) holds
 * a `.git` directory inside the worktree itself.
 */

export interface WorktreeGit {
  /** `<worktree>/.git`, a file or a directory; null when the worktree is not a git checkout. */
  dotGit: string | null;
  dotGitIsDir: boolean;
  /** The repository's common directory (objects, refs, config), when it lies outside the worktree. */
  commonDir: string | null;
  /** Config files the agent's git would read: the common config and a worktree's own config. */
  configFiles: string[];
}

export async function worktreeGit(worktree: string): Promise<WorktreeGit> {
  const dotGit = path.join(worktree, ".git");
  const info = await lstat(dotGit).catch(() => null);
  if (!info || info.isSymbolicLink()) return { dotGit: null, dotGitIsDir: false, commonDir: null, configFiles: [] };
  if (info.isDirectory()) {
    return { dotGit, dotGitIsDir: true, commonDir: null, configFiles: await existing([path.join(dotGit, "config"), path.join(dotGit, "config.worktree")]) };
  }
  const text = await readFile(dotGit, "utf8").catch(() => "");
  const m = /^gitdir:\s*(.+?)\s*$/m.exec(text);
  if (!m) return { dotGit, dotGitIsDir: false, commonDir: null, configFiles: [] };
  const admin = path.resolve(worktree, m[1]!);
  const commondirFile = await readFile(path.join(admin, "commondir"), "utf8").catch(() => null);
  const common = commondirFile !== null ? path.resolve(admin, commondirFile.trim()) : path.dirname(path.dirname(admin));
  return {
    dotGit,
    dotGitIsDir: false,
    commonDir: common,
    configFiles: await existing([path.join(common, "config"), path.join(admin, "config.worktree")]),
  };
}

async function existing(files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) if ((await lstat(f).catch(() => null))?.isFile()) out.push(f);
  return out;
}

/**
 * A git config with every credential taken out: `http.*.extraheader` (actions/checkout's
 * `persist-credentials` stores the workflow token there, base64-encoded), whole `[credential]`
 * sections (helpers, usernames) and user:password in remote URLs. Returns null when there is
 * nothing to take out, so the common case binds nothing extra.
 */
export function sanitizeGitConfig(text: string): string | null {
  let changed = false;
  let inCredential = false;
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const section = /^\s*\[\s*([A-Za-z0-9.-]+)/.exec(line);
    if (section) inCredential = section[1]!.toLowerCase().startsWith("credential");
    if (inCredential) {
      changed = true;
      continue;
    }
    if (/^\s*extraheader\s*=/i.test(line) || /^\s*(token|password|oauth\w*)\s*=/i.test(line)) {
      changed = true;
      continue;
    }
    const stripped = line.replace(/^(\s*(?:url|pushurl)\s*=\s*"?[a-z][a-z0-9+.-]*:\/\/)[^/@\s"]+@/i, "$1");
    if (stripped !== line) changed = true;
    out.push(stripped);
  }
  return changed ? out.join("\n") : null;
}
