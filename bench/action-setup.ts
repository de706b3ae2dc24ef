import { existsSync, mkdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildEnv, run } from "../src/util/exec.js";
import { readActionYml, runComposite, type UsesStandIn } from "../test/helpers/composite-action.js";
import { benchDir, envInt, isEntry, PROJECT_ROOT, QUICK, round, runBench, type Row } from "./lib/common.js";

/**
 * The GitHub Action's own set-up (issue 21 item 2), from its first step to the agent's start, on a
 * clean directory: a fresh clone of this repository's HEAD as the action's directory, an empty
 * runner tool cache, and for "cold" an empty npm cache (npm_config_cache in a fresh directory:
 * everything comes from the registry).
 *
 * - today's way (before issue 21): `npm ci` of the whole tree and `npm run build` (tsc), the old
 *   Install step; warm = the npm cache of the cold run (setup-node's `cache: npm` at best).
 * - release tag: the clone with dist/action-bundle in it, as scripts/release-action.sh tags it;
 *   action.yml's steps up to Review, run as a runner runs them (test/helpers/composite-action.ts).
 *   Cold: a cache miss, npm installs the pinned codex. Warm: actions/cache restores it, replayed as
 *   actions/cache does it, a zstd tar extracted (the download is not included: its size is shown).
 *   BENCH_ACTION_SETUP_RUNS times each (default 3, BENCH_QUICK 1); the median is the figure.
 * - main: the same without the bundle: action.yml builds it (production-only install + esbuild).
 *   Warm = the CLI from the cache; npm's cache stays cold (action.yml does not cache it).
 *
 * "The agent's start" adds the Review step's own start: node loading the bundle's `action`
 * command (`action --help`), measured after each set-up.
 */

const TARGET_S = 20;
/** Release-tag runs, cold and warm each (the median is the figure). */
const RUNS = envInt("BENCH_ACTION_SETUP_RUNS", 3, 1);
const ROOT = PROJECT_ROOT;

interface Measured {
  way: string;
  cache: "cold" | "warm";
  setupS: number;
  cliStartS: number;
  totalS: number;
  note: string;
}

/** The host's CA settings (a registry behind a TLS-inspecting proxy needs them), as a runner's environment has its own. */
function passThrough(): Record<string, string> {
  const names = ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"];
  const env: Record<string, string> = Object.fromEntries(names.filter((n) => process.env[n]).map((n) => [n, process.env[n]!]));
  // The host's npm settings (e.g. nodedir for node-gyp), not its cache: each run's HOME is fresh.
  const userconfig = path.join(os.homedir(), ".npmrc");
  if (existsSync(userconfig)) env.npm_config_userconfig = userconfig;
  return env;
}

async function sh(cwd: string, script: string, env: Record<string, string>): Promise<number> {
  const started = Date.now();
  const r = await run("bash", ["-eo", "pipefail", "-c", script], { cwd, env: buildEnv(["PATH"], env), timeoutMs: 900_000 });
  if (r.exitCode !== 0) throw new Error(`${script} failed (${r.exitCode}): ${r.stderr.slice(-2000)}`);
  return (Date.now() - started) / 1000;
}

/** A fresh clone of HEAD: what a runner downloads for `uses: <owner>/codex-pr-bot@<ref>`. */
async function cleanClone(dir: string): Promise<string> {
  const clone = path.join(dir, "action");
  const r = await run("git", ["clone", "-q", "--no-hardlinks", ROOT, clone], { cwd: dir, env: buildEnv(["PATH", "HOME"], {}) });
  if (r.exitCode !== 0) throw new Error(`git clone: ${r.stderr}`);
  return clone;
}

async function cliStart(bin: string, cwd: string, env: Record<string, string>): Promise<number> {
  const started = Date.now();
  const r = await run(process.execPath, [bin, "action", "--help"], { cwd, env: buildEnv(["PATH"], env), timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`${bin} action --help: ${r.stderr}`);
  return (Date.now() - started) / 1000;
}

/** Today's way: the old Install step in a clean clone. */
async function oldWay(dir: string, npmCache: string): Promise<{ setupS: number; cliStartS: number }> {
  const clone = await cleanClone(dir);
  const env = { ...passThrough(), HOME: path.join(dir, "home"), npm_config_cache: npmCache };
  // The old step failed on a type error; here a commit that does not type-check still counts once
  // tsc has emitted the CLI (the time is the same).
  const setupS = await sh(clone, "npm ci --no-audit --no-fund && { npm run build || test -f dist/cli.js; }", env);
  return { setupS, cliStartS: await cliStart(path.join(clone, "dist", "cli.js"), clone, env) };
}

/** actions/cache with a zstd tar per key, as the service stores it; restore = extraction. */
class TarCache {
  readonly archives = new Map<string, string>();
  private readonly pending: { key: string; target: string; hit: boolean }[] = [];
  constructor(private readonly store: string) {}
  readonly standIn: UsesStandIn = async (step) => {
    const key = step.with.key!;
    const target = step.with.path!;
    const archive = this.archives.get(key);
    if (archive) {
      mkdirSync(target, { recursive: true });
      const r = await run("tar", ["--zstd", "-xf", archive, "-C", target], { cwd: target, env: buildEnv(["PATH"], {}) });
      if (r.exitCode !== 0) return { ok: false, log: r.stderr };
    }
    writeFileSync(step.env.GITHUB_OUTPUT!, `cache-hit=${String(Boolean(archive))}\n`, { flag: "a" });
    this.pending.push({ key, target, hit: Boolean(archive) });
    return { ok: true, log: "" };
  };
  /** The post step after a miss: tar + zstd, as actions/cache saves. */
  async save(): Promise<void> {
    for (const p of this.pending.splice(0)) {
      if (p.hit || !existsSync(p.target)) continue;
      const archive = path.join(this.store, `${encodeURIComponent(p.key)}.tar.zst`);
      const r = await run("tar", ["--zstd", "-cf", archive, "-C", p.target, "."], { cwd: this.store, env: buildEnv(["PATH"], {}) });
      if (r.exitCode !== 0) throw new Error(`tar: ${r.stderr}`);
      this.archives.set(p.key, archive);
    }
  }
}

/** The new way: action.yml's steps up to the agent's start, in a clean clone (with or without the bundle). */
async function newWay(dir: string, opts: { bundle: boolean; npmCache: string; cache: TarCache }): Promise<{ setupS: number; cliStartS: number; log: string }> {
  const clone = await cleanClone(dir);
  if (opts.bundle) {
    // What scripts/release-action.sh commits on a release tag, built here with the dev install.
    symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
    await sh(clone, "node scripts/build-action.mjs", { HOME: path.join(dir, "home") });
    unlinkSync(path.join(clone, "node_modules"));
  }
  const workspace = path.join(dir, "workspace");
  const runnerTemp = path.join(dir, "runner-temp");
  const toolCache = path.join(dir, "tool-cache");
  const shims = path.join(dir, "shims");
  for (const d of [workspace, runnerTemp, toolCache, shims]) mkdirSync(d, { recursive: true });
  // No sudo here: the sandbox step only warns (a bench does not change the host's sysctls).
  writeFileSync(path.join(shims, "sudo"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  const env = {
    ...passThrough(),
    PATH: `${shims}:${process.env.PATH!}`,
    HOME: path.join(dir, "home"),
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: toolCache,
    npm_config_cache: opts.npmCache,
  };
  const started = Date.now();
  const result = await runComposite({
    action: readActionYml(path.join(clone, "action.yml")),
    with: { executor: "codex" },
    github: { action_path: clone, workspace, token: "" },
    runner: { os: "Linux", temp: runnerTemp, tool_cache: toolCache },
    env,
    dir: path.join(dir, "runner"),
    skip: { Review: "the agent's start is where the set-up ends", Finish: "no review ran" },
    uses: { "Cache codex": opts.cache.standIn, "Cache claude": opts.cache.standIn },
    timeoutMs: 900_000,
  });
  const setupS = (Date.now() - started) / 1000;
  if (result.status !== "success") throw new Error(`the set-up failed:\n${result.log.slice(-3000)}`);
  await opts.cache.save();
  return { setupS, cliStartS: await cliStart(path.join(clone, "dist", "action-bundle", "cli.js"), workspace, env), log: result.log };
}

export async function main(): Promise<void> {
  await runBench("action-setup", "The Action's set-up, first step to the agent's start", async () => {
    const root = benchDir("action-setup");
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const measured: Measured[] = [];
    const add = (way: string, cache: "cold" | "warm", r: { setupS: number; cliStartS: number }, note: string): void => {
      measured.push({ way, cache, setupS: round(r.setupS), cliStartS: round(r.cliStartS, 2), totalS: round(r.setupS + r.cliStartS), note });
      console.log(`${way}, ${cache}: ${round(r.setupS + r.cliStartS)} s`);
    };
    const fresh = (name: string): string => {
      const dir = path.join(root, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    };

    // The release tag, RUNS times (the figure the target is about; the median is reported), then
    // @main and today's way once each. Each scenario's directory goes once measured.
    const samples = { cold: [] as { setupS: number; cliStartS: number }[], warm: [] as { setupS: number; cliStartS: number }[] };
    let archiveMB = 0;
    for (let i = 0; i < RUNS; i++) {
      const cache = new TarCache(fresh(`actions-cache-${i}`));
      samples.cold.push(await newWay(fresh(`tag-cold-${i}`), { bundle: true, npmCache: fresh(`npm-cache-tag-cold-${i}`), cache }));
      archiveMB = round(statSync([...cache.archives.values()][0]!).size / 1e6, 0);
      rmSync(path.join(root, `tag-cold-${i}`), { recursive: true, force: true });
      samples.warm.push(await newWay(fresh(`tag-warm-${i}`), { bundle: true, npmCache: fresh(`npm-cache-tag-warm-${i}`), cache }));
      rmSync(path.join(root, `tag-warm-${i}`), { recursive: true, force: true });
    }
    const median = (runs: { setupS: number; cliStartS: number }[]): { setupS: number; cliStartS: number } =>
      [...runs].sort((a, b) => a.setupS + a.cliStartS - (b.setupS + b.cliStartS))[Math.floor((runs.length - 1) / 2)]!;
    const all = (runs: { setupS: number; cliStartS: number }[]): string => runs.map((r) => round(r.setupS + r.cliStartS)).join(", ");
    add("release tag (bundle shipped)", "cold", median(samples.cold), `npm install of the pinned codex from the registry; median of ${RUNS}: ${all(samples.cold)} s`);
    add("release tag (bundle shipped)", "warm", median(samples.warm), `codex from actions/cache (extraction; plus downloading its ${archiveMB} MB); median of ${RUNS}: ${all(samples.warm)} s`);

    const mainCache = new TarCache(fresh("actions-cache-main"));
    const mainCold = await newWay(fresh("main-cold"), { bundle: false, npmCache: fresh("npm-cache-main-cold"), cache: mainCache });
    add("main (bundle built on the runner)", "cold", mainCold, "production-only install + esbuild + codex from the registry");
    rmSync(path.join(root, "main-cold"), { recursive: true, force: true });
    const mainWarm = await newWay(fresh("main-warm"), { bundle: false, npmCache: fresh("npm-cache-main-warm"), cache: mainCache });
    add("main (bundle built on the runner)", "warm", mainWarm, "codex from actions/cache; npm's cache cold (not cached by the action)");
    rmSync(path.join(root, "main-warm"), { recursive: true, force: true });

    const oldCache = fresh("npm-cache-old");
    add("today: npm ci + tsc", "cold", await oldWay(fresh("old-cold"), oldCache), "the whole dev tree, both agents, better-sqlite3 compiled");
    rmSync(path.join(root, "old-cold"), { recursive: true, force: true });
    if (!QUICK) {
      add("today: npm ci + tsc", "warm", await oldWay(fresh("old-warm"), oldCache), "npm's cache from the cold run");
      rmSync(path.join(root, "old-warm"), { recursive: true, force: true });
    }
    rmSync(root, { recursive: true, force: true });

    const table: Row[] = measured.map((m) => ({
      way: m.way,
      cache: m.cache,
      "set-up s": m.setupS,
      "CLI start s": m.cliStartS,
      "to the agent's start s": m.totalS,
      [`≤ ${TARGET_S} s`]: m.totalS <= TARGET_S ? "yes" : "no",
      note: m.note,
    }));
    const old = measured.find((m) => m.way.startsWith("today") && m.cache === "cold")!;
    const target = (m: Measured): { target: string; measured: string; met: boolean; value: number; floor: number; unit: string; note: string } => ({
      target: `Action set-up ≤ ${TARGET_S} s (${m.way}, ${m.cache})`,
      measured: `${m.totalS} s (today's way, cold: ${old.totalS} s)`,
      met: m.totalS <= TARGET_S,
      value: m.totalS,
      floor: old.totalS,
      unit: "s",
      note: m.note,
    });
    return {
      sizes: { executor: "codex", releaseTagRuns: RUNS, cacheArchiveMB: archiveMB },
      table,
      targets: [target(measured[0]!), target(measured[1]!)],
      details: { measured, releaseTag: samples, lastSetupLog: mainWarm.log.slice(-4000) },
    };
  });
}

if (isEntry(import.meta.url)) await main();
