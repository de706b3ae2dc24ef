import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CodexSandbox } from "../../src/executors/sandbox.js";
import { verifySection } from "../../src/fix/body.js";
import { runVerifyCommand } from "../../src/fix/verify.js";
import { Jail } from "../../src/jail/jail.js";
import { jailSettingsFromEnv } from "../../src/jail/settings.js";
import { defaultCodexBin } from "../../src/settings.js";
import { makeTempDir } from "../helpers/tmp.js";

/**
 * Issue 14, item 2: a pull request's test suite that fork-bombs or allocates without bound during
 * `fix.verify` ends that run, reported as such, and a run beside it finishes normally. The limits
 * are the jail's (prlimit inside its own user namespace), with the default settings except a lower
 * process cap so the bomb is quick on a 2-core machine.
 */

function setup(name: string) {
  const root = makeTempDir(name);
  const dataDir = path.join(root, "data");
  const homesRoot = path.join(dataDir, "codex-homes");
  mkdirSync(homesRoot, { recursive: true });
  const worktree = (n: string): string => {
    const dir = path.join(dataDir, "workspaces", "worktrees", `repo-${n}`, "0");
    mkdirSync(path.dirname(dir), { recursive: true });
    execFileSync("git", ["init", "-q", dir]);
    return dir;
  };
  const jail = new Jail({ ...jailSettingsFromEnv({}), maxProcesses: 96 }, { dataDir });
  const sandbox = new CodexSandbox({ bin: defaultCodexBin(), homesRoot, jail });
  return { worktree, jail, sandbox };
}

/** Host processes whose command line holds `marker`: what a run might have left behind. */
function hostProcessesWith(marker: string): number {
  let n = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)) n++;
    } catch {
      // Gone meanwhile.
    }
  }
  return n;
}

describe("the jail's limits", () => {
  it("a fork bomb in fix.verify ends that run with a message naming the limit; a verify beside it passes; nothing is left behind", async () => {
    const { worktree, sandbox } = setup("jail-forkbomb");
    const marker = `bomb_${process.pid}_${Date.now()}`;
    const bomb = runVerifyCommand(sandbox, {
      dir: worktree("bomb"),
      command: `${marker}() { ${marker} | ${marker} & }; ${marker}; sleep 30`,
      timeoutMs: 8_000,
      secrets: [],
    });
    // The neighbour starts while the bomb rages and must finish on its own merits.
    await new Promise((r) => setTimeout(r, 1_500));
    const started = Date.now();
    const neighbour = await runVerifyCommand(sandbox, {
      dir: worktree("neighbour"),
      command: "i=0; while [ $i -lt 20 ]; do i=$((i+1)); sh -c 'true'; done; echo neighbour-ok",
      timeoutMs: 60_000,
      secrets: [],
    });
    expect(neighbour.passed, neighbour.outputTail).toBe(true);
    expect(neighbour.outputTail).toContain("neighbour-ok");
    expect(Date.now() - started).toBeLessThan(30_000);

    const bombed = await bomb;
    expect(bombed.passed).toBe(false);
    expect(bombed.timedOut).toBe(true);
    expect(bombed.limit).toBe("It ran into the jail's limit of 96 processes (AGENT_MAX_PROCESSES).");
    expect(verifySection(bombed)).toContain("**timed out**");
    expect(verifySection(bombed)).toContain("limit of 96 processes (AGENT_MAX_PROCESSES)");
    // The whole PID namespace went with the run.
    await new Promise((r) => setTimeout(r, 500));
    expect(hostProcessesWith(marker)).toBe(0);
  });

  it("a 20 GB allocation fails inside the jail with a message naming the memory limit, and the app is untouched", async () => {
    const { worktree, sandbox, jail } = setup("jail-memory");
    const rssBefore = process.memoryUsage().rss;
    const r = await runVerifyCommand(sandbox, {
      dir: worktree("alloc"),
      // 5 × 4 GiB (a Buffer's maximum), untouched: without the limit the kernel would just hand it out.
      command: `node -e 'const a = []; for (let i = 0; i < 5; i++) a.push(Buffer.allocUnsafeSlow(4 * 1024 ** 3)); console.log("allocated", a.length)'`,
      timeoutMs: 60_000,
      secrets: [],
    });
    expect(r.passed).toBe(false);
    expect(r.outputTail).not.toContain("allocated");
    expect(r.outputTail).toMatch(/allocation failed|Cannot allocate memory|out of memory/i);
    expect(r.limit).toBe(`It ran into the jail's memory limit of ${jail.settings.maxMemoryMb} MiB per process (AGENT_MAX_MEMORY_MB).`);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
  });
});
