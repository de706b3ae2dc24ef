#!/usr/bin/env node
// The agent CLIs of the GitHub Action (action.yml): only the one(s) the `executor` input needs, at
// the versions package.json pins, each in a directory of its own keyed by that version, which
// action.yml restores and saves with actions/cache. No dependency beyond Node and npm: it runs
// before anything else is installed.
//
//   node scripts/action-agents.mjs plan      step outputs: <agent>-dir, <agent>-key, <agent>-version
//                                            for each agent the executor needs (the cache steps' input)
//   node scripts/action-agents.mjs install   installs what the cache did not restore, checks each
//                                            binary answers with its pinned version; step outputs
//                                            codex-bin, claude-bin, bwrap (for the Review step's env)
//
// Reads INPUT_EXECUTOR (codex | claude | both), RUNNER_TOOL_CACHE (else RUNNER_TEMP) for where the
// CLIs go, GITHUB_OUTPUT. CODEX_BIN / CLAUDE_BIN / AGENT_JAIL_BWRAP already set in the job's
// environment are kept (and that agent is not installed).
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** What each agent is: its npm package and the binary inside it (src/settings.ts defaultCodexBin/defaultClaudeBin). */
export const AGENTS = {
  codex: { pkg: "@openai/codex", bin: ["bin", "codex.js"], env: "CODEX_BIN" },
  claude: { pkg: "@anthropic-ai/claude-code", bin: ["bin", "claude.exe"], env: "CLAUDE_BIN" },
};

export function agentsFor(executor) {
  const value = (executor ?? "").trim() || "codex";
  if (value === "both") return ["codex", "claude"];
  if (value === "codex" || value === "claude") return [value];
  throw new Error(`the executor input must be codex, claude or both, not "${value}"`);
}

/** The version package.json pins (exactly: the CLIs' event formats move between versions). */
export function pinnedVersion(name, root = ROOT) {
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
  const spec = pkg.dependencies?.[AGENTS[name].pkg];
  if (typeof spec !== "string" || !/^\d+\.\d+\.\d+(?:-[\w.]+)?$/.test(spec)) {
    throw new Error(`package.json must pin ${AGENTS[name].pkg} to an exact version, found ${JSON.stringify(spec)}`);
  }
  return spec;
}

/** Where an agent's CLI lives on this runner, and the cache key of that directory. */
export function agentPlace(name, env = process.env, root = ROOT) {
  const version = pinnedVersion(name, root);
  const base = env.RUNNER_TOOL_CACHE?.trim() || env.RUNNER_TEMP?.trim();
  if (!base) throw new Error("neither RUNNER_TOOL_CACHE nor RUNNER_TEMP is set: not on an Actions runner?");
  const id = `${name}-${version}-${process.platform}-${process.arch}`;
  const dir = path.join(base, "codex-pr-bot", id);
  return { name, version, dir, key: `codex-pr-bot-${id}`, bin: path.join(dir, "node_modules", ...AGENTS[name].pkg.split("/"), ...AGENTS[name].bin) };
}

/** The version the installed binary reports, or null when it is missing or broken. */
export function installedVersion(place) {
  if (!existsSync(place.bin)) return null;
  const isScript = place.bin.endsWith(".js");
  const res = spawnSync(isScript ? process.execPath : place.bin, [...(isScript ? [place.bin] : []), "--version"], { encoding: "utf8", timeout: 30_000 });
  if (res.status !== 0) return null;
  return /(\d+\.\d+\.\d+(?:-[\w.]+)?)/.exec(res.stdout)?.[1] ?? null;
}

/** npm install of exactly the pinned package (and its platform binary) into the agent's directory. */
export function install(place, log = (line) => console.error(line)) {
  rmSync(place.dir, { recursive: true, force: true });
  mkdirSync(place.dir, { recursive: true });
  writeFileSync(path.join(place.dir, "package.json"), `${JSON.stringify({ private: true, description: "codex-pr-bot's agent CLI" })}\n`);
  const started = Date.now();
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  execFileSync(
    npm,
    ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error", `${AGENTS[place.name].pkg}@${place.version}`],
    { cwd: place.dir, stdio: ["ignore", "inherit", "inherit"] },
  );
  log(`installed ${AGENTS[place.name].pkg}@${place.version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The bubblewrap codex ships for its sandbox, which the jail uses too (jail/settings.ts findBwrap). */
export function codexBwrap(place) {
  const arch = process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : null;
  if (process.platform !== "linux" || arch === null) return null;
  const file = path.join(place.dir, "node_modules", "@openai", `codex-linux-${process.arch}`, "vendor", `${arch}-unknown-linux-musl`, "codex-resources", "bwrap");
  return existsSync(file) ? file : null;
}

function writeOutputs(outputs) {
  const lines = Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`).join("");
  if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, lines);
  else process.stdout.write(lines);
}

function main(command) {
  const env = process.env;
  const agents = agentsFor(env.INPUT_EXECUTOR);
  const own = (name) => env[AGENTS[name].env]?.trim() || null;
  if (command === "plan") {
    const outputs = {};
    for (const name of agents) {
      if (own(name)) continue;
      const place = agentPlace(name);
      Object.assign(outputs, { [`${name}-dir`]: place.dir, [`${name}-key`]: place.key, [`${name}-version`]: place.version });
    }
    writeOutputs(outputs);
    return;
  }
  if (command !== "install") throw new Error(`usage: action-agents.mjs plan|install, not ${command}`);
  const outputs = {};
  for (const name of ["codex", "claude"]) {
    const place = agentPlace(name);
    // An agent the executor does not run still gets a path (settings resolve both), never installed.
    outputs[`${name}-bin`] = own(name) ?? place.bin;
    if (!agents.includes(name) || own(name)) continue;
    const found = installedVersion(place);
    if (found === place.version) {
      console.error(`${AGENTS[name].pkg}@${place.version}: from the cache`);
    } else {
      if (found !== null) console.error(`${AGENTS[name].pkg}: the cached one says ${found}, not ${place.version}: reinstalling`);
      install(place);
      const now = installedVersion(place);
      if (now !== place.version) throw new Error(`${AGENTS[name].pkg}@${place.version} was installed but its binary reports ${now ?? "nothing"}`);
    }
  }
  const codex = agentPlace("codex");
  outputs.bwrap = env.AGENT_JAIL_BWRAP?.trim() || (agents.includes("codex") && !own("codex") ? codexBwrap(codex) : null) || "";
  writeOutputs(outputs);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv[2]);
  } catch (err) {
    console.error(`::error title=codex-pr-bot::${String(err.message ?? err).replace(/\r?\n/g, " ")}`);
    process.exitCode = 1;
  }
}
