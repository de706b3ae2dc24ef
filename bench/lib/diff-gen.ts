/**
 * A deterministic 10,000-line unified diff in the exact format the app asks git for, built so that
 * every hunk line states its own position: context lines read "ctx o=<old> n=<new>", added lines
 * "add n=<new>", removed lines "del o=<old>". A parser's numbering can then be checked on every line
 * without a second implementation, and the fixture's expected placements can be worked out by hand.
 *
 * Layout (worked through in bench/fixtures/placement-fixture.ts):
 *  - REGULAR files src/mod-000.ts … src/mod-176.ts, each with 4 hunks. Hunk h (0-based) starts at old
 *    line 10 + 100h and new line 10 + 102h, and holds 3 context, 2 removed, 4 added, 3 context lines:
 *    "@@ -(10+100h),8 +(10+102h),10 @@". Head-side lines of hunk h: 10+102h … 19+102h, the added ones
 *    13+102h … 16+102h. Each file is 4 header lines + 4 × 13 = 56 lines.
 *  - special entries: a renamed file with a change, a deleted file, a binary file, a mode-only change,
 *    a file whose removed/added lines look like "--- a/x" / "+++ b/x" headers, a change at end of file
 *    without a trailing newline, and an added file src/added.ts padding the total to exactly 10,000.
 */

export const REGULAR_FILES = 177;
export const HUNKS_PER_FILE = 4;
export const TOTAL_LINES = 10_000;

export function regularPath(k: number): string {
  return `src/mod-${String(k).padStart(3, "0")}.ts`;
}

function index(k: number): string {
  const h = (k * 2654435761) >>> 0;
  return `index ${h.toString(16).padStart(8, "0").slice(0, 7)}..${((h * 7) >>> 0).toString(16).padStart(8, "0").slice(0, 7)} 100644`;
}

function modified(path: string, k: number): string[] {
  return [`diff --git a/${path} b/${path}`, index(k), `--- a/${path}`, `+++ b/${path}`];
}

function regularFile(k: number): string[] {
  const path = regularPath(k);
  const out = modified(path, k);
  for (let h = 0; h < HUNKS_PER_FILE; h++) {
    let o = 10 + 100 * h;
    let n = 10 + 102 * h;
    out.push(`@@ -${o},8 +${n},10 @@ function f${h}() {`);
    for (let i = 0; i < 3; i++) out.push(` ctx o=${o++} n=${n++}`);
    for (let i = 0; i < 2; i++) out.push(`-del o=${o++}`);
    for (let i = 0; i < 4; i++) out.push(`+add n=${n++}`);
    for (let i = 0; i < 3; i++) out.push(` ctx o=${o++} n=${n++}`);
  }
  return out;
}

function specials(): string[] {
  return [
    // Renamed with a change: old lines 20-26, new lines 20-27; added lines 23 and 24.
    "diff --git a/lib/renamed-old.ts b/lib/renamed-new.ts",
    "similarity index 90%",
    "rename from lib/renamed-old.ts",
    "rename to lib/renamed-new.ts",
    "index 1111111..2222222 100644",
    "--- a/lib/renamed-old.ts",
    "+++ b/lib/renamed-new.ts",
    "@@ -20,7 +20,8 @@",
    " ctx o=20 n=20",
    " ctx o=21 n=21",
    " ctx o=22 n=22",
    "-del o=23",
    "+add n=23",
    "+add n=24",
    " ctx o=24 n=25",
    " ctx o=25 n=26",
    " ctx o=26 n=27",
    // Deleted file.
    "diff --git a/old/removed.ts b/old/removed.ts",
    "deleted file mode 100644",
    "index 3333333..0000000",
    "--- a/old/removed.ts",
    "+++ /dev/null",
    "@@ -1,3 +0,0 @@",
    "-del o=1",
    "-del o=2",
    "-del o=3",
    // Binary file.
    "diff --git a/assets/logo.png b/assets/logo.png",
    "index 4444444..5555555 100644",
    "Binary files a/assets/logo.png and b/assets/logo.png differ",
    // Mode change only: a file entry with no hunks.
    "diff --git a/bin/run.sh b/bin/run.sh",
    "old mode 100644",
    "new mode 100755",
    // Removed line "-- a/x" prints as "--- a/x", added line "++ b/x" as "+++ b/x": header look-alikes
    // inside a hunk, which only a count-driven parser reads correctly.
    "diff --git a/src/tricky.ts b/src/tricky.ts",
    "index 6666666..7777777 100644",
    "--- a/src/tricky.ts",
    "+++ b/src/tricky.ts",
    "@@ -1,4 +1,4 @@",
    " ctx o=1 n=1",
    "--- a/x del o=2",
    "+++ b/x add n=2",
    " ctx o=3 n=3",
    " ctx o=4 n=4",
    // Last line changed, neither side ending with a newline.
    "diff --git a/src/eof.ts b/src/eof.ts",
    "index 8888888..9999999 100644",
    "--- a/src/eof.ts",
    "+++ b/src/eof.ts",
    "@@ -5,2 +5,2 @@",
    " ctx o=5 n=5",
    "-del o=6",
    "\\ No newline at end of file",
    "+add n=6",
    "\\ No newline at end of file",
  ];
}

function addedFile(lines: number): string[] {
  const out = ["diff --git a/src/added.ts b/src/added.ts", "new file mode 100644", "index 0000000..aaaaaaa", "--- /dev/null", "+++ b/src/added.ts", `@@ -0,0 +1,${lines} @@`];
  for (let n = 1; n <= lines; n++) out.push(`+add n=${n}`);
  return out;
}

/** The diff text (ending with a newline) and its line count. */
export function generateDiff(): { text: string; lines: number } {
  const body = [...specials()];
  for (let k = 0; k < REGULAR_FILES; k++) body.push(...regularFile(k));
  const padding = TOTAL_LINES - body.length - 6;
  if (padding < 1) throw new Error("the diff layout no longer fits in 10,000 lines");
  const all = [...body, ...addedFile(padding)];
  return { text: `${all.join("\n")}\n`, lines: all.length };
}

/** The numbers a line states about itself, or null for lines that state none. */
export function statedNumbers(text: string): { o: number | null; n: number | null } | null {
  const o = /\bo=(\d+)/.exec(text);
  const n = /\bn=(\d+)/.exec(text);
  if (!o && !n) return null;
  return { o: o ? Number(o[1]) : null, n: n ? Number(n[1]) : null };
}
