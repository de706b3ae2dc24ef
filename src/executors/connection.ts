import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * Codex's own connection trouble, read from its JSONL `error` events. codex 0.169.0 retries a model
 * API it cannot reach on its own and says so only as non-fatal events: "Reconnecting... 2/5 (…)",
 * "stream error: …; retrying 1/5 in 200ms…", and, for a refused connection, "Reconnecting... waiting
 * for network (Connection failed: …)" which it repeats for as long as the run may last (20 min by
 * default). This turns the first one into a line a person sees at once and, after `maxRetries` of
 * them, gives up with the cause instead of waiting out the timeout.
 */

/** How many of codex's retries a run sits through before it is stopped, unless configured. */
export const DEFAULT_CONNECT_RETRIES = 5;

const RETRY_EVENT = /^(?:Reconnecting\.\.\.|stream (?:error|disconnected)\b[^]*\bretrying\b)/i;
/** Causes that mean "no route to the API" rather than "the API answered with an error". */
const UNREACHABLE = /waiting for network|connection (?:failed|refused|reset|closed)|error sending request|dns|resolve|timed? ?out|unreachable|tls|certificate|proxy/i;

export interface RetryEvent {
  /** The cause codex gave (the part in parentheses, or the message itself). */
  cause: string;
  /** True when the cause is about reaching the API at all (refused, DNS, TLS, proxy, timeout). */
  unreachable: boolean;
}

/** A retry announced by codex, or null when the message is some other error. */
export function readRetryEvent(message: string): RetryEvent | null {
  const text = message.trim();
  if (!RETRY_EVENT.test(text)) return null;
  const inParens = /\(([^]*)\)\s*$/.exec(text)?.[1]?.trim();
  const cause = inParens || text.replace(/^Reconnecting\.\.\.\s*/i, "").trim() || text;
  return { cause, unreachable: UNREACHABLE.test(text) };
}

export interface ConnectionOptions {
  /** Where the model API is, for messages: "api.openai.com", "127.0.0.1:8080". */
  modelApi: string;
  /** Retries to sit through before giving up (DEFAULT_CONNECT_RETRIES). */
  maxRetries?: number;
  /** Called once when the retries are used up: the executor stops the run. */
  onGiveUp?: () => void;
}

/** Counts codex's retries of one run and words what a person needs to know about them. */
export class ConnectionWatch {
  /** Set when the run should be stopped: the message it fails with. */
  gaveUp: string | null = null;
  /** Called once when the retries are used up (the executor stops the run). */
  onGiveUp: (() => void) | null;
  private retries = 0;
  private lastCause: RetryEvent | null = null;
  private readonly maxRetries: number;

  constructor(private readonly options: ConnectionOptions) {
    this.maxRetries = Math.max(0, options.maxRetries ?? DEFAULT_CONNECT_RETRIES);
    this.onGiveUp = options.onGiveUp ?? null;
  }

  /**
   * Feeds one `error` event's message. Returns the line to show now (each retry up to the limit), or
   * null when the message is not a retry; sets `gaveUp` once the retries are used up.
   */
  push(message: string): string | null {
    const retry = readRetryEvent(message);
    if (retry === null) {
      this.lastCause = null; // a different error: the connection trouble is not what the run ends on
      return null;
    }
    this.retries += 1;
    this.lastCause = retry;
    if (this.retries > this.maxRetries) {
      if (this.gaveUp === null) {
        this.gaveUp = `${this.problem(retry)}; stopped after ${retries(this.maxRetries)}. ${this.hint(retry)}`;
        this.onGiveUp?.();
      }
      return null;
    }
    return `${this.problem(retry)}: retrying ${this.retries}/${this.maxRetries}`;
  }

  /** When the run failed while codex was still retrying: the cause, named, with what to check. */
  failure(detail: string | null = null): string | null {
    if (this.gaveUp !== null) return this.gaveUp;
    const retry = this.lastCause;
    if (retry === null) return null;
    const extra = detail !== null && detail.trim() !== "" && !detail.includes(retry.cause) ? ` (${detail.trim()})` : "";
    return `${this.problem(retry)}${extra}; codex gave up after ${retries(this.retries)}. ${this.hint(retry)}`;
  }

  private problem(retry: RetryEvent): string {
    const what = retry.unreachable ? "codex cannot reach the model API" : "the model API keeps failing";
    return `${what} at ${this.options.modelApi} (${retry.cause})`;
  }

  private hint(retry: RetryEvent): string {
    return retry.unreachable
      ? "Check the network, an HTTPS proxy, and the provider's base_url in codex's config.toml."
      : "The provider may be overloaded: try again later.";
  }
}

function retries(n: number): string {
  return n === 1 ? "1 retry" : `${n} retries`;
}

/**
 * Host (and port) of the model API codex will call: the `-c` overrides first, then the template's
 * config.toml (the active `model_provider`'s base_url, or `openai_base_url`), else api.openai.com.
 * A plain reading of the few keys that matter, not a TOML parser: it only names a host in messages.
 */
export function modelApiHost(template: string | null, overrides: readonly string[] = []): string {
  const config = template !== null && existsSync(path.join(template, "config.toml")) ? safeRead(path.join(template, "config.toml")) : "";
  const lines = [...overrides, ...topLevelLines(config)];
  const provider = valueOf(lines, "model_provider");
  let url: string | null;
  if (provider === null || provider === "openai") {
    url = valueOf(lines, "openai_base_url") ?? "https://api.openai.com/v1";
  } else {
    url = valueOf(lines, `model_providers.${provider}.base_url`) ?? valueOf(sectionLines(config, `model_providers.${provider}`), "base_url");
  }
  if (url === null) return `the "${provider}" provider's base_url`;
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** Lines before the first [table] header. */
function topLevelLines(toml: string): string[] {
  const lines = toml.split("\n");
  const header = lines.findIndex((l) => /^\s*\[/.test(l));
  return header === -1 ? lines : lines.slice(0, header);
}

/** Lines of the [name] table. */
function sectionLines(toml: string, name: string): string[] {
  const out: string[] = [];
  let inside = false;
  for (const line of toml.split("\n")) {
    const header = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      inside = header[1]!.replace(/"/g, "") === name;
      continue;
    }
    if (inside) out.push(line);
  }
  return out;
}

function valueOf(lines: readonly string[], key: string): string | null {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`^\\s*${escaped}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s#]+))`);
  for (const line of lines) {
    const m = re.exec(line);
    if (m) return m[1] ?? m[2] ?? m[3] ?? null;
  }
  return null;
}
