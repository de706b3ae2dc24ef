import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * A local bare repository standing in for GitHub's remote: a default branch and pull request heads
 * published under refs/pull/N/head, exactly where the app fetches them from.
 */
export interface OriginRepo {
  /** Path of the bare repository; use it as the payload's clone_url. */
  bare: string;
  /** A normal clone used to author commits. */
  work: string;
  git(...args: string[]): string;
  /** Writes files (path → content; null deletes) and commits them on the current branch. */
  commit(message: string, files: Record<string, string | null>): string;
  /** Publishes the current HEAD as refs/pull/N/head (and as the branch `ref`). */
  publishPull(number: number, branch: string): void;
  sha(ref: string): string;
}

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Test Author",
  GIT_AUTHOR_EMAIL: "author@example.com",
  GIT_COMMITTER_NAME: "Test Author",
  GIT_COMMITTER_EMAIL: "author@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

export function createOrigin(root: string, files: Record<string, string>, defaultBranch = "main"): OriginRepo {
  const bare = path.join(root, "origin.git");
  const work = path.join(root, "author");
  const run = (cwd: string, args: string[]): string =>
    execFileSync("git", args, { cwd, env: ENV, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  mkdirSync(bare, { recursive: true });
  run(bare, ["init", "--bare", "-q", `--initial-branch=${defaultBranch}`]);
  mkdirSync(work, { recursive: true });
  run(work, ["init", "-q", `--initial-branch=${defaultBranch}`]);
  run(work, ["remote", "add", "origin", bare]);

  const repo: OriginRepo = {
    bare,
    work,
    git: (...args) => run(work, args),
    commit(message, changes) {
      for (const [file, content] of Object.entries(changes)) {
        const full = path.join(work, file);
        if (content === null) {
          run(work, ["rm", "-q", file]);
          continue;
        }
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
        run(work, ["add", file]);
      }
      run(work, ["commit", "-q", "-m", message]);
      return run(work, ["rev-parse", "HEAD"]);
    },
    publishPull(number, branch) {
      run(work, ["push", "-q", "--force", "origin", `HEAD:refs/heads/${branch}`, `HEAD:refs/pull/${number}/head`]);
    },
    sha: (ref) => run(work, ["rev-parse", ref]),
  };
  repo.commit("initial", files);
  run(work, ["push", "-q", "origin", `HEAD:refs/heads/${defaultBranch}`]);
  return repo;
}
