import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { loadLocalSettings } from "../../src/local/settings.js";
import { message, startMockResponses, type MockResponses } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { captureIO, CODEX_BIN, gitIn, makeRepo, makeTemplate, reviewJson } from "../unit/cli/fixture.js";

/**
 * The local commands keep their state where the platform keeps it ($XDG_STATE_HOME/codex-pr-bot, the
 * throwaway codex homes under $XDG_CACHE_HOME/codex-pr-bot), never in the repository they run in;
 * DATA_DIR, when set, is the one directory of every door. The XDG dirs are under the project's test
 * scratch dir, not /tmp: codex cannot sandbox with its home there.
 */

const base = makeTempDir("cli-state-dirs");
let repo: string;
let mock: MockResponses;
let env: NodeJS.ProcessEnv;
const stateHome = path.join(base, "xdg-state");
const cacheHome = path.join(base, "xdg-cache");

beforeAll(async () => {
  repo = await makeRepo(base);
  mock = await startMockResponses(() => message(reviewJson()));
  const home = path.join(base, "home");
  mkdirSync(home, { recursive: true });
  // Existing, like a real ~/.local/state and ~/.cache: run as root, the jail's user passes through them.
  for (const dir of [stateHome, cacheHome]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  // No DATA_DIR: the defaults are what a user gets.
  env = { PATH: process.env.PATH, HOME: home, XDG_STATE_HOME: stateHome, XDG_CACHE_HOME: cacheHome, CODEX_HOME_TEMPLATE: makeTemplate(base, mock.url), CODEX_BIN };
});

afterAll(async () => {
  await mock.close();
});

async function porcelain(): Promise<string> {
  return gitIn(repo, "status", "--porcelain", "--ignored", "--untracked-files=all");
}

describe("where the local commands keep their state", () => {
  it("review and doctor leave the repository's git status empty; history goes to XDG_STATE_HOME, codex homes to XDG_CACHE_HOME", async () => {
    expect(await porcelain()).toBe("");
    const io = captureIO(repo, env);
    expect(await main(["review", "--base", "main"], io)).toBe(0);
    expect(io.out()).toContain("Unbounded strcpy overflows buf");
    const doctor = captureIO(repo, env);
    await main(["doctor"], doctor);

    expect(await porcelain()).toBe("");
    expect(existsSync(path.join(stateHome, "codex-pr-bot", "codex-pr-bot.sqlite"))).toBe(true);
    expect(existsSync(path.join(cacheHome, "codex-pr-bot", "codex-homes"))).toBe(true);
    expect(existsSync(path.join(repo, ".data"))).toBe(false);

    // Each directory once, with what lives there.
    const out = doctor.out();
    for (const dir of [path.join(repo, ".data"), path.join(stateHome, "codex-pr-bot"), path.join(cacheHome, "codex-pr-bot")]) {
      expect(out.split("\n").filter((l) => l.includes(`${dir}:`))).toHaveLength(1);
    }
    expect(out).toMatch(/DATA_DIR \(default \.\/\.data\) .*\/repo\/\.data: the app's queue and run store .*\(created when the app starts\)/);
    expect(out).toMatch(/local state \(\$XDG_STATE_HOME\/codex-pr-bot\) .*: run history of review, fix and the MCP tools/);
    expect(out).toMatch(/local cache \(\$XDG_CACHE_HOME\/codex-pr-bot\) .*: per-run codex and Claude homes/);
  });

  it("DATA_DIR is one directory for everything, printed once; relative XDG paths are ignored as the spec says", async () => {
    const dataDir = path.join(base, "data");
    const doctor = captureIO(repo, { ...env, DATA_DIR: dataDir });
    await main(["doctor", "--local"], doctor);
    expect(doctor.out().split("\n").filter((l) => l.includes(dataDir))).toHaveLength(1);
    const settings = loadLocalSettings({ ...env, DATA_DIR: dataDir }, repo);
    expect([settings.stateDir, settings.cacheDir]).toEqual([dataDir, dataDir]);
    const relative = loadLocalSettings({ HOME: "/home/u", XDG_STATE_HOME: "state", XDG_CACHE_HOME: "cache" }, repo);
    expect([relative.stateDir, relative.cacheDir]).toEqual(["/home/u/.local/state/codex-pr-bot", "/home/u/.cache/codex-pr-bot"]);
    expect(await porcelain()).toBe("");
  });
});
