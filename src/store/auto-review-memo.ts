import type { AutoReviewSettings } from "../config/auto-review.js";
import { migrate, type Db, type Migration } from "./db.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE repo_auto_review (
        repo TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
];

/**
 * Each repository's `auto_review` settings as a worker last read them from its config file. The
 * intake has no config (reading it would put an API call before the webhook's answer), so without
 * this it would show a "queued" check run on every push to a repository whose automatic reviews are
 * off, and the worker would then complete it as skipped: two writes of noise per push. A stale entry
 * costs little: settings turned on show their first check run when a worker starts the job instead
 * of at intake; turned off, one queued check run is completed as skipped.
 */
export class AutoReviewMemo {
  private readonly sql;
  /** What this process last wrote per repository: a job whose settings did not change writes nothing. */
  private readonly written = new Map<string, string>();

  constructor(db: Db) {
    migrate(db, "auto_review_memo", MIGRATIONS);
    this.sql = {
      upsert: db.prepare(`INSERT INTO repo_auto_review (repo, settings, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (repo) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`),
      get: db.prepare("SELECT settings FROM repo_auto_review WHERE repo = ?").pluck(),
    };
  }

  /** Records the settings a worker read for `repo` ("owner/name"). */
  remember(repo: string, settings: AutoReviewSettings): void {
    const text = JSON.stringify(settings);
    if (this.written.get(repo) === text) return;
    this.sql.upsert.run(repo, text, Date.now());
    this.written.set(repo, text);
  }

  /** The settings last recorded for `repo`, or null when no worker has read them yet. */
  recall(repo: string): AutoReviewSettings | null {
    const text = this.sql.get.get(repo) as string | undefined;
    return text === undefined ? null : (JSON.parse(text) as AutoReviewSettings);
  }
}
