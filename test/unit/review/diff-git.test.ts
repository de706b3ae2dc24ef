import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commentableLines, GIT_DIFF_FLAGS, parseDiff, parseUnifiedDiff } from "../../../src/review/diff.js";
import { diffCommits } from "../../../src/workspace/mirror.js";
import { makeTempDir } from "../../helpers/tmp.js";

/**
 * Cross-checks the parser against real git on generated edits: every line number the parser
 * reports must point at that exact text in the base or head file. This is the property placement
 * relies on, checked on far more shapes than the hand-picked fixtures.
 */

const ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/nonexistent",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.invalid",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.invalid",
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: ENV, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

/** Small deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY = ["--- a/x", "+++ b/x", "-- sql comment", "++i;", "@@ -1 +1 @@", "diff --git a/y b/y", "\\ not a marker", "", "  "];

function makeLines(rand: () => number, n: number, tag: string): string[] {
  return Array.from({ length: n }, (_, i) => (rand() < 0.15 ? (TRICKY[Math.floor(rand() * TRICKY.length)] as string) : `${tag} ${i} ${Math.floor(rand() * 1000)}`));
}

function mutate(rand: () => number, lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const r = rand();
    if (r < 0.08) continue; // delete
    if (r < 0.16) out.push(`changed ${Math.floor(rand() * 1e6)}`);
    else out.push(line);
    if (rand() < 0.08) out.push(...makeLines(rand, 1 + Math.floor(rand() * 3), "ins"));
  }
  return out;
}

function join(lines: string[], eol: string, finalNewline: boolean): string {
  return lines.join(eol) + (finalNewline && lines.length > 0 ? eol : "");
}

describe("parseUnifiedDiff against real git", () => {
  it.each([1, 2, 3, 4, 5, 6])("reports line numbers that point at the right text (seed %i)", (seed) => {
    const rand = rng(seed);
    const repo = makeTempDir(`diff-${seed}`);
    git(repo, "init", "-q", "-b", "main");
    const base = new Map<string, string>();
    const head = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const name = i === 0 ? "dir with space/ä file.txt" : `f${i}.txt`;
      const eol = i === 1 ? "\r\n" : "\n";
      const lines = makeLines(rand, 5 + Math.floor(rand() * 80), `b${i}`);
      base.set(name, join(lines, eol, rand() < 0.7));
      head.set(name, join(mutate(rand, lines), eol, rand() < 0.7));
    }
    write(repo, base);
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "base");
    git(repo, "branch", "base");
    write(repo, head);
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "--allow-empty", "-m", "head");

    const files = parseUnifiedDiff(git(repo, "diff", ...GIT_DIFF_FLAGS, "base...HEAD"));
    const changed = [...head.keys()].filter((k) => head.get(k) !== base.get(k)).sort();
    expect(files.map((f) => f.path).sort()).toEqual(changed);

    for (const file of files) {
      const baseLines = splitFile(base.get(file.path) ?? "");
      const headLines = splitFile(head.get(file.path) ?? "");
      for (const hunk of file.hunks) {
        const adds = hunk.lines.filter((l) => l.kind !== "del").length;
        const dels = hunk.lines.filter((l) => l.kind !== "add").length;
        expect([dels, adds]).toEqual([hunk.oldLines, hunk.newLines]);
        for (const line of hunk.lines) {
          if (line.oldLine !== null) expect(line.text).toBe(baseLines[line.oldLine - 1]);
          if (line.newLine !== null) expect(line.text).toBe(headLines[line.newLine - 1]);
        }
      }
      for (const n of commentableLines(file).keys()) expect(n).toBeLessThanOrEqual(headLines.length);
    }
  });
});

describe("parseDiff against real git: line-terminator look-alikes in the function line", () => {
  // git copies the nearest "function line" into the hunk header (`@@ -a,b +c,d @@ <line>`); a real
  // file in CPython's test data has one holding U+2028, and that used to fail the whole review.
  const BODY = Array.from({ length: 10 }, (_, i) => `    x${i}`);
  const FUNCTION_LINES: Record<string, string> = {
    "line-sep.py": "def f(a):  # sep\u2028here",
    "para-sep.py": "def g(a):  # sep\u2029here",
    "lone-cr.py": "def h(a):  # sep\rhere",
    "plain.py": "def k(a):  # nothing odd",
  };

  it("parses every file of the diff the bot takes (workspace diffCommits), with the header text kept exactly", async () => {
    const repo = makeTempDir("diff-terminators");
    git(repo, "init", "-q", "-b", "main");
    const base = new Map(Object.entries(FUNCTION_LINES).map(([name, fn]) => [name, [fn, ...BODY].join("\n") + "\n"]));
    // Line 10 ("    x8") changes, far enough below line 1 that git names line 1 in the hunk header;
    // line-sep.py's new line carries U+2028 itself.
    const head = new Map(
      [...base].map(([name, text]) => [name, text.replace("    x8\n", name === "line-sep.py" ? "    changed\u2028x8\n" : "    changed x8\n")]),
    );
    write(repo, base);
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "base");
    const baseSha = git(repo, "rev-parse", "HEAD").trim();
    write(repo, head);
    git(repo, "commit", "-q", "-am", "head");
    const headSha = git(repo, "rev-parse", "HEAD").trim();

    const text = await diffCommits(path.join(repo, ".git"), baseSha, headSha, {});
    // The input really is the one that broke the parser: git put the strange bytes into the headers.
    for (const fn of Object.values(FUNCTION_LINES)) expect(text).toContain(`\n@@ -7,5 +7,5 @@ ${fn}\n`);

    const { files, unparsed } = parseDiff(text);
    expect(unparsed).toEqual([]);
    expect(files.map((f) => f.path)).toEqual(["line-sep.py", "lone-cr.py", "para-sep.py", "plain.py"]);
    for (const file of files) {
      expect(file.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines, h.header])).toEqual([[7, 5, 7, 5, FUNCTION_LINES[file.path]]]);
      const newText = file.path === "line-sep.py" ? "    changed\u2028x8" : "    changed x8";
      expect(file.hunks[0]?.lines.map((l) => [l.kind, l.oldLine, l.newLine, l.text])).toEqual([
        ["context", 7, 7, "    x5"],
        ["context", 8, 8, "    x6"],
        ["context", 9, 9, "    x7"],
        ["del", 10, null, "    x8"],
        ["add", null, 10, newText],
        ["context", 11, 11, "    x9"],
      ]);
    }
    expect(parseUnifiedDiff(text)).toEqual(files);

    // The same real diff with one file's section broken: only that file is left out, with the reason.
    const broken = text.replace("\n-    x8\n+    changed\u2028x8\n", "\n-    x8\n*    changed\u2028x8\n");
    expect(broken).not.toBe(text);
    const partial = parseDiff(broken);
    expect(partial.files).toEqual(files.filter((f) => f.path !== "line-sep.py"));
    expect(partial.unparsed).toEqual([{ path: "line-sep.py", reason: 'line 10 does not fit its hunk: "*    changed\u2028x8"' }]);
  });
});

function write(repo: string, files: Map<string, string>): void {
  for (const [name, content] of files) {
    mkdirSync(path.dirname(path.join(repo, name)), { recursive: true });
    writeFileSync(path.join(repo, name), content);
  }
}

/** Lines as git numbers them: split on LF, CR kept, no phantom line after a final newline. */
function splitFile(content: string): string[] {
  const lines = content.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}
