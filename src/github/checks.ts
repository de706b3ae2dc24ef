import type { Octokit, RepoCoords } from "./client.js";

export type Annotation = {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure" | "warning" | "notice";
  title: string;
  message: string;
};

export type Conclusion = "success" | "neutral" | "failure" | "cancelled" | "timed_out" | "action_required";

const ANNOTATIONS_PER_REQUEST = 50;
const OUTPUT_LIMIT = 65_535;

function cap(text: string): string {
  return text.length <= OUTPUT_LIMIT ? text : `${text.slice(0, OUTPUT_LIMIT - 20)}\n\n… (truncated)`;
}

/** One check run on the PR head, from "in progress" to its conclusion. */
export class CheckRun {
  private constructor(
    private readonly octokit: Octokit,
    private readonly coords: RepoCoords,
    readonly id: number,
    readonly url: string,
  ) {}

  static async start(
    octokit: Octokit,
    coords: RepoCoords,
    input: { name: string; headSha: string; title: string; summary: string },
  ): Promise<CheckRun> {
    const { data } = await octokit.rest.checks.create({
      ...coords,
      name: input.name,
      head_sha: input.headSha,
      status: "in_progress",
      started_at: new Date().toISOString(),
      output: { title: input.title, summary: cap(input.summary) },
    });
    return new CheckRun(octokit, coords, data.id, data.html_url ?? "");
  }

  /** A check run that is born completed (invalid config: nothing else runs). */
  static async conclude(
    octokit: Octokit,
    coords: RepoCoords,
    input: { name: string; headSha: string; conclusion: Conclusion; title: string; summary: string },
  ): Promise<void> {
    await octokit.rest.checks.create({
      ...coords,
      name: input.name,
      head_sha: input.headSha,
      status: "completed",
      conclusion: input.conclusion,
      completed_at: new Date().toISOString(),
      output: { title: input.title, summary: cap(input.summary) },
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
  async complete(input: { conclusion: Conclusion; title: string; summary: string; annotations?: Annotation[] }): Promise<void> {
    const annotations = input.annotations ?? [];
    const output = { title: input.title, summary: cap(input.summary) };
    await this.octokit.rest.checks.update({
      ...this.coords,
      check_run_id: this.id,
      status: "completed",
      conclusion: input.conclusion,
      completed_at: new Date().toISOString(),
      output: { ...output, annotations: annotations.slice(0, ANNOTATIONS_PER_REQUEST) },
    });
    for (let i = ANNOTATIONS_PER_REQUEST; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) {
      await this.octokit.rest.checks.update({
        ...this.coords,
        check_run_id: this.id,
        output: { ...output, annotations: annotations.slice(i, i + ANNOTATIONS_PER_REQUEST) },
      });
    }
  }
}
