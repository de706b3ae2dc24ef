import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { claimDataDir, DataDirInUseError, LOCK_FILE } from "../../../src/workspace/data-dir-lock.js";
import { makeTempDir } from "../../helpers/tmp.js";

describe("one process running agents per DATA_DIR", () => {
  it("refuses a second live process, naming it and what to do", () => {
    const dir = makeTempDir("lock-live");
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 424242, host: hostname(), startedAt: "2026-12-07T10:00:00.000Z" }));
    expect(() => claimDataDir(dir, () => true)).toThrow(DataDirInUseError);
    expect(() => claimDataDir(dir, () => true)).toThrow(/already used by process 424242 .*give each worker process its own DATA_DIR/);
  });

  it("takes over the claim of a process that is gone (a crash, SIGKILL) and releases its own", () => {
    const dir = makeTempDir("lock-stale");
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 424242, host: hostname(), startedAt: "x" }));
    const claim = claimDataDir(dir, () => false);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    claim.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it("does not take a live process that reused the holder's pid for the holder (a restarted container)", () => {
    const dir = makeTempDir("lock-reused");
    // The parent of this test runner is alive, but it did not start when the recorded holder did.
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: "x", procStart: "1" }));
    claimDataDir(dir).release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // The same live process, recorded with its own start time, still holds it.
    const ppidStart = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
    const start = ppidStart.slice(ppidStart.lastIndexOf(")") + 2).split(" ")[19];
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: "x", procStart: start }));
    expect(() => claimDataDir(dir)).toThrow(DataDirInUseError);
  });

  it("lets the same process claim again (an app loaded anew on its directory)", () => {
    const dir = makeTempDir("lock-same");
    claimDataDir(dir);
    const again = claimDataDir(dir, () => true);
    again.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });
});
