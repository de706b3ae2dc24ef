import type { Logger } from "pino";
import type { RepoConfig } from "../config/schema.js";
import type { Octokit, RepoCoords } from "../github/client.js";
import type { Job, PullSnapshot } from "../types.js";
import type { PipelineDeps } from "./deps.js";
import type { JobRunTracker } from "./run-tracker.js";

/** Per-job state passed between pipeline steps. */
export interface JobContext {
  job: Job;
  deps: PipelineDeps;
  log: Logger;
  octokit: Octokit;
  token: () => Promise<string>;
  coords: RepoCoords;
  signal: AbortSignal;
  pull: PullSnapshot;
  config: RepoConfig;
  configSource: string;
  /** Values that must never appear in anything posted (tokens, keys). Grows as tokens are minted. */
  secrets: string[];
  /** The run's entry in the history: phases, links, events and result. */
  run: JobRunTracker;
}
