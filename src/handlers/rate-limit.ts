/**
 * Per-repository limits on comment commands, so someone spamming `@codex audit` gets one run and a
 * notice instead of a run per comment (the queue only merges a request with an identical one that
 * is still pending or running, and each comment is a request of its own).
 *
 * Only commands from people allowed to run them get here: command-gate.ts checks write access first,
 * so a refused account never counts against anyone's window. Two sliding windows, both in memory:
 * - per sender and repository: at most `perSender` commands per `senderWindowMs` (default 10 an hour);
 * - per person, command (mode and text) and pull request head: at most one per `identicalWindowMs`
 *   (default 60 s). The head is the one the PR's last `pull_request` event carried (`noteHead`; no API
 *   call), or the payload's when it has one; a push therefore opens a new window at once.
 * A refused command costs nothing but, once per window and key, a short notice; further refusals in
 * the same window are only logged, so the limiter cannot itself be turned into a comment flood.
 * Commands refused for permission have a window of their own (`refusedWindowMs`, default an hour,
 * per account and repository): one polite answer, then silence.
 *
 * In memory on purpose: it is a brake on abuse, not an accounting system. Several web processes each
 * keep their own windows (documented in SECURITY.md).
 */

export interface RateLimitOptions {
  perSender: number;
  senderWindowMs: number;
  identicalWindowMs: number;
  /** How long an account refused for permission gets no second answer. */
  refusedWindowMs: number;
  /** Keys (and PR heads) remembered at most; the oldest are forgotten first. */
  maxKeys: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  perSender: 10,
  senderWindowMs: 60 * 60 * 1000,
  identicalWindowMs: 60 * 1000,
  refusedWindowMs: 60 * 60 * 1000,
  maxKeys: 10_000,
};

export interface CommandRequest {
  owner: string;
  repo: string;
  prNumber: number;
  sender: string;
  /** The command as typed, minus the handle: mode plus text, e.g. "audit" or "ask what is x?". */
  command: string;
  /** The PR head the command is about, when the payload says (review comments); else the noted one. */
  head?: string | undefined;
}

export type RateDecision =
  | { allowed: true }
  | {
      allowed: false;
      reason: "sender-limit" | "identical-command";
      /** When the caller may try again. */
      retryAfterMs: number;
      /** True for the first refusal in this window: answer it; stay quiet for the rest. */
      notify: boolean;
    };

interface Window {
  hits: number[];
  /** End of the window in which a notice was already sent. */
  noticeUntil: number;
}

export class CommandRateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly heads = new Map<string, string>();

  constructor(private readonly options: RateLimitOptions = DEFAULT_RATE_LIMITS) {}

  /** Checks both limits and, when allowed, counts the command. Refused commands are not counted. */
  check(req: CommandRequest, now = Date.now()): RateDecision {
    const repo = repoKey(req);
    const sender = req.sender.toLowerCase();
    const head = req.head ?? this.heads.get(`${repo}#${req.prNumber}`) ?? "?";
    const senderKey = `sender:${repo}:${sender}`;
    const identicalKey = `same:${repo}#${req.prNumber}@${head}:${sender}:${req.command.trim().replace(/\s+/g, " ").toLowerCase()}`;

    const identical = this.refusal(identicalKey, 1, this.options.identicalWindowMs, now);
    if (identical) return { allowed: false, reason: "identical-command", ...identical };
    const senderLimit = this.refusal(senderKey, this.options.perSender, this.options.senderWindowMs, now);
    if (senderLimit) return { allowed: false, reason: "sender-limit", ...senderLimit };

    this.hit(identicalKey, now);
    this.hit(senderKey, now);
    return { allowed: true };
  }

  /**
   * For a command refused for permission: true when this account gets its one answer in this
   * repository for `refusedWindowMs`, false (stay silent) for the rest. Touches no key of `check`.
   */
  answerRefusal(req: Pick<CommandRequest, "owner" | "repo" | "sender">, now = Date.now()): boolean {
    const key = `refused:${repoKey(req)}:${req.sender.toLowerCase()}`;
    const w = this.windows.get(key);
    if (w && now < w.noticeUntil) return false;
    this.windows.delete(key);
    this.windows.set(key, { hits: [], noticeUntil: now + this.options.refusedWindowMs });
    evictOldest(this.windows, this.options.maxKeys);
    return true;
  }

  /** The PR's head as its latest `pull_request` event gave it: keys the duplicate window from then on. */
  noteHead(owner: string, repo: string, prNumber: number, sha: string): void {
    const key = `${repoKey({ owner, repo })}#${prNumber}`;
    this.heads.delete(key);
    this.heads.set(key, sha);
    evictOldest(this.heads, this.options.maxKeys);
  }

  /** For tests. */
  clear(): void {
    this.windows.clear();
    this.heads.clear();
  }

  private refusal(key: string, limit: number, windowMs: number, now: number): { retryAfterMs: number; notify: boolean } | null {
    const w = this.windows.get(key);
    if (!w) return null;
    w.hits = w.hits.filter((t) => now - t < windowMs);
    if (w.hits.length < limit) return null;
    const retryAfterMs = w.hits[0]! + windowMs - now;
    const notify = now >= w.noticeUntil;
    if (notify) w.noticeUntil = now + retryAfterMs;
    return { retryAfterMs, notify };
  }

  private hit(key: string, now: number): void {
    const w = this.windows.get(key);
    if (w) {
      w.hits.push(now);
      // Refresh the key's place in insertion order, so eviction drops the least recently used.
      this.windows.delete(key);
      this.windows.set(key, w);
      return;
    }
    this.windows.set(key, { hits: [now], noticeUntil: 0 });
    evictOldest(this.windows, this.options.maxKeys);
  }
}

function repoKey(req: { owner: string; repo: string }): string {
  return `${req.owner}/${req.repo}`.toLowerCase();
}

function evictOldest(map: Map<string, unknown>, maxKeys: number): void {
  while (map.size > maxKeys) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}

/** The notice for a refused command: says which limit and when to try again. */
export function rateLimitNotice(sender: string, decision: Extract<RateDecision, { allowed: false }>, options: RateLimitOptions = DEFAULT_RATE_LIMITS): string {
  const wait = formatWait(decision.retryAfterMs);
  return decision.reason === "identical-command"
    ? `@${sender} you asked for the same command on this commit moments ago, so this one is ignored. Try again ${wait} if you need another run.`
    : `@${sender} you have reached the limit of ${options.perSender} commands per hour in this repository, so this one is ignored. Try again ${wait}.`;
}

function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `in ${seconds} s`;
  return `in ${Math.ceil(seconds / 60)} min`;
}
