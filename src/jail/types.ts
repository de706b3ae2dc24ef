import type { RunAs } from "../security/agent-user.js";
import type { ExecOptions, ExecResult } from "../util/exec.js";
import type { JailSettings } from "./settings.js";

/** One process to start in a jail: what it runs and which of the host's paths it gets. */
export interface JailedRun extends Omit<ExecOptions, "uid" | "gid" | "extraFds" | "cwd"> {
  file: string;
  args: readonly string[];
  /** The run's checkout; the working directory unless `cwd` says otherwise. */
  worktree: string;
  /** fix/tests and their verification edit the worktree; review/audit/ask only read it. */
  writable: boolean;
  /** The run's own home (CODEX_HOME, claude's HOME): writable, deleted by the caller afterwards. */
  home: string;
  /** Where per-run homes live (inside the data directory); the jail's scratch files go there too. */
  homesRoot: string;
  /** Agents reach their model API; test commands get no network at all. */
  network: boolean;
  /** AGENT_USER: run as this unprivileged user as well (an extra layer). */
  runAs: RunAs | null;
  cwd?: string;
}

export class JailError extends Error {
  override readonly name = "JailError";
}

/** What the probe needs of a jail: its settings and a way to run one without probing first. */
export interface Jailer {
  readonly settings: JailSettings;
  runJailed(req: JailedRun): Promise<ExecResult>;
}

