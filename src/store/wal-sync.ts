import { closeSync, fdatasync, openSync } from "node:fs";
import path from "node:path";
import type { Db } from "./db.js";

/**
 * Makes the commits of a `synchronous = NORMAL` WAL connection power-loss durable without fsyncing on
 * the event loop: fdatasync of the -wal file runs on libuv's thread pool, and one sync covers every
 * commit made before it started (group commit). Callers await sync() after their commit and before
 * they acknowledge anything.
 *
 * Why this is equivalent to `synchronous = FULL` for the commits awaited: in WAL mode a commit is the
 * frames appended to the -wal file; FULL only adds an fsync of that file after each commit. Recovery
 * replays the WAL up to the last commit frame whose checksums hold, so once our fdatasync returns the
 * commit is on disk, and a commit not yet synced can only be lost together with every later one
 * (never a hole, never corruption). NORMAL itself still syncs the WAL before each checkpoint, the
 * database after it and the WAL header when the file is reused, so nothing else changes.
 */
export class WalSync {
  private fd: number | null = null;
  /** The sync that has not started yet: every commit made until it starts is covered by it. */
  private next: Promise<void> | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly walFile: string;
  private readonly memory: boolean;

  constructor(
    db: Db,
    /** The fsync itself (tests count calls). */
    private readonly datasync: (fd: number) => Promise<void> = datasyncFd,
  ) {
    this.memory = db.memory;
    // Resolved now, as SQLite did when it opened the file: a later chdir must not move it.
    this.walFile = `${path.resolve(db.name)}-wal`;
  }

  /** Resolves once everything this connection committed so far is on disk. */
  sync(): Promise<void> {
    if (this.closed || this.memory) return Promise.resolve();
    if (this.next) return this.next;
    const next = this.inFlight.then(() => {
      // From here on, a new commit needs a later sync: this one may already be past it.
      this.next = null;
      return this.fdatasync();
    });
    this.next = next;
    // Errors reach the callers of this round; the chain itself carries on.
    this.inFlight = next.catch(() => undefined);
    return next;
  }

  /** Waits for the syncs under way, then releases the file handle (before the connection closes). */
  async close(): Promise<void> {
    const pending = this.next ?? this.inFlight;
    await pending.catch(() => undefined);
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private fdatasync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    // The -wal file exists from the first commit until the last connection closes (it is truncated
    // or reused, never replaced, while a connection is open), so one handle serves for the lifetime.
    this.fd ??= openSync(this.walFile, "r");
    return this.datasync(this.fd);
  }
}

function datasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
