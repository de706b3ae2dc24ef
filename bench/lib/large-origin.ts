import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { PrOrigin } from "./pr-origin.js";

/**
 * An origin (bare repository reached as file://) for the large-PR start figure: main with two small
 * files; PR 1 adds one file (the warm-up that makes the app's mirror); PRs 2.. each add `files` new
 * files holding `lines` lines in all, their content distinct per PR so that each one's objects are
 * new to the mirror (a warm mirror, a cold PR, as on a busy repository). One `git fast-import`.
 */
export function largePrOrigin(dir: string, owner: string, name: string, options: { largePrs: number; files: number; lines: number }): PrOrigin {
  const bare = path.join(dir, `${owner}-${name}.git`);
  rmSync(bare, { recursive: true, force: true });
  mkdirSync(bare, { recursive: true });
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const git = (args: string[], input?: string): string =>
    execFileSync("git", args, { cwd: bare, env, input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 }).trim();
  git(["init", "--bare", "-q", "--initial-branch=main"]);
  const who = "Bench Author <bench@example.com> 1767225600 +0000";
  const data = (text: string): string => `data ${Buffer.byteLength(text)}\n${text}`;
  const stream: string[] = [
    "commit refs/heads/main",
    "mark :1",
    `committer ${who}`,
    data("initial"),
    "M 100644 inline README.md",
    data(`# ${owner}/${name}\n`),
    "M 100644 inline src/index.ts",
    data("export function compute(): number {\n  return 42;\n}\n"),
    "commit refs/pull/1/head",
    "mark :2",
    `committer ${who}`,
    data("PR 1: a small change"),
    "from :1",
    "M 100644 inline src/feature.ts",
    data('import { compute } from "./index.js";\nexport const value = compute();\n'),
  ];
  const base = Math.floor(options.lines / options.files);
  const extra = options.lines - base * options.files;
  for (let pr = 2; pr < 2 + options.largePrs; pr++) {
    stream.push(`commit refs/pull/${pr}/head`, `mark :${pr + 1}`, `committer ${who}`, data(`PR ${pr}: ${options.files} new modules`), "from :1");
    for (let k = 0; k < options.files; k++) {
      const n = base + (k < extra ? 1 : 0);
      const lines: string[] = [];
      for (let i = 1; i <= n; i++) lines.push(`export const v${i} = "pr ${pr} module ${k} line ${i}";`);
      stream.push(`M 100644 inline packages/p${k % 40}/src/module-${String(k).padStart(4, "0")}.ts`, data(`${lines.join("\n")}\n`));
    }
  }
  git(["fast-import", "--quiet"], `${stream.join("\n")}\n`);
  const heads = new Map<number, string>();
  for (const line of git(["for-each-ref", "--format=%(objectname) %(refname)", "refs/pull"]).split("\n")) {
    const m = /^([0-9a-f]{40}) refs\/pull\/(\d+)\/head$/.exec(line);
    if (m) heads.set(Number(m[2]), m[1]!);
  }
  return { owner, name, url: `file://${bare}`, mainSha: git(["rev-parse", "refs/heads/main"]), heads };
}
