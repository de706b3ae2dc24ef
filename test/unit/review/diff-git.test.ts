import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commentableLines, GIT_DIFF_FLAGS, parseUnifiedDiff } from "../../../src/review/diff.js";
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
