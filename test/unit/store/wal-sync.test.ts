import { fdatasync, fstatSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/store/db.js";
import { WalSync } from "../../../src/store/wal-sync.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("wal-sync");

describe("WalSync", () => {
  it("fsyncs the -wal file off the event loop, one fsync for every commit made before it starts", async () => {
    const db = openDatabase(path.join(dir, "group.sqlite"), { synchronous: "NORMAL" });
    db.exec("CREATE TABLE t (x INTEGER)");
    const synced: { fd: number; size: number }[] = [];
    let release: (() => void) | null = null;
    const wal = new WalSync(db, (fd) => {
      synced.push({ fd, size: fstatSync(fd).size });
      // The first fsync stays in flight until released, as a slow disk would keep it.
      if (synced.length === 1) return new Promise((resolve) => (release = resolve));
      return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    });
    db.prepare("INSERT INTO t VALUES (1)").run();
    const first = wal.sync();
    await Promise.resolve();
    // Committed while the first fsync runs: it may be past them, so they share the next one.
    db.prepare("INSERT INTO t VALUES (2)").run();
    const second = wal.sync();
    db.prepare("INSERT INTO t VALUES (3)").run();
    const third = wal.sync();
    expect(third).toBe(second);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(synced).toHaveLength(1);
    release!();
    await Promise.all([first, second, third]);
    expect(synced).toHaveLength(2);
    // The handle is the WAL file's, which holds the three commits.
    expect(synced[0]!.size).toBeGreaterThan(0);
    expect(synced[1]!.size).toBeGreaterThan(synced[0]!.size);
    await wal.close();
    db.close();
  });

  it("reports a failed fsync to the commits it covered, and the next round still runs", async () => {
    const db = openDatabase(path.join(dir, "fail.sqlite"), { synchronous: "NORMAL" });
    db.exec("CREATE TABLE t (x INTEGER)");
    let calls = 0;
    const wal = new WalSync(db, async () => {
      calls++;
      if (calls === 1) throw new Error("EIO");
    });
    await expect(wal.sync()).rejects.toThrow("EIO");
    await expect(wal.sync()).resolves.toBeUndefined();
    await wal.close();
    db.close();
  });

  it("does nothing for an in-memory database", async () => {
    const db = openDatabase(":memory:");
    let calls = 0;
    const wal = new WalSync(db, async () => void calls++);
    await wal.sync();
    expect(calls).toBe(0);
    db.close();
  });
});
