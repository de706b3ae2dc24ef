import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export type Db = Database.Database;

/** The SQLite file's name under DATA_DIR (queue and run history), unless DATABASE_PATH names another. */
export const DATABASE_FILE = "codex-pr-bot.sqlite";

/** One schema step. Versions are per namespace, so the queue and the run store evolve independently. */
export interface Migration {
  version: number;
  sql: string;
}

export interface OpenOptions {
  /**
   * FULL (default) fsyncs every commit, on the calling (event-loop) thread. NORMAL, in WAL mode,
   * fsyncs only at checkpoints: a commit survives a crash or SIGKILL of the process (the WAL is in the
   * OS page cache) and the file is never corrupted, but a power cut may lose the last commits. The
   * queue uses NORMAL and fsyncs the WAL off the event loop before it acknowledges (store/wal-sync.ts).
   */
  synchronous?: "FULL" | "NORMAL";
}

/**
 * Opens (creating if needed) the app's SQLite file. WAL lets the runs page read while a job commits;
 * busy_timeout covers a second connection or process holding the write lock briefly.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  // Pages freed by pruning go back to the file system on RunStore.vacuum() (PRAGMA incremental_vacuum)
  // instead of a full VACUUM that locks the file. Only takes effect on a new, empty file; an older
  // file keeps reusing its free pages (it stops growing once pruning runs, it does not shrink).
  db.pragma("auto_vacuum = INCREMENTAL");
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${options.synchronous === "NORMAL" ? "NORMAL" : "FULL"}`);
  db.pragma("busy_timeout = 5000");
  // A burst (a prune, a backlog) may grow the WAL; after the next checkpoint it is cut back to this.
  db.pragma("journal_size_limit = 67108864");
  db.pragma("foreign_keys = ON");
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    namespace TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, version)
  )`);
  return db;
}

/**
 * Applies the namespace's migrations that are not recorded yet, each in its own transaction so a
 * failing step leaves the file at the previous version rather than half-migrated.
 */
export function migrate(db: Db, namespace: string, migrations: readonly Migration[]): void {
  const applied = new Set(
    db
      .prepare("SELECT version FROM schema_migrations WHERE namespace = ?")
      .pluck()
      .all(namespace) as number[],
  );
  const record = db.prepare("INSERT INTO schema_migrations (namespace, version, applied_at) VALUES (?, ?, ?)");
  const isApplied = db.prepare("SELECT 1 FROM schema_migrations WHERE namespace = ? AND version = ?").pluck();
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      // Asked again under the write lock: another process opening the same file (the app, a worker,
      // the MCP server) may have applied it since the read above.
      if (isApplied.get(namespace, m.version) !== undefined) return;
      db.exec(m.sql);
      record.run(namespace, m.version, Date.now());
    }).immediate();
  }
}
