import { statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkpointInBackground } from "../../../src/store/checkpointer.js";
import { openDatabase } from "../../../src/store/db.js";
import { makeTempDir } from "../../helpers/tmp.js";

const dir = makeTempDir("checkpointer");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes ~12 MiB in 40 commits, pausing between them as a live app would. Returns the largest WAL seen. */
async function write(file: string, background: boolean): Promise<number> {
  const db = openDatabase(file, { synchronous: "NORMAL" });
  const release = background ? checkpointInBackground(db, 50) : null;
  // Without the worker, only the safety net the worker sets would checkpoint (far above this load).
  if (!background) db.pragma("wal_autocheckpoint = 10000");
  db.exec("CREATE TABLE t (x TEXT)");
  const insert = db.prepare("INSERT INTO t VALUES (?)");
  const many = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run("x".repeat(3000));
  });
  let largest = 0;
  for (let i = 0; i < 40; i++) {
    many(100);
    largest = Math.max(largest, statSync(`${file}-wal`).size);
    await sleep(60);
  }
  expect(db.prepare("SELECT COUNT(*) FROM t").pluck().get()).toBe(4000);
  await release?.();
  db.close();
  return largest;
}

describe("checkpointInBackground", () => {
  it("keeps the WAL small by checkpointing on a worker thread, with this connection's own checkpoints far off", async () => {
    const alone = await write(path.join(dir, "alone.sqlite"), false);
    const helped = await write(path.join(dir, "helped.sqlite"), true);
    expect(alone).toBeGreaterThan(12 * 1024 * 1024);
    expect(helped).toBeLessThan(alone / 4);
  }, 30_000);
});
