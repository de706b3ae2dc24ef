import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildEnv, run, SpawnError } from "../../../src/util/exec.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("exec");
const env = buildEnv(["PATH"]);

/** Alive and not a zombie (an orphan's zombie may linger until something reaps it). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
});

describe("run", () => {
  it("returns exit code, stdout and stderr", async () => {
    const result = await run("sh", ["-c", "echo out; echo err >&2; exit 3"], { cwd: dir, env });
    expect(result).toMatchObject({ exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n", timedOut: false, aborted: false });
  });

  it("runs in the given cwd", async () => {
    const result = await run("pwd", [], { cwd: dir, env });
    expect(result.stdout.trim()).toBe(dir);
  });

  it("writes input to stdin and closes it", async () => {
    const result = await run("cat", [], { cwd: dir, env, input: "hello\nworld" });
    expect(result.stdout).toBe("hello\nworld");
  });

  it("closes stdin at once without input, so readers see EOF instead of hanging", async () => {
    const result = await run("cat", [], { cwd: dir, env, timeoutMs: 5000 });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("");
  });

  it("streams complete stdout lines, including a last line without newline", async () => {
    const lines: string[] = [];
    await run("sh", ["-c", "printf 'a\\nb\\n\\nc'"], { cwd: dir, env, onStdoutLine: (l) => lines.push(l) });
    expect(lines).toEqual(["a", "b", "c"]);
  });

  it("streams lines split across chunks", async () => {
    const lines: string[] = [];
    await run("sh", ["-c", "printf 'par'; sleep 0.1; printf 'tial\\nnext\\n'"], { cwd: dir, env, onStdoutLine: (l) => lines.push(l) });
    expect(lines).toEqual(["partial", "next"]);
  });

  it("keeps only the tail of large output", async () => {
    const result = await run("sh", ["-c", "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"], {
      cwd: dir,
      env,
      maxOutputBytes: 100,
    });
    expect(result.stdout.length).toBeLessThanOrEqual(100);
    expect(result.stdout.endsWith("line1999\n")).toBe(true);
    expect(result.stdout).not.toContain("line0\n");
  });

  it("does not inherit this process's environment", async () => {
    process.env.EXEC_TEST_SECRET = "s3cret";
    const result = await run("env", [], { cwd: dir, env: buildEnv(["PATH"], { ONLY_THIS: "1" }) });
    const names = result.stdout.trim().split("\n").map((l) => l.split("=")[0]);
    expect(names.sort()).toEqual(["ONLY_THIS", "PATH"]);
    expect(result.stdout).not.toContain("s3cret");
  });

  it("rejects with SpawnError when the binary does not exist", async () => {
    const promise = run(path.join(dir, "no-such-binary"), [], { cwd: dir, env });
    await expect(promise).rejects.toBeInstanceOf(SpawnError);
    await expect(promise).rejects.toThrow(/ENOENT/);
  });

  it("kills the whole process tree, grandchildren included, when the timeout passes", async () => {
    const pidFile = path.join(dir, "timeout.pid");
    const started = Date.now();
    const result = await run("sh", ["-c", `sleep 30 & echo $! > ${pidFile}; wait`], { cwd: dir, env, timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe("SIGTERM");
    expect(Date.now() - started).toBeLessThan(5000);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    expect(grandchild).toBeGreaterThan(0);
    expect(await waitFor(() => !isAlive(grandchild))).toBe(true);
  });

  it("escalates to SIGKILL when the child ignores SIGTERM", async () => {
    const result = await run("sh", ["-c", "trap '' TERM; while true; do sleep 0.05; done"], {
      cwd: dir,
      env,
      timeoutMs: 200,
      killGraceMs: 200,
    });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe("SIGKILL");
  });

  it("still SIGKILLs a grandchild that ignores SIGTERM after the direct child has exited", async () => {
    const pidFile = path.join(dir, "stubborn.pid");
    // The grandchild holds none of our pipes, so "close" fires as soon as sh dies from SIGTERM.
    const script = `(trap '' TERM; while :; do sleep 0.05; done) >/dev/null 2>&1 </dev/null & echo $! > ${pidFile}; wait`;
    const result = await run("sh", ["-c", script], { cwd: dir, env, timeoutMs: 200, killGraceMs: 200 });
    expect(result.timedOut).toBe(true);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    expect(await waitFor(() => !isAlive(grandchild), 2000)).toBe(true);
  });

  it("kills the tree when the signal aborts", async () => {
    const pidFile = path.join(dir, "abort.pid");
    const controller = new AbortController();
    const promise = run("sh", ["-c", `sleep 30 & echo $! > ${pidFile}; wait`], { cwd: dir, env, signal: controller.signal });
    expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "")).toBe(true);
    controller.abort();
    const result = await promise;
    expect(result.aborted).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(await waitFor(() => !isAlive(Number(readFileSync(pidFile, "utf8"))))).toBe(true);
  });

  it("does not start at all when the signal is already aborted", async () => {
    const marker = path.join(dir, "should-not-exist");
    const result = await run("touch", [marker], { cwd: dir, env, signal: AbortSignal.abort() });
    expect(result.aborted).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("buildEnv", () => {
  it("takes allowlisted names from the source and adds explicit values, skipping undefined", () => {
    const source = { PATH: "/bin", SECRET: "x", LANG: "C" };
    expect(buildEnv(["PATH", "LANG", "TZ"], { EXTRA: "1", NONE: undefined }, source)).toEqual({ PATH: "/bin", LANG: "C", EXTRA: "1" });
  });
});
