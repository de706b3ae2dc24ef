import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { clearCodexHomes, createCodexHome } from "../../../src/executors/home.js";
import { makeTempDir } from "../../helpers/tmp.js";

// makeTempDir registers its cleanup with afterAll, which only works at collection time: one base
// directory per file, and per-test directories inside it.
const base = makeTempDir("home");
const scratch = (prefix: string): string => mkdtempSync(path.join(base, `${prefix}-`));

const mode = (p: string): number => statSync(p).mode & 0o777;

describe("createCodexHome", () => {
  it("creates a private directory per job and removes it on dispose, idempotently", async () => {
    const root = path.join(scratch("homes"), "nested", "homes");
    const a = await createCodexHome({ root, jobId: "job/1", template: null });
    const b = await createCodexHome({ root, jobId: "job/1", template: null });
    expect(a.dir).not.toBe(b.dir);
    expect(path.dirname(a.dir)).toBe(root);
    expect(path.basename(a.dir)).toMatch(/^job_1-/);
    expect(mode(a.dir)).toBe(0o700);
    expect(readdirSync(a.dir)).toEqual([]);

    writeFileSync(path.join(a.dir, "state.sqlite"), "x");
    mkdirSync(path.join(a.dir, "sessions", "2026"), { recursive: true });
    await a.dispose();
    await a.dispose();
    expect(existsSync(a.dir)).toBe(false);
    expect(existsSync(b.dir)).toBe(true);
    await b.dispose();
  });

  it("copies only config.toml and auth.json from the template, with mode 0600", async () => {
    const template = scratch("template");
    writeFileSync(path.join(template, "config.toml"), 'model = "gpt-5.5"\n', { mode: 0o644 });
    writeFileSync(path.join(template, "auth.json"), '{"OPENAI_API_KEY":"sk-x"}');
    writeFileSync(path.join(template, "history.jsonl"), "secret history");
    mkdirSync(path.join(template, "sessions"));
    const home = await createCodexHome({ root: scratch("homes"), jobId: "j", template });
    expect(readdirSync(home.dir).sort()).toEqual(["auth.json", "config.toml"]);
    expect(readFileSync(path.join(home.dir, "config.toml"), "utf8")).toBe('model = "gpt-5.5"\n');
    expect(mode(path.join(home.dir, "config.toml"))).toBe(0o600);
    expect(mode(path.join(home.dir, "auth.json"))).toBe(0o600);
    await home.dispose();
  });

  it("accepts a template with only some of the files, and fails (cleaning up) on a missing template", async () => {
    const template = scratch("template");
    writeFileSync(path.join(template, "config.toml"), "");
    const root = scratch("homes");
    const home = await createCodexHome({ root, jobId: "j", template });
    expect(readdirSync(home.dir)).toEqual(["config.toml"]);
    await home.dispose();

    await expect(createCodexHome({ root, jobId: "j", template: path.join(template, "missing") })).rejects.toThrow(/not a directory/);
    expect(readdirSync(root)).toEqual([]);
  });

  it("removes directories the agent made read-only", async () => {
    const home = await createCodexHome({ root: scratch("homes"), jobId: "j", template: null });
    const locked = path.join(home.dir, "locked");
    mkdirSync(locked);
    writeFileSync(path.join(locked, "f"), "x");
    chmodSync(locked, 0o500);
    await home.dispose();
    expect(existsSync(home.dir)).toBe(false);
  });

  it("refuses a root under the system temp dir, saying why", async () => {
    const root = path.join(os.tmpdir(), "codex-pr-bot-homes");
    await expect(createCodexHome({ root, jobId: "j", template: null })).rejects.toThrow(/system temp dir.*cannot run any sandboxed command/s);
    await expect(createCodexHome({ root: os.tmpdir(), jobId: "j", template: null })).rejects.toThrow(/system temp dir/);
    expect(existsSync(root)).toBe(false);
  });

  it("refuses a root that reaches the temp dir through a symlink", async () => {
    const link = path.join(scratch("links"), "to-tmp");
    symlinkSync(os.tmpdir(), link);
    await expect(createCodexHome({ root: path.join(link, "homes"), jobId: "j", template: null })).rejects.toThrow(/system temp dir/);
  });
});

describe("clearCodexHomes", () => {
  it("removes leftovers of crashed runs and tolerates a missing root", async () => {
    const root = scratch("homes");
    await createCodexHome({ root, jobId: "a", template: null });
    await createCodexHome({ root, jobId: "b", template: null });
    await clearCodexHomes(root);
    expect(readdirSync(root)).toEqual([]);
    await clearCodexHomes(path.join(root, "missing"));
  });
});
