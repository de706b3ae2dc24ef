import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { defaultCodexBin } from "../../src/settings.js";
import { deliver, pullRequestPayload, type RepoFixture } from "../../test/helpers/webhooks.js";
import { INSTALLATION_ID, startAppProcess, WEBHOOK_SECRET, type AppProcess } from "./app-process.js";
import { benchDir, sleep, waitFor, wallMs } from "./common.js";
import { GitHubStandIn, type StandInCall } from "./github-stand-in.js";
import { largeRepo, type LargeRepo } from "./large-repo.js";
import { codexConfigToml, startResponses, type ResponsesServer } from "./responses.js";

/**
 * Everything a full review needs, real except GitHub and the model: the generated large repository
 * as the origin (file://), the GitHub stand-in, the scripted Responses server, and the app in its own
 * process running the pinned codex binary through a wrapper that logs when the codex process starts
 * and ends (the most direct measure of the agent's own wall time).
 */

export interface ReviewEnvOptions {
  /** Folder under .data/bench; emptied first. */
  name: string;
  /** Extra app environment (WORKER_CONCURRENCY, CODEX_BIN, …). */
  env?: Record<string, string>;
  /** Model "thinking" time per request. Default 0: an instant model. */
  modelDelayMs?: number;
  /** Use this codex binary instead of the pinned one (still wrapped and timed). */
  codexBin?: string;
}

export interface CodexRun {
  start: number;
  end: number;
  exitCode: number;
}

export interface ReviewResult {
  pr: number;
  headSha: string;
  /** Wall-clock ms just before the webhook was sent. */
  sentAt: number;
  ackMs: number;
  /** The review POST as the stand-in received it (null when the run posted none). */
  review: StandInCall | null;
  /** Every API request the job made, from the webhook to the job's end. */
  calls: StandInCall[];
  /** When the queue recorded the job as finished. */
  doneAt: number;
  run: { queue_ms: number | null; checkout_ms: number | null; agent_ms: number | null; publish_ms: number | null; status: string; findings: number | null; events_bytes: number; events_count: number; events_dropped: number } | null;
  codex: CodexRun | null;
}

export class ReviewEnv {
  readonly owner = "octo";
  readonly name = "large";
  private db: Database.Database | null = null;

  private constructor(
    readonly repo: LargeRepo,
    readonly dataDir: string,
    readonly gh: GitHubStandIn,
    readonly mock: ResponsesServer,
    readonly app: AppProcess,
    readonly codexLog: string,
    private readonly answerRef: { text: string },
  ) {}

  static async start(options: ReviewEnvOptions): Promise<ReviewEnv> {
    const repo = await largeRepo();
    const dataDir = path.join(benchDir(), options.name);
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    const answerRef = { text: "" };
    const mock = await startResponses(() => answerRef.text, { delayMs: options.modelDelayMs ?? 0 });
    const template = path.join(dataDir, "codex-template");
    mkdirSync(template, { recursive: true });
    writeFileSync(path.join(template, "config.toml"), codexConfigToml(mock.url));
    const codexLog = path.join(dataDir, "codex-times.log");
    writeFileSync(codexLog, "");
    const wrapper = path.join(dataDir, "codex-timed.sh");
    writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `printf 'start %s %s\\n' "$$" "$(date +%s.%N)" >> '${codexLog}'`,
        `'${process.execPath}' '${options.codexBin ?? defaultCodexBin()}' "$@"`,
        "code=$?",
        `printf 'end %s %s %s\\n' "$$" "$(date +%s.%N)" "$code" >> '${codexLog}'`,
        "exit $code",
        "",
      ].join("\n"),
    );
    chmodSync(wrapper, 0o755);
    const gh = new GitHubStandIn({ config: null });
    await gh.start();
    const app = await startAppProcess({
      dataDir,
      githubUrl: gh.url,
      env: { CODEX_BIN: wrapper, CODEX_HOME_TEMPLATE: template, ...options.env },
    });
    return new ReviewEnv(repo, dataDir, gh, mock, app, codexLog, answerRef);
  }

  /** What the model answers from now on. */
  set answer(text: string) {
    this.answerRef.text = text;
  }

  get fixture(): RepoFixture {
    return { owner: this.owner, name: this.name, cloneUrl: this.repo.url };
  }

  private database(): Database.Database {
    this.db ??= new Database(path.join(this.dataDir, "codex-pr-bot.sqlite"), { readonly: true, fileMustExist: true });
    return this.db;
  }

  /** Sends the webhook; resolves when the app acknowledged it. */
  async send(action: "opened" | "synchronize", pr: number, headSha: string, baseSha = this.repo.mainSha): Promise<{ sentAt: number; ackMs: number; deliveryId: string; mark: number }> {
    const payload = pullRequestPayload(action, this.fixture, { number: pr, headSha, baseSha, headRef: `bench-pr-${pr}` }, INSTALLATION_ID);
    this.gh.setPull(this.owner, this.name, pr, { ...payload.pull_request, state: "open" });
    const mark = this.gh.calls.length;
    const sentAt = wallMs();
    const d = await deliver(this.app.url, "pull_request", payload, { secret: WEBHOOK_SECRET });
    if (d.status !== 200) throw new Error(`webhook answered ${d.status}`);
    return { sentAt, ackMs: d.ms, deliveryId: d.deliveryId, mark };
  }

  /** Waits for the job of a sent delivery to end and collects what it did. */
  async collect(sent: { sentAt: number; ackMs: number; deliveryId: string; mark: number }, pr: number, headSha: string, timeoutMs = 300_000): Promise<ReviewResult> {
    const db = this.database();
    const job = await waitFor(
      `the job of PR #${pr} to finish`,
      () => {
        const row = db.prepare("SELECT id, status, finished_at FROM queue_jobs WHERE delivery_id = ?").get(sent.deliveryId) as
          | { id: string; status: string; finished_at: number | null }
          | undefined;
        return row && row.status !== "pending" && row.status !== "running" ? row : undefined;
      },
      timeoutMs,
      20,
    );
    if (job.status !== "done") throw new Error(`job for PR #${pr} ended ${job.status}`);
    // Reviews are measured one at a time, so every request since the webhook is this job's.
    const calls = this.gh.since(sent.mark);
    const review = calls.find((c) => c.route === "POST /repos/:o/:r/pulls/:n/reviews" && c.path.endsWith(`/pulls/${pr}/reviews`)) ?? null;
    const run = db
      .prepare("SELECT queue_ms, checkout_ms, agent_ms, publish_ms, status, findings, events_bytes, events_count, events_dropped FROM runs WHERE job_id = ?")
      .get(job.id) as ReviewResult["run"] | undefined;
    const codex = this.codexRuns().filter((r) => r.start >= sent.sentAt).at(0) ?? null;
    return { pr, headSha, sentAt: sent.sentAt, ackMs: sent.ackMs, review, calls, doneAt: job.finished_at ?? 0, run: run ?? null, codex };
  }

  async review(action: "opened" | "synchronize", pr: number, headSha: string): Promise<ReviewResult> {
    const sent = await this.send(action, pr, headSha);
    return this.collect(sent, pr, headSha);
  }

  /** Codex processes the wrapper saw start and end, in wall-clock ms. */
  codexRuns(): CodexRun[] {
    const starts = new Map<string, number>();
    const runs: CodexRun[] = [];
    for (const line of readFileSync(this.codexLog, "utf8").split("\n")) {
      const [kind, pid, at, code] = line.split(" ");
      if (!pid || !at) continue;
      const ms = Number(at) * 1000;
      if (kind === "start") starts.set(pid, ms);
      else if (kind === "end" && starts.has(pid)) {
        runs.push({ start: starts.get(pid)!, end: ms, exitCode: Number(code) });
        starts.delete(pid);
      }
    }
    return runs.sort((a, b) => a.start - b.start);
  }

  /** Waits until `ms` have passed since the last review was posted (GitHub's content-creation pacing). */
  async spacing(ms: number): Promise<void> {
    const last = this.gh.calls.filter((c) => c.method !== "GET").at(-1);
    if (last) await sleep(Math.max(0, last.at + ms - wallMs()));
  }

  async close(): Promise<void> {
    this.db?.close();
    await this.app.stop();
    await this.mock.close();
    await this.gh.close();
  }
}
