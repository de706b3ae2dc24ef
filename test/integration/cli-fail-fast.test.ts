import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { codexMockConfig } from "../helpers/mock-responses.js";
import { freePort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { CLI, CODEX_BIN, makeRepo, TSX } from "../unit/cli/fixture.js";

/**
 * A newcomer's first run fails fast and says why: the real codex CLI pointed at a model URL that
 * refuses connections prints the cause on its first retry and the run stops with it (codex 0.169.0
 * itself would keep "waiting for network" until the 20-minute timeout); with no credentials at all
 * the CLI refuses before codex starts. Times are measured from the start of the command.
 */

const base = makeTempDir("cli-fail-fast");
let repo: string;

beforeAll(async () => {
  repo = await makeRepo(base);
});

/** A stderr that remembers when each write arrived, relative to the start. */
function timedIO(env: NodeJS.ProcessEnv, signal?: AbortSignal) {
  const started = Date.now();
  const writes: { at: number; text: string }[] = [];
  let out = "";
  return {
    io: {
      cwd: repo,
      env,
      signal,
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => writes.push({ at: Date.now() - started, text: s }) },
    },
    err: () => writes.map((w) => w.text).join(""),
    out: () => out,
    firstAt: (re: RegExp) => writes.find((w) => re.test(w.text))?.at ?? null,
    elapsed: () => Date.now() - started,
  };
}

function stateEnv(name: string): NodeJS.ProcessEnv {
  const home = path.join(base, `${name}-home`);
  mkdirSync(home, { recursive: true });
  // XDG dirs under the project's scratch dir (codex cannot sandbox with its home under /tmp), existing
  // like a real ~/.cache: run as root, the jail's user must be able to pass through them.
  const state = path.join(base, `${name}-state`);
  const cache = path.join(base, `${name}-cache`);
  for (const dir of [state, cache]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  return { PATH: process.env.PATH, HOME: home, XDG_STATE_HOME: state, XDG_CACHE_HOME: cache, CODEX_BIN };
}

describe("codex-pr-bot review fails fast, naming the cause", () => {
  it("cannot reach the model API: says so on codex's first retry, stops after CODEX_CONNECT_RETRIES and exits 1", async () => {
    const port = await freePort(); // free a moment ago, and nothing listens on it: connections are refused
    const template = path.join(base, "refused-template");
    mkdirSync(template, { recursive: true });
    writeFileSync(path.join(template, "config.toml"), `${codexMockConfig(`http://127.0.0.1:${port}/v1`).join("\n")}\n`);
    const t = timedIO({ ...stateEnv("refused"), CODEX_HOME_TEMPLATE: template, CODEX_CONNECT_RETRIES: "1" });

    const code = await main(["review", "--base", "main"], t.io);

    const notice = new RegExp(`codex cannot reach the model API at 127\\.0\\.0\\.1:${port} \\(.*Connection failed.*\\): retrying 1/1`);
    expect(t.err()).toMatch(notice);
    const firstNotice = t.firstAt(notice)!;
    // codex's first retry comes within a second or two of its start; the notice is printed with it.
    expect(firstNotice).toBeLessThan(15_000);
    expect(code).toBe(1);
    expect(t.err()).toMatch(new RegExp(`codex-pr-bot review: codex cannot reach the model API at 127\\.0\\.0\\.1:${port} .*stopped after 1 retry`));
    expect(t.err()).toContain("Check the network, an HTTPS proxy, and the provider's base_url");
    expect(t.out()).toBe("");
    console.info(`[fail-fast] unreachable model API: first notice after ${firstNotice} ms, exit 1 after ${t.elapsed()} ms`);
  });

  it("no credentials: the bin refuses before codex starts, within 5 s, saying what to set", async () => {
    const env = stateEnv("nocreds"); // HOME without ~/.codex, no CODEX_API_KEY / OPENAI_API_KEY, no template
    const started = Date.now();
    const child = spawn(TSX, [CLI, "review", "--base", "main"], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let firstLineAt: number | null = null;
    child.stderr.on("data", (c: Buffer) => {
      firstLineAt ??= Date.now() - started;
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const elapsed = Date.now() - started;

    expect(code).toBe(1);
    expect(stderr).toContain("codex-pr-bot review: codex has no credentials: set CODEX_API_KEY (or OPENAI_API_KEY)");
    expect(stderr).toContain("codex login");
    expect(firstLineAt).not.toBeNull();
    expect(firstLineAt!).toBeLessThan(5_000);
    console.info(`[fail-fast] no credentials: message after ${firstLineAt} ms, exit after ${elapsed} ms`);
  });
});
