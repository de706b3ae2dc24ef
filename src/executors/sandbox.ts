import { Cancelled } from "../errors.js";
import { openAgentAccess, type RunAs } from "../security/agent-user.js";
import { BASE_ENV_ALLOWLIST, buildEnv, run } from "../util/exec.js";
import { createCodexHome } from "./home.js";

/**
 * Runs a shell command (a fix's verification, e.g. `npm test`) under the same isolation as the
 * agent: `codex sandbox` with `sandbox_mode="workspace-write"`, i.e. bubblewrap with the worktree
 * as the only writable place (`.git` read-only), no network, and an environment built from an
 * allowlist: no GitHub token, no model API key, nothing from the app's own environment.
 * With AGENT_USER set it also runs as that unprivileged user, exactly like the agent. It still runs
 * the pull request's code on the bot's host, which is why verification is opt-in.
 */

export interface SandboxRequest {
  /** The worktree: the command's working directory and the only writable root. */
  cwd: string;
  /** Run with `sh -c`; stderr is merged into stdout. */
  command: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SandboxResult {
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** The end of the combined output. */
  output: string;
}

export interface SandboxOptions {
  /** The codex binary (the same pinned CLI the agent runs with). */
  bin: string;
  /** Where the per-run CODEX_HOME is created; never under the system temp dir. */
  homesRoot: string;
  /** Bytes of output kept (the tail). Default 64 KiB. */
  maxOutputBytes?: number;
  /** The unprivileged OS user the agent runs as (AGENT_USER), or null to run as the app's user. */
  runAs?: RunAs | null;
}

export class CodexSandbox {
  constructor(private readonly options: SandboxOptions) {}

  /** Resolves with how the command ended; rejects with Cancelled when aborted, SpawnError when codex can't start. */
  async run(req: SandboxRequest): Promise<SandboxResult> {
    if (req.signal?.aborted) throw new Cancelled("the verification was cancelled before it started");
    const home = await createCodexHome({ root: this.options.homesRoot, jobId: "verify", template: null });
    const runAs = this.options.runAs ?? null;
    let closeAccess: (() => Promise<void>) | null = null;
    try {
      // workspace-write: the command (a build, a test run) may write in the worktree, never in .git.
      if (runAs) closeAccess = await openAgentAccess(runAs, { home: home.dir, homesRoot: this.options.homesRoot, worktree: req.cwd, writable: true });
      const result = await run(
        this.options.bin,
        ["sandbox", "-c", 'sandbox_mode="workspace-write"', "--", "sh", "-c", `exec 2>&1\n${req.command}`],
        {
          cwd: req.cwd,
          env: buildEnv(BASE_ENV_ALLOWLIST, { HOME: home.dir, CODEX_HOME: home.dir, CI: "true" }),
          timeoutMs: req.timeoutMs,
          signal: req.signal,
          maxOutputBytes: this.options.maxOutputBytes ?? 64 * 1024,
          ...(runAs ? { uid: runAs.user.uid, gid: runAs.user.gid } : {}),
        },
      );
      if (result.aborted) throw new Cancelled("the verification was cancelled");
      const stderr = result.stderr.trim();
      return {
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        durationMs: result.durationMs,
        output: stderr === "" ? result.stdout : `${result.stdout}${result.stdout.endsWith("\n") || result.stdout === "" ? "" : "\n"}${stderr}`,
      };
    } finally {
      await closeAccess?.();
      await home.dispose();
    }
  }
}
