import { Cancelled } from "../errors.js";
import { defaultJail } from "../jail/default.js";
import type { Jail } from "../jail/jail.js";
import type { RunAs } from "../security/agent-user.js";
import { BASE_ENV_ALLOWLIST, buildEnv } from "../util/exec.js";
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
  /** Set when the output shows the command ran into the jail's process or memory limit: which one. */
  limitHit?: string;
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
  /** The jail the command starts in, with no network; without one, the jail the environment describes. */
  jail?: Jail;
}

export class CodexSandbox {
  constructor(private readonly options: SandboxOptions) {}

  /** Resolves with how the command ended; rejects with Cancelled when aborted, SpawnError when codex can't start. */
  async run(req: SandboxRequest): Promise<SandboxResult> {
    if (req.signal?.aborted) throw new Cancelled("the verification was cancelled before it started");
    const home = await createCodexHome({ root: this.options.homesRoot, jobId: "verify", template: null });
    const runAs = this.options.runAs ?? null;
    const jail = this.options.jail ?? defaultJail();
    try {
      // workspace-write: the command (a build, a test run) may write in the worktree, never in .git.
      // The jail adds what codex's sandbox does not: nothing of the host to read, no network
      // namespace at all, and limits on processes and memory (a fork bomb ends this run only).
      const result = await jail.run({
        file: this.options.bin,
        args: ["sandbox", "-c", 'sandbox_mode="workspace-write"', "--", "sh", "-c", `exec 2>&1\n${req.command}`],
        worktree: req.cwd,
        writable: true,
        home: home.dir,
        homesRoot: this.options.homesRoot,
        network: false,
        runAs,
        env: buildEnv(BASE_ENV_ALLOWLIST, { HOME: home.dir, CODEX_HOME: home.dir, CI: "true" }),
        timeoutMs: req.timeoutMs,
        ...(req.signal ? { signal: req.signal } : {}),
        maxOutputBytes: this.options.maxOutputBytes ?? 64 * 1024,
      });
      if (result.aborted) throw new Cancelled("the verification was cancelled");
      const stderr = result.stderr.trim();
      const output = stderr === "" ? result.stdout : `${result.stdout}${result.stdout.endsWith("\n") || result.stdout === "" ? "" : "\n"}${stderr}`;
      const hint = result.exitCode === 0 && !result.timedOut ? null : jail.limitHint(output);
      return {
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        durationMs: result.durationMs,
        output,
        ...(hint ? { limitHit: hint } : {}),
      };
    } finally {
      await home.dispose();
    }
  }
}
