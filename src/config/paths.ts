/**
 * Which files, branches and authors the repository configuration selects.
 *
 * Path globs follow .gitignore habits because that is what maintainers already write in lists of
 * files to skip (minus negation, which the schema refuses):
 * - a pattern with no slash, or only a trailing one, matches at any depth (`*.lock`, `dist/`);
 * - a pattern with a slash elsewhere is relative to the repository root (`docs/*.md`);
 *   a leading slash anchors a slash-free name to the root (`/build/`);
 * - a pattern also matches every file under a directory it matches (`vendor` skips `vendor/**`);
 *   a trailing slash matches directories only (`dist/` skips `dist/x.js` but not a file named `dist`).
 * Matching is case-sensitive, as in git, and `dot: true` so dotfiles are not special.
 */
import picomatch from "picomatch";
import type { RepoConfig } from "./schema.js";

export type SkipReason = "ignored" | "not-included";

export interface PathFilterResult<T> {
  kept: T[];
  skipped: { path: string; reason: SkipReason }[];
}

type Matcher = (path: string) => boolean;

/** Splits a path into the directories that contain it, outermost first: "a/b/c" → ["a", "a/b"]. */
function ancestors(path: string): string[] {
  const parts = path.split("/");
  const dirs: string[] = [];
  for (let i = 1; i < parts.length; i++) dirs.push(parts.slice(0, i).join("/"));
  return dirs;
}

function compile(patterns: readonly string[]): Matcher {
  const fileGlobs: string[] = [];
  const dirGlobs: string[] = [];
  for (const raw of patterns) {
    let glob = raw.trim();
    const rooted = glob.startsWith("/");
    const dirOnly = glob.endsWith("/");
    glob = glob.replace(/^\/+/, "").replace(/\/+$/, "");
    if (glob === "") continue;
    if (!rooted && !glob.includes("/")) glob = `**/${glob}`;
    (dirOnly ? dirGlobs : fileGlobs).push(glob);
  }
  const options = { dot: true };
  const matchFile = fileGlobs.length > 0 ? picomatch(fileGlobs, options) : null;
  const matchDir = dirGlobs.length > 0 ? picomatch(dirGlobs, options) : null;
  if (!matchFile && !matchDir) return () => false;
  return (path) => {
    const clean = path.replace(/^\.\//, "");
    if (matchFile?.(clean)) return true;
    return ancestors(clean).some((dir) => (matchFile?.(dir) ?? false) || (matchDir?.(dir) ?? false));
  };
}

/**
 * Splits `files` into those to review and those skipped, with the reason for each skip so the
 * review can say which files it did not look at (silent skipping is what users complain about).
 * A file must match `include` (when non-empty) and must not match `ignore` or `extra_ignore`;
 * ignoring wins, so re-including something from the built-in list means replacing `ignore`.
 */
export function filterPaths<T extends { path: string }>(
  files: readonly T[],
  cfg: RepoConfig["paths"],
): PathFilterResult<T> {
  const included = cfg.include.length > 0 ? compile(cfg.include) : () => true;
  const ignored = compile([...cfg.ignore, ...cfg.extra_ignore]);
  const result: PathFilterResult<T> = { kept: [], skipped: [] };
  for (const file of files) {
    if (!included(file.path)) result.skipped.push({ path: file.path, reason: "not-included" });
    else if (ignored(file.path)) result.skipped.push({ path: file.path, reason: "ignored" });
    else result.kept.push(file);
  }
  return result;
}

/**
 * Whether a base branch is selected by `auto_review.base_branches`; [] selects every branch.
 * Plain picomatch globs: `*` stays within one path segment, so `release/*` matches `release/1.2`
 * but not `release/1.2/hotfix` (use `release/**` for that).
 */
export function matchesBranch(branch: string, globs: readonly string[]): boolean {
  if (globs.length === 0) return true;
  return picomatch([...globs], { dot: true })(branch);
}

/**
 * Whether a PR author is listed in `auto_review.ignore_authors`. Exact, case-insensitive
 * comparison rather than globs: GitHub logins are case-insensitive, and bot logins such as
 * `dependabot[bot]` would otherwise be read as a character class.
 */
export function isIgnoredAuthor(login: string, ignoreAuthors: readonly string[]): boolean {
  const wanted = login.toLowerCase();
  return ignoreAuthors.some((author) => author.toLowerCase() === wanted);
}
