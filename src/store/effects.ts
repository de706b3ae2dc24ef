import type { Db, Migration } from "./db.js";
import { migrate } from "./db.js";

/**
 * What a job created on GitHub, recorded as it creates it: the one record that lets a retried job
 * take over its own check run instead of opening a second (issue 22), lets the intake's first signal
 * be the worker's to finish (issue 23), and lets a write whose reply was lost be looked for before it
 * is repeated (issue 16).
 *
 * A write is recorded twice: `intend` before the request (with what identifies its effect on GitHub)
 * and `created` after it. A row left `intended` means "the request may have reached GitHub": whoever
 * comes next looks for the effect before writing again.
 */
export type EffectKind =
  /** The job's check run; key: the check run's name. */
  | "check_run"
  /** 👀 on the command's comment; key: the reaction's content. */
  | "reaction"
  /** The answer (or refusal, or failure report) to a command; key: "". */
  | "reply"
  /** The PR review; key: the reviewed head SHA. `detail` keeps the composed review until it is posted. */
  | "review"
  /** A pushed fix branch; key: the branch name, githubId: the pushed commit. */
  | "fix_branch"
  /** The fix-up pull request; key: its head branch. */
  | "fix_pr";

export type EffectState =
  /** The request was (or is about to be) sent; its effect on GitHub is unknown. */
  | "intended"
  /** GitHub has it; githubId says which. */
  | "created"
  /** Finished on GitHub (a completed check run). */
  | "completed"
  /** GitHub refused it for good; `detail` keeps what was to be written, to post later. */
  | "failed";

export interface Effect {
  jobId: string;
  kind: EffectKind;
  key: string;
  state: EffectState;
  githubId: string | null;
  url: string | null;
  detail: unknown;
  updatedAt: number;
}

/** A check run some job created and nothing completed: what the start-up sweep looks at. */
export interface OpenCheckRun {
  jobId: string;
  name: string;
  checkRunId: number;
  installationId: number;
  repo: string;
  prNumber: number;
  headSha: string | null;
  runStatus: string;
}

export const EFFECT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE github_effects (
        job_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('intended', 'created', 'completed', 'failed')),
        github_id TEXT,
        url TEXT,
        detail TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, kind, key)
      );
      CREATE INDEX github_effects_open ON github_effects (kind, state) WHERE state IN ('intended', 'created');
    `,
  },
];

interface EffectRow {
  job_id: string;
  kind: EffectKind;
  key: string;
  state: EffectState;
  github_id: string | null;
  url: string | null;
  detail: string | null;
  updated_at: number;
}

/** Kept in the run store's SQLite file (RunStore.effects); every call is one short statement. */
export class EffectLedger {
  private readonly sql;

  constructor(db: Db) {
    migrate(db, "effects", EFFECT_MIGRATIONS);
    this.sql = {
      // An intent never downgrades what is already known to exist.
      intend: db.prepare(`INSERT INTO github_effects (job_id, kind, key, state, detail, updated_at)
        VALUES (@jobId, @kind, @key, 'intended', @detail, @now)
        ON CONFLICT (job_id, kind, key) DO UPDATE SET
          state = CASE WHEN state IN ('created', 'completed') THEN state ELSE 'intended' END,
          detail = COALESCE(excluded.detail, detail), updated_at = @now`),
      upsert: db.prepare(`INSERT INTO github_effects (job_id, kind, key, state, github_id, url, detail, updated_at)
        VALUES (@jobId, @kind, @key, @state, @githubId, @url, @detail, @now)
        ON CONFLICT (job_id, kind, key) DO UPDATE SET state = @state, github_id = COALESCE(@githubId, github_id),
          url = COALESCE(@url, url), detail = CASE WHEN @keepDetail = 1 THEN COALESCE(@detail, detail) ELSE @detail END,
          updated_at = @now`),
      get: db.prepare("SELECT * FROM github_effects WHERE job_id = ? AND kind = ? AND key = ?"),
      forJob: db.prepare("SELECT * FROM github_effects WHERE job_id = ? ORDER BY updated_at, kind, key"),
      openCheckRuns: db.prepare(`SELECT e.job_id, e.key, e.github_id, r.installation_id, r.repo, r.pr_number, r.head_sha, r.status
        FROM github_effects e JOIN runs r ON r.job_id = e.job_id
        WHERE e.kind = 'check_run' AND e.state = 'created' AND e.github_id IS NOT NULL`),
      // The newest review composed for this head that GitHub refused, to post without running the agent again.
      keptReview: db.prepare(`SELECT e.* FROM github_effects e JOIN runs r ON r.job_id = e.job_id
        WHERE e.kind = 'review' AND e.state = 'failed' AND e.key = @head AND r.repo = @repo AND r.pr_number = @pr AND r.mode = @mode
        ORDER BY e.updated_at DESC LIMIT 1`),
      deleteForJob: db.prepare("DELETE FROM github_effects WHERE job_id = ?"),
      handOver: db.prepare("UPDATE OR REPLACE github_effects SET job_id = @to, updated_at = @now WHERE job_id = @from AND kind = @kind"),
    };
  }

  intend(jobId: string, kind: EffectKind, key: string, detail?: unknown): void {
    this.sql.intend.run({ jobId, kind, key, detail: detail === undefined ? null : JSON.stringify(detail), now: Date.now() });
  }

  created(jobId: string, kind: EffectKind, key: string, found: { githubId: string | number; url?: string | null }): void {
    this.write(jobId, kind, key, "created", found.githubId, found.url ?? null, undefined);
  }

  completed(jobId: string, kind: EffectKind, key: string, githubId?: string | number): void {
    this.write(jobId, kind, key, "completed", githubId ?? null, null, undefined);
  }

  /** GitHub refused the write for good; `detail` (e.g. the composed review) is kept to post later. */
  failed(jobId: string, kind: EffectKind, key: string, detail: unknown): void {
    this.write(jobId, kind, key, "failed", null, null, detail, false);
  }

  get(jobId: string, kind: EffectKind, key: string): Effect | null {
    const row = this.sql.get.get(jobId, kind, key) as EffectRow | undefined;
    return row ? toEffect(row) : null;
  }

  forJob(jobId: string): Effect[] {
    return (this.sql.forJob.all(jobId) as EffectRow[]).map(toEffect);
  }

  /** Check runs created and not completed, with their job's run: the start-up sweep's input. */
  openCheckRuns(): OpenCheckRun[] {
    return (
      this.sql.openCheckRuns.all() as {
        job_id: string;
        key: string;
        github_id: string;
        installation_id: number;
        repo: string;
        pr_number: number;
        head_sha: string | null;
        status: string;
      }[]
    ).map((r) => ({
      jobId: r.job_id,
      name: r.key,
      checkRunId: Number(r.github_id),
      installationId: r.installation_id,
      repo: r.repo,
      prNumber: r.pr_number,
      headSha: r.head_sha,
      runStatus: r.status,
    }));
  }

  keptReview(query: { repo: string; prNumber: number; headSha: string; mode: string }): Effect | null {
    const row = this.sql.keptReview.get({ repo: query.repo, pr: query.prNumber, head: query.headSha, mode: query.mode }) as
      | EffectRow
      | undefined;
    return row ? toEffect(row) : null;
  }

  /** The job carrying on `from`'s work (jobs/defer.ts) owns what `from` created of this kind from now on. */
  handOver(from: string, to: string, kind: EffectKind): void {
    this.sql.handOver.run({ from, to, kind, now: Date.now() });
  }

  forget(jobId: string): void {
    this.sql.deleteForJob.run(jobId);
  }

  private write(
    jobId: string,
    kind: EffectKind,
    key: string,
    state: EffectState,
    githubId: string | number | null,
    url: string | null,
    detail: unknown,
    keepDetail = true,
  ): void {
    this.sql.upsert.run({
      jobId,
      kind,
      key,
      state,
      githubId: githubId === null ? null : String(githubId),
      url,
      detail: detail === undefined ? null : JSON.stringify(detail),
      keepDetail: keepDetail ? 1 : 0,
      now: Date.now(),
    });
  }
}

function toEffect(row: EffectRow): Effect {
  return {
    jobId: row.job_id,
    kind: row.kind,
    key: row.key,
    state: row.state,
    githubId: row.github_id,
    url: row.url,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown),
    updatedAt: row.updated_at,
  };
}
