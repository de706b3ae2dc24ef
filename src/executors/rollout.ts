import { constants } from "node:fs";
import { open, readdir } from "node:fs/promises";
import path from "node:path";
import type { Usage } from "../types.js";
import { readCodexUsage } from "./codex-events.js";
import { isRecord } from "./stream.js";
import { sumUsage } from "./usage.js";

/**
 * Live token usage of a codex run, read from its session rollout. `codex exec --json` (0.169.0)
 * reports usage only in `turn.completed`, at the very end, so neither a token ceiling nor the usage
 * of a run that fails half-way can come from stdout. The rollout
 * ($CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<thread>.jsonl) gets an `event_msg` line of type
 * `token_count` with the thread's cumulative `info.total_token_usage` after every model response
 * (once that response's tool calls have finished). This polls the per-run CODEX_HOME for those lines.
 *
 * The rollout is an internal, unversioned format: anything unexpected is skipped, never fatal.
 * Each line is one JSON object codex serialised, so text the model or a tool printed (repository
 * content) sits inside a string and cannot pose as a line of its own.
 */

/** A token_count line is about 1 KB; a longer line (a tool output, the prompt) is never one and is skipped unread. */
const MAX_LINE_BYTES = 64 * 1024;
/** Bytes read from one file per poll, so one poll stays short however fast codex writes. */
const MAX_READ_PER_POLL = 4 * 1024 * 1024;
const ROLLOUT_FILE = /^rollout-.*\.jsonl$/;
/** sessions/YYYY/MM/DD/ */
const SESSION_DEPTH = 3;
const DEFAULT_INTERVAL_MS = 200;

/** The cumulative usage of one `token_count` rollout line, or null for any other line. */
export function readTokenCountLine(line: string): Usage | null {
  // Cheap filter first: most lines are large response items.
  if (!line.includes('"token_count"')) return null;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(event) || event.type !== "event_msg" || !isRecord(event.payload)) return null;
  const { payload } = event;
  // `info` is null on the token_count codex sends for rate-limit snapshots alone.
  if (payload.type !== "token_count" || !isRecord(payload.info) || !isRecord(payload.info.total_token_usage)) return null;
  return readCodexUsage(payload.info.total_token_usage);
}

/** Incremental reader of one rollout file: whole lines only, long lines skipped. */
class RolloutFile {
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  /** Inside a line longer than MAX_LINE_BYTES: drop bytes until its newline. */
  private skipping = false;
  /** The thread's latest cumulative usage. */
  total: Usage | null = null;

  constructor(readonly file: string) {}

  /** Reads what was appended since the last call, up to `limit` bytes; true when the total changed. */
  async poll(limit: number): Promise<boolean> {
    let handle;
    try {
      // O_NOFOLLOW: under AGENT_USER the home belongs to the agent, and we read as the app's user.
      // O_NONBLOCK: a FIFO planted in its place must not hang the poll.
      handle = await open(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return false;
    }
    let changed = false;
    try {
      if (!(await handle.stat()).isFile()) return false;
      const buffer = Buffer.alloc(64 * 1024);
      let readThisPoll = 0;
      while (readThisPoll < limit) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        readThisPoll += bytesRead;
        if (this.take(buffer.subarray(0, bytesRead))) changed = true;
      }
    } finally {
      await handle.close();
    }
    return changed;
  }

  private take(chunk: Buffer): boolean {
    let changed = false;
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.skipping) {
        this.skipping = false;
        this.partial = Buffer.alloc(0);
        continue;
      }
      const line = this.partial.length > 0 ? Buffer.concat([this.partial, piece]) : piece;
      this.partial = Buffer.alloc(0);
      if (line.length > MAX_LINE_BYTES) continue;
      const usage = readTokenCountLine(line.toString("utf8"));
      if (usage !== null) {
        this.total = usage;
        changed = true;
      }
    }
    if (!this.skipping && start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.partial.length + rest.length > MAX_LINE_BYTES) {
        this.skipping = true;
        this.partial = Buffer.alloc(0);
      } else {
        this.partial = Buffer.concat([this.partial, rest]);
      }
    }
    return changed;
  }
}

export interface RolloutUsageOptions {
  /** How often the sessions directory is read. Default 200 ms. */
  intervalMs?: number;
  /** Called with the run's total whenever it grew. */
  onUsage?: (total: Usage) => void;
}

/**
 * Polls `<codexHome>/sessions` while a run goes. Every thread (the main one and any sub-thread,
 * each in its own rollout file) keeps its own cumulative total; the run's usage is their sum.
 */
export class RolloutUsage {
  private readonly files = new Map<string, RolloutFile>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly sessionsDir: string,
    private readonly options: RolloutUsageOptions = {},
  ) {}

  /** Usage so far; null until a token_count line was seen. */
  get usage(): Usage | null {
    const totals = [...this.files.values()].map((f) => f.total).filter((t): t is Usage => t !== null);
    return totals.length === 0 ? null : sumUsage(totals);
  }

  start(): void {
    if (this.timer !== null || this.stopped) return;
    const tick = (): void => {
      this.polling = this.poll().finally(() => {
        this.polling = null;
        if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs ?? DEFAULT_INTERVAL_MS);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops polling after one last read, so lines written just before the process ended count too. */
  async stop(): Promise<Usage | null> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    await this.poll(Number.POSITIVE_INFINITY);
    return this.usage;
  }

  /** One pass over the sessions directory, reading at most `limit` new bytes per file. Never throws. */
  async poll(limit = MAX_READ_PER_POLL): Promise<void> {
    let changed = false;
    for (const file of await rolloutFiles(this.sessionsDir)) {
      let reader = this.files.get(file);
      if (!reader) {
        reader = new RolloutFile(file);
        this.files.set(file, reader);
      }
      if (await reader.poll(limit)) changed = true;
    }
    const usage = this.usage;
    if (!changed || usage === null) return;
    try {
      this.options.onUsage?.(usage);
    } catch {
      // A failing listener must not stop the polling that a ceiling depends on.
    }
  }
}

/** rollout-*.jsonl files under sessions/YYYY/MM/DD, without following links. */
async function rolloutFiles(dir: string, depth = 0): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (depth < SESSION_DEPTH && entry.isDirectory()) found.push(...(await rolloutFiles(full, depth + 1)));
    else if (depth === SESSION_DEPTH && entry.isFile() && ROLLOUT_FILE.test(entry.name)) found.push(full);
  }
  return found.sort();
}
