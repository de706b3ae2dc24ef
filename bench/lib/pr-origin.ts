import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";

/**
 * A small origin repository (a bare repo reached as file://) with many pull requests: a base commit
 * on main and, per PR, one commit adding src/feature.ts, published as refs/pull/N/head where the app
 * fetches it. Every PR's file has the same second line, so one scripted model answer (FEATURE_FINDING)
 * places an inline finding on each. Built with one `git fast-import`, so 200 PRs take well under a second.
 */

export const FEATURE_PATH = "src/feature.ts";
export const FEATURE_ANCHOR = "export const value = compute(); // bench";
export const FEATURE_FINDING = { path: FEATURE_PATH, line: 2, anchor: FEATURE_ANCHOR, title: "compute() may throw" };

export interface PrOrigin {
  owner: string;
  name: string;
  /** file:// URL of the bare repository (the payload's clone_url). */
  url: string;
  mainSha: string;
  /** Head SHA of each PR number. */
  heads: Map<number, string>;
}

const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };

function git(cwd: string, args: string[], input?: string): string {
  return execFileSync("git", args, { cwd, env: ENV, input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 }).trim();
}

/** A `git fast-import` data block. */
export function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}`;
}

/** The committer line of every bench commit (a fixed date: the same stream gives the same SHAs). */
export const BENCH_COMMITTER = "committer Bench Author <bench@example.com> 1767225600 +0000";

/**
 * Creates (afresh) the bare repository `<dir>/<owner>-<name>.git` from a fast-import `stream` and
 * returns it as an origin: its main and each `refs/pull/N/head`.
 */
export function importOrigin(dir: string, owner: string, name: string, stream: readonly string[]): PrOrigin {
  const bare = path.join(dir, `${owner}-${name}.git`);
  rmSync(bare, { recursive: true, force: true });
  mkdirSync(bare, { recursive: true });
  git(bare, ["init", "--bare", "-q", "--initial-branch=main"]);
  git(bare, ["fast-import", "--quiet"], `${stream.join("\n")}\n`);
  const heads = new Map<number, string>();
  const refs = git(bare, ["for-each-ref", "--format=%(objectname) %(refname)", "refs/pull"]);
  for (const line of refs.split("\n")) {
    const m = /^([0-9a-f]{40}) refs\/pull\/(\d+)\/head$/.exec(line);
    if (m) heads.set(Number(m[2]), m[1]!);
  }
  return { owner, name, url: `file://${bare}`, mainSha: git(bare, ["rev-parse", "refs/heads/main"]), heads };
}

/** The fast-import lines of main's one commit (mark :1): `readme` and src/index.ts. */
export function mainCommit(readme: string): string[] {
  return [
    "commit refs/heads/main",
    "mark :1",
    BENCH_COMMITTER,
    data("initial"),
    "M 100644 inline README.md",
    data(readme),
    "M 100644 inline src/index.ts",
    data(`export function compute(): number {\n  return 42;\n}\n`),
  ];
}

/** Creates (afresh) `<dir>/<owner>-<name>.git` with PRs `prs` (numbers). */
export function prOrigin(dir: string, owner: string, name: string, prs: readonly number[]): PrOrigin {
  const stream = mainCommit(`# ${owner}/${name}\n\nA small repository for the scale benches.\n`);
  for (const pr of prs) {
    stream.push(
      `commit refs/pull/${pr}/head`,
      `mark :${pr + 1}`,
      BENCH_COMMITTER,
      data(`PR ${pr}: add the feature`),
      "from :1",
      `M 100644 inline ${FEATURE_PATH}`,
      data(`import { compute } from "./index.js"; // PR ${pr}\n${FEATURE_ANCHOR}\nexport const pr = ${pr};\n`),
    );
  }
  return importOrigin(dir, owner, name, stream);
}
