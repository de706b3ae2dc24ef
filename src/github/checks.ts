import type { Octokit, RepoCoords } from "./client.js";
import type { WriteOptions } from "./policy.js";

export type Annotation = {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure" | "warning" | "notice";
  title: string;
  message: string;
};

/**
 * The buttons of a completed review check run (GitHub check-run actions; label ≤ 20 characters,
 * description ≤ 40, identifier ≤ 20). handlers/check-run-action.ts answers the clicks.
 */
export const CHECK_RUN_ACTIONS = [
  { label: "Fix findings", description: "Open a fix-up PR for the open findings", identifier: "fix" },
  { label: "Re-review", description: "Review the whole pull request again", identifier: "rereview" },
] as const;

export type CheckRunAction = (typeof CHECK_RUN_ACTIONS)[number];

export type Conclusion = "success" | "neutral" | "failure" | "cancelled" | "timed_out" | "action_required";

const ANNOTATIONS_PER_REQUEST = 50;
const OUTPUT_LIMIT = 65_535;

function cap(text: string): string {
  return text.length <= OUTPUT_LIMIT ? text : `${text.slice(0, OUTPUT_LIMIT - 20)}\n\n… (truncated)`;
}

/** One check run on the PR head, from "in progress" to its conclusion. */
export class CheckRun {
  private completedHook: (() => void) | null = null;

  private constructor(
    private readonly octokit: Octokit,
    private readonly coords: RepoCoords,
    readonly id: number,
    readonly url: string,
  ) {}

  /**
   * `externalId` is the job's id: a retry of the job after a crash finds the check run by it
   * (`find`) when the run store did not get to record the id.
   */
  static async start(
    octokit: Octokit,
    coords: RepoCoords,
    input: { name: string; headSha: string; title: string; summary: string; externalId?: string },
  ): Promise<CheckRun> {
    const { data } = await octokit.rest.checks.create({
      ...coords,
      name: input.name,
      head_sha: input.headSha,
      ...(input.externalId !== undefined ? { external_id: input.externalId } : {}),
      status: "in_progress",
      started_at: new Date().toISOString(),
      output: { title: input.title, summary: cap(input.summary) },
      request: { lookup: checkRunLookup(octokit, coords, input.name, input.headSha, (c) => input.externalId !== undefined && c.external_id === input.externalId) },
    });
    return new CheckRun(octokit, coords, data.id, data.html_url ?? "");
  }

  /**
   * A check run waiting for a worker (`queued`), created when the job is accepted: the pull request
   * shows the bot has it at once. The worker turns it `in_progress` with begin().
   */
  static async queue(
    octokit: Octokit,
    coords: RepoCoords,
    input: { name: string; headSha: string; title: string; summary: string; externalId: string },
  ): Promise<CheckRun> {
    const { data } = await octokit.rest.checks.create({
      ...coords,
      name: input.name,
      head_sha: input.headSha,
      external_id: input.externalId,
      status: "queued",
      output: { title: input.title, summary: cap(input.summary) },
      request: { lookup: checkRunLookup(octokit, coords, input.name, input.headSha, (c) => c.external_id === input.externalId) },
    });
    return new CheckRun(octokit, coords, data.id, data.html_url ?? "");
  }

  /**
   * The check run an earlier attempt of the same job created: by its recorded id when there is one
   * (and it belongs to this job), else the newest of that name on the head whose `external_id` is the
   * job's id. Null when the job never created one (or GitHub no longer has it).
   */
  static async find(
    octokit: Octokit,
    coords: RepoCoords,
    input: { name: string; headSha: string; externalId: string; knownId: number | null },
  ): Promise<FoundCheckRun | null> {
    if (input.knownId !== null) {
      try {
        const { data } = await octokit.rest.checks.get({ ...coords, check_run_id: input.knownId });
        if (data.external_id === input.externalId || !data.external_id) return found(octokit, coords, data);
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
      }
    }
    const { data } = await octokit.rest.checks.listForRef({
      ...coords,
      ref: input.headSha,
      check_name: input.name,
      filter: "all",
      per_page: 100,
    });
    const mine = data.check_runs.filter((c) => c.external_id === input.externalId).sort((a, b) => b.id - a.id);
    // One still in progress is the one to take over; else the newest.
    const pick = mine.find((c) => c.status !== "completed") ?? mine[0];
    return pick ? found(octokit, coords, pick) : null;
  }

  /** A check run that is born completed (invalid config: nothing else runs). */
  static async conclude(
    octokit: Octokit,
    coords: RepoCoords,
    input: { name: string; headSha: string; conclusion: Conclusion; title: string; summary: string },
  ): Promise<void> {
    const since = Date.now() - 10 * 60_000;
    await octokit.rest.checks.create({
      ...coords,
      name: input.name,
      head_sha: input.headSha,
      status: "completed",
      conclusion: input.conclusion,
      completed_at: new Date().toISOString(),
      output: { title: input.title, summary: cap(input.summary) },
      request: {
        lookup: checkRunLookup(
          octokit,
          coords,
          input.name,
          input.headSha,
          (c) => c.conclusion === input.conclusion && c.output.title === input.title && Date.parse(c.started_at ?? "") >= since,
        ),
      },
    });
  }

  /** A check run known by its id (one the job recorded), to update or complete. */
  static existing(octokit: Octokit, coords: RepoCoords, id: number, url = ""): CheckRun {
    return new CheckRun(octokit, coords, id, url);
  }

  /** Called once GitHub has the completion (the job's effect ledger records it). */
  onCompleted(hook: () => void): this {
    this.completedHook = hook;
    return this;
  }

  /** A queued check run taken up by its worker: `in_progress` from now. */
  async begin(title: string, summary: string): Promise<void> {
    await this.octokit.rest.checks.update({
      ...this.coords,
      check_run_id: this.id,
      status: "in_progress",
      started_at: new Date().toISOString(),
      output: { title, summary: cap(summary) },
    });
  }

  async progress(title: string, summary: string): Promise<void> {
    await this.octokit.rest.checks.update({
      ...this.coords,
      check_run_id: this.id,
      output: { title, summary: cap(summary) },
    });
  }

  /**
   * GitHub takes 50 annotations per request and appends on each update, so the first batch goes
   * with the completion and the rest follow as updates carrying the same output.
   */
  async complete(input: { conclusion: Conclusion; title: string; summary: string; annotations?: Annotation[]; actions?: readonly CheckRunAction[] }): Promise<void> {
    const annotations = input.annotations ?? [];
    const output = { title: input.title, summary: cap(input.summary) };
    await this.octokit.rest.checks.update({
      ...this.coords,
      check_run_id: this.id,
      status: "completed",
      conclusion: input.conclusion,
      completed_at: new Date().toISOString(),
      output: { ...output, annotations: annotations.slice(0, ANNOTATIONS_PER_REQUEST) },
      ...(input.actions && input.actions.length > 0 ? { actions: input.actions.map((a) => ({ ...a })) } : {}),
    });
    this.completedHook?.();
    for (let i = ANNOTATIONS_PER_REQUEST; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) {
      await this.octokit.rest.checks.update({
        ...this.coords,
        check_run_id: this.id,
        output: { ...output, annotations: annotations.slice(i, i + ANNOTATIONS_PER_REQUEST) },
      });
    }
  }
}

type ListedCheckRun = Awaited<ReturnType<Octokit["rest"]["checks"]["listForRef"]>>["data"]["check_runs"][number];

/** For policy.ts: the check run a failed create may have made, found on the head by name and `mine`. */
function checkRunLookup(
  octokit: Octokit,
  coords: RepoCoords,
  name: string,
  headSha: string,
  mine: (c: ListedCheckRun) => boolean,
): WriteOptions["lookup"] {
  return async () => {
    const { data } = await octokit.rest.checks.listForRef({ ...coords, ref: headSha, check_name: name, filter: "all", per_page: 100 });
    return data.check_runs.filter(mine).sort((a, b) => b.id - a.id)[0] ?? null;
  };
}

export interface FoundCheckRun {
  check: CheckRun;
  status: string;
  conclusion: string | null;
  /** The commit it is on (a queued check run of a command may be on a head the pull request left since). */
  headSha: string;
}

function found(
  octokit: Octokit,
  coords: RepoCoords,
  data: { id: number; html_url: string | null; status: string; conclusion: string | null; head_sha: string },
): FoundCheckRun {
  return {
    check: CheckRun.existing(octokit, coords, data.id, data.html_url ?? ""),
    status: data.status,
    conclusion: data.conclusion,
    headSha: data.head_sha,
  };
}
