import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { benchDir, QUICK } from "./common.js";

/**
 * A generated "large" repository standing in for a busy monorepo: FILES files written over COMMITS
 * commits (the first 10% add the files a directory at a time, the rest each edit a few files), built
 * with `git fast-import` in well under a minute and cached under .data/bench/ (reused while its
 * parameters match). File contents are code-shaped lines with random literals, so packs compress like
 * source code rather than like repeated text. Pull request heads are added as refs/pull/N/head (and
 * refs/heads/bench-pr-N), where the app fetches them from GitHub.
 */

export interface LargeRepo {
  /** Bare repository; use `file://${bare}` as the clone URL so git does a real pack transfer. */
  bare: string;
  url: string;
  files: number;
  commits: number;
  mainSha: string;
  /** Sizes for the report. */
  packMiB: number;
  treeMiB: number;
  generatedInS: number | null;
}

const VERSION = 2;

export function largeRepoSize(): { files: number; commits: number } {
  const files = Number(process.env.BENCH_REPO_FILES ?? (QUICK ? 2_000 : 20_000));
  const commits = Number(process.env.BENCH_REPO_COMMITS ?? (QUICK ? 200 : 2_000));
  return { files, commits };
}

export const GIT_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.com",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.com",
  LANG: "C",
};

export function git(cwd: string, args: string[], input?: string): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, encoding: "utf8", input, maxBuffer: 256 * 1024 * 1024, stdio: ["pipe", "pipe", "pipe"] }).trim();
}

/** xorshift32: fast, deterministic, good enough for file contents. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const WORDS = ["value", "count", "index", "result", "buffer", "config", "handler", "request", "response", "item", "list", "map", "cache", "token", "state"];

function literal(rng: Rng, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += ALPHABET[rng.next() & 63];
  return s;
}

function codeLine(rng: Rng, n: number): string {
  const w = WORDS[rng.int(WORDS.length)]!;
  switch (rng.int(4)) {
    case 0:
      return `export const ${w}${n} = "${literal(rng, 24 + rng.int(24))}";`;
    case 1:
      return `  if (${w}.length > ${rng.int(1000)}) return ${w}${n}("${literal(rng, 16)}");`;
    case 2:
      return `  // ${w} ${literal(rng, 12)} handles the ${WORDS[rng.int(WORDS.length)]} case ${rng.int(100)}`;
    default:
      return `function ${w}${n}(a: number, b: string): string { return b + "${literal(rng, 20)}" + a; }`;
  }
}

export function filePath(i: number): string {
  const pkg = Math.floor(i / 200);
  const mod = Math.floor((i % 200) / 20);
  return `pkg-${String(pkg).padStart(3, "0")}/mod-${mod}/file-${String(i).padStart(5, "0")}.ts`;
}

/** Content of file i at version v (0 = as added); each version rewrites a few lines of the previous one. */
function fileContent(i: number, version: number): string {
  const rng = new Rng(i * 2654435761 + 17);
  const count = 40 + rng.int(200);
  const lines: string[] = [];
  for (let n = 0; n < count; n++) lines.push(codeLine(rng, n));
  for (let v = 1; v <= version; v++) {
    const edit = new Rng(i * 40503 + v * 9973);
    for (let k = 0; k < 4; k++) {
      const at = edit.int(lines.length);
      lines[at] = codeLine(edit, at);
    }
  }
  return `${lines.join("\n")}\n`;
}

class FastImport {
  private readonly child;
  private readonly done: Promise<void>;
  constructor(bare: string) {
    this.child = spawn("git", ["fast-import", "--quiet", "--done", "--force"], { cwd: bare, env: GIT_ENV, stdio: ["pipe", "inherit", "inherit"] });
    this.done = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import exited with ${code}`))));
    });
  }
  async write(text: string | Buffer): Promise<void> {
    if (!this.child.stdin.write(text)) await new Promise<void>((resolve) => this.child.stdin.once("drain", () => resolve()));
  }
  async data(content: string): Promise<void> {
    const buf = Buffer.from(content, "utf8");
    await this.write(`data ${buf.length}\n`);
    await this.write(buf);
    await this.write("\n");
  }
  async finish(): Promise<void> {
    this.child.stdin.end("done\n");
    await this.done;
  }
}

function dirSizeMiB(dir: string): number {
  try {
    return Number(execFileSync("du", ["-sm", dir], { encoding: "utf8" }).split("\t")[0]);
  } catch {
    return Number.NaN;
  }
}

/** The cached large repository, generated first when missing or made with other parameters. */
export async function largeRepo(log: (msg: string) => void = console.log): Promise<LargeRepo> {
  const { files, commits } = largeRepoSize();
  const root = benchDir(`large-repo-${files}x${commits}`);
  const bare = path.join(root, "origin.git");
  const marker = path.join(root, "repo.json");
  if (existsSync(marker)) {
    const saved = JSON.parse(readFileSync(marker, "utf8")) as LargeRepo & { version: number };
    if (saved.version === VERSION && saved.files === files && saved.commits === commits) {
      // Forget PR refs a previous run published; their objects are small and stay.
      const prRefs = git(bare, ["for-each-ref", "--format=%(refname)", "refs/pull/", "refs/heads/bench-pr-"]).split("\n").filter(Boolean);
      if (prRefs.length > 0) git(bare, ["update-ref", "--stdin"], prRefs.map((r) => `delete ${r}\n`).join(""));
      return { ...saved, bare, url: `file://${bare}`, generatedInS: null };
    }
  }
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const started = Date.now();
  log(`generating ${files} files over ${commits} commits in ${bare} (cached for later runs)…`);
  git(root, ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
  const fi = new FastImport(bare);
  const addCommits = Math.max(1, Math.floor(commits / 10));
  const perAdd = Math.ceil(files / addCommits);
  const versions = new Uint16Array(files);
  const editRng = new Rng(12345);
  let time = 1_600_000_000;
  for (let c = 1; c <= commits; c++) {
    time += 3600;
    await fi.write(`commit refs/heads/main\nmark :${c}\ncommitter Bench <bench@example.com> ${time} +0000\n`);
    await fi.data(`commit ${c}\n`);
    if (c <= addCommits) {
      for (let i = (c - 1) * perAdd; i < Math.min(files, c * perAdd); i++) {
        await fi.write(`M 100644 inline ${filePath(i)}\n`);
        await fi.data(fileContent(i, 0));
      }
    } else {
      for (let k = 0; k < 5; k++) {
        const i = editRng.int(files);
        versions[i]! += 1;
        await fi.write(`M 100644 inline ${filePath(i)}\n`);
        await fi.data(fileContent(i, versions[i]!));
      }
    }
  }
  await fi.finish();
  log(`fast-import done in ${((Date.now() - started) / 1000).toFixed(0)} s; repacking with a bitmap like a hosted repository…`);
  git(bare, ["repack", "-a", "-d", "-b", "--quiet"]);
  git(bare, ["commit-graph", "write", "--reachable"]);
  const mainSha = git(bare, ["rev-parse", "refs/heads/main"]);
  const packMiB = dirSizeMiB(path.join(bare, "objects"));
  const treeBytes = Number(git(bare, ["ls-tree", "-r", "-l", "--full-tree", "main"]).split("\n").reduce((a, l) => a + Number(l.split(/\s+/)[3] ?? 0), 0));
  const repo: LargeRepo = {
    bare,
    url: `file://${bare}`,
    files,
    commits,
    mainSha,
    packMiB,
    treeMiB: Math.round(treeBytes / 2 ** 20),
    generatedInS: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(marker, JSON.stringify({ ...repo, version: VERSION }, null, 2));
  log(`generated in ${repo.generatedInS} s: pack ${packMiB} MiB, tree ${repo.treeMiB} MiB`);
  return repo;
}

export interface PrChange {
  /** New files: path → content. */
  add?: Record<string, string>;
  /** Existing files (by index) that get a few lines inserted. */
  edit?: number[];
}

/**
 * Pushes `commits` new commits on top of `parent` as the head of PR `number` (refs/pull/N/head and
 * refs/heads/bench-pr-N), like a contributor's push. Returns the new head SHA.
 */
export async function pushPrHead(repo: LargeRepo, number: number, parent: string, commits: { message: string; change: PrChange }[]): Promise<string> {
  const fi = new FastImport(repo.bare);
  let time = 1_900_000_000 + number * 1000;
  let first = true;
  let mark = 0;
  for (const { message, change } of commits) {
    mark++;
    time += 60;
    await fi.write(`commit refs/pull/${number}/head\nmark :${mark}\ncommitter Bench <bench@example.com> ${time} +0000\n`);
    await fi.data(`${message}\n`);
    if (first) await fi.write(`from ${parent}\n`);
    first = false;
    for (const [file, content] of Object.entries(change.add ?? {})) {
      await fi.write(`M 100644 inline ${file}\n`);
      await fi.data(content);
    }
    for (const i of change.edit ?? []) {
      // Edits start from the file as it is in `parent` (keep edited files distinct within one push).
      const current = git(repo.bare, ["cat-file", "blob", `${parent}:${filePath(i)}`]);
      const lines = current.split("\n");
      lines.splice(5, 0, `// PR ${number}: ${message}`, `export const pr${number}x${mark} = ${number * 1000 + mark};`);
      await fi.write(`M 100644 inline ${filePath(i)}\n`);
      await fi.data(`${lines.join("\n")}\n`);
    }
  }
  await fi.write(`reset refs/heads/bench-pr-${number}\nfrom :${mark}\n\n`);
  await fi.finish();
  return git(repo.bare, ["rev-parse", `refs/pull/${number}/head`]);
}

/** A new file of `lines` numbered lines, for findings to point at. */
export function numberedFile(tag: string, lines: number): string {
  const out: string[] = [];
  for (let n = 1; n <= lines; n++) out.push(`export const ${tag}_${n} = compute(${n}); // line ${n}`);
  return `${out.join("\n")}\n`;
}
