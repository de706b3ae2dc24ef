import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { BASE_ENV_ALLOWLIST, buildEnv } from "../util/exec.js";
import type { Jailer } from "./types.js";

/**
 * Can this host build a jail? Answered once, by building one: a jail that starts bubblewrap again
 * inside itself (codex's own sandbox needs a nested user namespace, so a jail in which that fails
 * would run agents that can run no command). Fail closed: every door asks before its first run.
 */

export type JailProbe = { ok: true; durationMs: number } | { ok: false; reason: string; fix: string };

const FIX_USERNS =
  "Allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0; kernel.unprivileged_userns_clone=1 on Debian kernels; " +
  "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 23.10+). In a container, run it with " +
  "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined` (SECURITY.md). " +
  "Or opt out with AGENT_ISOLATION=none, which lets a prompt-injected agent read the app's private key.";

export async function probeJail(jail: Jailer, homesRoot: string): Promise<JailProbe> {
  const started = Date.now();
  const bwrap = jail.settings.bwrap;
  if (process.platform !== "linux") {
    return { ok: false, reason: `agents cannot be jailed on ${process.platform}: the jail needs Linux namespaces.`, fix: "Run the app on Linux, or set AGENT_ISOLATION=none." };
  }
  if (bwrap === null) {
    return {
      ok: false,
      reason: "agents cannot be jailed: no bubblewrap binary was found (neither @openai/codex's bundled one nor /usr/bin/bwrap).",
      fix: "Install it (`apt-get install bubblewrap`) or point AGENT_JAIL_BWRAP at one; or set AGENT_ISOLATION=none.",
    };
  }
  if (!existsSync(bwrap)) {
    return {
      ok: false,
      reason: `agents cannot be jailed: the bubblewrap binary ${bwrap} does not exist.`,
      fix: "Point AGENT_JAIL_BWRAP at bwrap, or unset it to use the one @openai/codex ships (or `apt-get install bubblewrap`); or set AGENT_ISOLATION=none.",
    };
  }
  if (!["/usr/bin/prlimit", "/bin/prlimit"].some((p) => existsSync(p))) {
    return { ok: false, reason: "agents cannot be jailed: `prlimit` (util-linux), which sets the jail's limits, is missing.", fix: "Install util-linux." };
  }
  // Beside the homes, not among them: the start-up sweep of homes may run while the probe does.
  const parent = path.dirname(path.resolve(homesRoot));
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(parent, ".jail-probe-"));
  try {
    const worktree = path.join(dir, "worktree");
    const home = path.join(dir, "home");
    await mkdir(worktree);
    await mkdir(home);
    const result = await jail.runJailed({
      file: bwrap,
      args: ["--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "--dev", "/dev", "--", "/bin/sh", "-c", "echo jail-ok"],
      worktree,
      writable: false,
      home,
      homesRoot: dir,
      network: false,
      runAs: null,
      env: buildEnv(BASE_ENV_ALLOWLIST),
      timeoutMs: 15_000,
    });
    if (result.exitCode === 0 && result.stdout.includes("jail-ok")) return { ok: true, durationMs: Date.now() - started };
    const said = (result.stderr.trim().split("\n").pop() ?? "").trim() || `exit code ${String(result.exitCode)}`;
    const unreachable = /Can't find source path (.+): Permission denied/.exec(said);
    if (unreachable) {
      return {
        ok: false,
        reason: `agents cannot be jailed: the jail's user cannot reach ${unreachable[1]} (a directory above it is not searchable by that user).`,
        fix: "Give the directories above DATA_DIR search permission for others (chmod o+x), or set AGENT_USER to a user that can reach it, or run the app as an ordinary user.",
      };
    }
    return { ok: false, reason: `agents cannot be jailed: bubblewrap (${bwrap}) failed: ${said}.`, fix: FIX_USERNS };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `agents cannot be jailed: ${message}.`, fix: FIX_USERNS };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
