import path from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../../src/store/db.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { runSiblings } from "../../helpers/sibling-processes.js";
import { ROOT } from "../cli/fixture.js";

const dir = makeTempDir("db");

describe("openDatabase", () => {
  it("creates the file and its folder, in WAL mode with a busy timeout", () => {
    const db = openDatabase(path.join(dir, "nested", "a.sqlite"));
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
    // FULL (2): an acknowledged webhook's job survives a power cut.
    expect(db.pragma("synchronous", { simple: true })).toBe(2);
    db.close();
    const relaxed = openDatabase(path.join(dir, "nested", "a.sqlite"), { synchronous: "NORMAL" });
    expect(relaxed.pragma("synchronous", { simple: true })).toBe(1);
    relaxed.close();
  });

  it("applies each namespace's migrations once, in order", () => {
    const file = path.join(dir, "b.sqlite");
    const steps = [
      { version: 2, sql: "ALTER TABLE t ADD COLUMN b TEXT" },
      { version: 1, sql: "CREATE TABLE t (a TEXT)" },
    ];
    const db = openDatabase(file);
    migrate(db, "test", steps);
    migrate(db, "other", [{ version: 1, sql: "CREATE TABLE u (a TEXT)" }]);
    db.close();

    const again = openDatabase(file);
    migrate(again, "test", steps);
    expect(again.prepare("SELECT namespace, version FROM schema_migrations ORDER BY namespace, version").all()).toEqual([
      { namespace: "other", version: 1 },
      { namespace: "test", version: 1 },
      { namespace: "test", version: 2 },
    ]);
    again.close();
  });

  it("leaves no trace of a failing migration", () => {
    const db = openDatabase(path.join(dir, "c.sqlite"));
    expect(() =>
      migrate(db, "bad", [{ version: 1, sql: "CREATE TABLE v (a TEXT); INSERT INTO missing VALUES (1)" }]),
    ).toThrow(/no such table/);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'v'").get()).toBeUndefined();
    expect(db.prepare("SELECT COUNT(*) FROM schema_migrations WHERE namespace = 'bad'").pluck().get()).toBe(0);
    db.close();
  });

  // The app, a `codex-pr-bot worker` and the MCP server open one file, possibly at the same moment
  // after an upgrade: each read "not applied yet" before taking the write lock, and the second to get
  // it ran the step again (a duplicate column, an index dropped twice) and failed to start.
  it("applies each step once when several processes migrate the same file at the same moment", async () => {
    const file = path.join(dir, "race.sqlite");
    openDatabase(file).close();
    const namespaces = 200;
    const startAt = Date.now() + 4_000;
    const fixture = path.join(ROOT, "test/unit/store/fixtures/migrate-race.ts");
    await runSiblings(fixture, [file, String(startAt), String(namespaces)], 3);
    const db = openDatabase(file);
    expect(db.prepare("SELECT COUNT(*) FROM schema_migrations WHERE namespace LIKE 'ns-%'").pluck().get()).toBe(2 * namespaces);
    db.close();
  }, 60_000);
});

