/**
 * Domain types shared by every layer. Plain data only: no behaviour, no I/O, so the pure core
 * (review/, commands/, config/) and the adapters can agree on shapes without importing each other.
 */

/** Work the bot can be asked to do. `fix` and `tests` produce diffs; the others only read. */
export type Mode = "review" | "audit" | "ask" | "fix" | "tests";

/** P0 (drop everything) … P3 (nice to have), as in the Codex review rubric. */
export type Priority = 0 | 1 | 2 | 3;

/** One problem reported by an agent, already validated and normalised to repository-relative paths. */
export interface Finding {
  /** Short imperative title, without the "[Pn]" tag. */
  title: string;
  /** Markdown explanation. Untrusted agent output: sanitise before posting. */
  body: string;
  priority: Priority;
  /** 0..1 */
  confidence: number;
  /** Repository-relative POSIX path (never absolute, never containing ".."). */
  path: string;
  /** 1-based inclusive line range on the head (new) side of the file. */
  startLine: number;
  endLine: number;
  /** Verbatim code from the head-side lines the finding is about; used to relocate and fingerprint. */
  anchor: string;
  /** Replacement text for startLine..endLine (no trailing newline), or null when none is offered. */
  suggestion: string | null;
}

export type Verdict = "patch is correct" | "patch is incorrect";

/** What a review/audit run concluded. */
export interface ReviewOutcome {
  findings: Finding[];
  verdict: Verdict;
  explanation: string;
  /** 0..1 */
  confidence: number;
  /**
   * Ids of the earlier open findings (listed in an incremental review's prompt) that the agent says
   * the new commits fixed. Absent when it reported none.
   */
  fixed?: string[];
}

/** Token usage of one agent run, summed over its turn. */
export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

/** A shell command the agent ran, as reported by its event stream. */
export interface CommandRun {
  command: string;
  exitCode: number | null;
  status: "in_progress" | "completed" | "failed" | "declined";
}

/** Live progress distilled from the agent's events, for the in-progress check run. */
export interface Progress {
  /** The agent's plan (todo list), in order. */
  plan: { text: string; completed: boolean }[];
  /** The command running right now, if any. */
  currentCommand: string | null;
  /** Commands finished so far. */
  commandsCompleted: number;
  /** Last short status line (reasoning summary or message), if any. */
  lastNote: string | null;
  /**
   * Trouble the agent is working around that a person should see at once, e.g. "codex cannot reach
   * the model API at api.openai.com (…): retrying 1/5". Front doors print it as its own line.
   */
  notice?: string | null;
}

/** Parsed unified diff of one file between the PR's merge base and head. */
export interface DiffFile {
  /** Head-side path (for deletions: the old path). */
  path: string;
  /** Base-side path when it differs (renames, copies), otherwise null. */
  oldPath: string | null;
  status: "added" | "deleted" | "modified" | "renamed" | "copied";
  binary: boolean;
  hunks: Hunk[];
}

export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Text after the second "@@" (function context), may be empty. */
  header: string;
  lines: DiffLine[];
}

export interface DiffLine {
  kind: "add" | "del" | "context";
  /** Line number on the base side (null for additions). */
  oldLine: number | null;
  /** Line number on the head side (null for deletions). */
  newLine: number | null;
  /** Line content without the leading "+", "-" or " ". */
  text: string;
}

/** A finding placed on lines GitHub accepts for a review comment (RIGHT side, within one hunk). */
export interface InlinePlacement {
  finding: Finding;
  path: string;
  /** Last line of the range (GitHub's `line`). */
  line: number;
  /** First line, only when the range spans several lines (GitHub rejects start_line == line). */
  startLine: number | null;
  /** Whether the finding's suggestion still lines up exactly with the placed range. */
  suggestionApplies: boolean;
  /** True when the range was moved or narrowed from what the agent reported. */
  adjusted: boolean;
}

/** A finding that cannot sit on the diff, with the reason shown to users. */
export interface OutsidePlacement {
  finding: Finding;
  reason:
    | "file-not-in-diff"
    | "lines-not-in-diff"
    | "file-deleted"
    | "binary-file"
    | "over-inline-limit"
    /** GitHub answered 422 to the review with inline comments, so they moved to the body. */
    | "rejected-inline";
}

export interface PlacementResult {
  inline: InlinePlacement[];
  outside: OutsidePlacement[];
}

/** Identifies the pull request a job is about. */
export interface PullRef {
  owner: string;
  repo: string;
  number: number;
}

/** What caused a job, for messages and logs. */
export type Trigger =
  | { kind: "event"; event: string; action: string; sender: string }
  | {
      kind: "command";
      commentId: number;
      commentUrl: string;
      sender: string;
      executor: "codex" | "claude";
      /** Set when the word after the handle was not a known command (the job answers with help). */
      unknownWord?: string;
      /**
       * Set when the command is a reply in a review thread (`@codex fix` under a finding): then
       * `commentId` is a review comment, and `parentId` the thread's first comment.
       */
      reviewThread?: { parentId: number };
    }
  | {
      /**
       * Work dispatched by an operator tool holding the app's private key (the MCP server's
       * `review_pr` / `fix_pr`), not by anything on GitHub: no comment to react to or answer under.
       */
      kind: "dispatch";
      via: "mcp";
      /** Who asked, as the dispatcher says (MCP_REQUESTED_BY): a label for the record, never @-mentioned. */
      requestedBy: string;
      /** The agent asked for; absent = the repository's routing, like an automatic review. */
      executor?: "codex" | "claude";
    }
  | {
      /**
       * A button on the bot's completed review check run (GitHub check-run actions,
       * `check_run.requested_action`): "Fix findings" or "Re-review". No comment to react to; the
       * answer goes to the PR conversation, mentioning who clicked.
       */
      kind: "button";
      action: "fix" | "rereview";
      sender: string;
      checkRunId: number;
      checkRunUrl: string;
    };

/** What a job does: one of the agent modes, or answering with the help text. */
export type JobKind = Mode | "help";

/** The PR as the webhook described it. Comment payloads don't carry it: the worker fetches it then. */
export interface PullSnapshot {
  headSha: string;
  headRef: string;
  baseSha: string;
  baseRef: string;
  /** True when the PR head lives in a fork. */
  fromFork: boolean;
  isDraft: boolean;
  author: string;
  title: string;
  body: string;
}

/** The repository the PR targets (the base repository). */
export interface RepoSnapshot {
  owner: string;
  name: string;
  defaultBranch: string;
  /** Clone URL of the base repository; on Enterprise Server it points at that host. */
  cloneUrl: string;
  htmlUrl: string;
}

/**
 * A queued unit of work. Plain, serialisable data: it must survive a durable queue, so no
 * functions, clients or tokens (tokens are minted when the job runs).
 */
export interface Job {
  id: string;
  /** X-GitHub-Delivery of the webhook that created it (redeliveries repeat it). */
  deliveryId: string;
  installationId: number;
  repo: RepoSnapshot;
  prNumber: number;
  mode: JobKind;
  trigger: Trigger;
  /** Free text for `ask` (the question) and `fix` (the instruction). */
  instruction: string | null;
  pull: PullSnapshot | null;
  enqueuedAt: number;
  /**
   * What the webhook handler decided from the repository's policy (src/handlers/policy.ts).
   * `readOnly`: a fork's or first-time contributor's PR, so no automatic fix may follow the review.
   * `allowedBot`: the command came from a bot listed in `commands.allow_bots`. Absent = neither.
   */
  policy?: { readOnly?: true; allowedBot?: true };
  /** Not started before this time (ms since the epoch): a failed agent's retry waits a while. */
  notBefore?: number;
  /**
   * Set on the later run of agents that failed in a multi-agent review (`fallback.retry`): only these
   * run, and the job it retries is named so the run can say so.
   */
  retry?: {
    of: string;
    executors: ("codex" | "claude")[];
    reason: string;
    /** What the first run reported, so the retry can tell agreement from news (most severe first, capped). */
    earlier: Finding[];
  };
  /**
   * Set on a job put back on the queue because GitHub could not be used (rate limited, or down past
   * the client's retry budget: jobs/defer.ts). It carries on the work of job `of` (the first job of
   * the chain), taking over its check run.
   */
  resume?: {
    of: string;
    checkRunId: number | null;
    /** How many times the work has been put back so far. */
    deferrals: number;
    reason: string;
  };
}
