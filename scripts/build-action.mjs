#!/usr/bin/env node
// `npm run build:action`: bundles the CLI the GitHub Action runs (`node <bundle>/cli.js action`)
// into dist/action-bundle/, so a runner needs no `npm ci` and no TypeScript build (issue 21,
// docs/decisions.md "The Action's set-up"). Each command is a chunk of its own (esbuild's code
// splitting follows cli/main.ts's lazy imports): `action` loads the action's code and Probot's
// Octokit, never BullMQ, ioredis or the MCP SDK.
//
// - The bundle sits two levels under the package root, like dist/cli/io.js, so the package's own
//   version (cli/io.ts packageVersion: `../../package.json` from the module) resolves the same way.
//   esbuild puts every chunk in the one directory, so that holds for all of them.
// - better-sqlite3 is a native addon that compiles from source on install (12.9.0 ships no prebuilt
//   binary: 141 s on 2 cores). The Action's path imports it only for the run history, which
//   action.yml turns off (CODEX_PR_BOT_NO_HISTORY: the history would live in RUNNER_TEMP and be
//   thrown away with the runner), so it is replaced by a stub that fails loudly if ever opened.
// - The agents' CLIs are not bundled: action.yml installs the pinned one(s) the `executor` input
//   needs (scripts/action-agents.mjs) and passes their paths as CODEX_BIN / CLAUDE_BIN.
//
// esbuild comes from the dev install (node_modules) or, on a ref without the bundle, from the
// pinned esbuild action.yml installs beside a production-only install (ESBUILD_PACKAGE).
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE_DIR = path.join(ROOT, "dist", "action-bundle");
export const BUNDLE = path.join(BUNDLE_DIR, "cli.js");

const NO_SQLITE = `
// The Action's bundle carries no SQLite: the run history is off in the Action (action.yml sets
// CODEX_PR_BOT_NO_HISTORY), and better-sqlite3 would have to compile from source on every runner.
export default class Database {
  constructor() {
    throw new Error("the GitHub Action's bundle has no SQLite (better-sqlite3): run it with CODEX_PR_BOT_NO_HISTORY=1, as action.yml does");
  }
}
`;

async function loadEsbuild() {
  // ESBUILD_PACKAGE: an esbuild installed elsewhere (action.yml's production-only install has no
  // devDependencies, so it installs the pinned esbuild beside it).
  const dir = process.env.ESBUILD_PACKAGE?.trim();
  return dir ? await import(pathToFileURL(path.join(dir, "lib", "main.js")).href) : await import("esbuild");
}

export async function buildAction() {
  const esbuild = await loadEsbuild();
  const started = Date.now();
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const stub = path.join(BUNDLE_DIR, "no-sqlite.js");
  writeFileSync(stub, NO_SQLITE);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  await esbuild.build({
    entryPoints: { cli: path.join(ROOT, "src", "cli.ts") },
    outdir: BUNDLE_DIR,
    splitting: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${pkg.engines.node.replace(/^[^\d]*(\d+).*$/, "$1")}`,
    alias: { "better-sqlite3": stub },
    // CommonJS dependencies (probot's, yaml's) call require() for Node built-ins.
    banner: { js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
    legalComments: "linked",
    logLevel: "warning",
  });
  rmSync(stub);
  const files = readdirSync(BUNDLE_DIR);
  const bytes = files.reduce((sum, f) => sum + statSync(path.join(BUNDLE_DIR, f)).size, 0);
  console.error(`built ${path.relative(ROOT, BUNDLE)} (${files.length} files, ${(bytes / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildAction();
}
