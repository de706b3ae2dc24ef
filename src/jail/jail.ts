import { accessSync, closeSync, constants, existsSync, openSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { openAgentAccess } from "../security/agent-user.js";
import { run, SpawnError, type ExecOptions, type ExecResult } from "../util/exec.js";
import { sanitizeGitConfig, worktreeGit } from "./git-dirs.js";
import { isInside } from "../util/paths.js";
import { insideSystem, programDirs, realpathOrSelf, systemMounts, type SystemMount } from "./mounts.js";
import { probeJail, type JailProbe } from "./probe.js";
import type { JailSettings } from "./settings.js";
import { JailError, type Jailer, type JailedRun } from "./types.js";

export { JailError, type JailedRun } from "./types.js";

/**
 * The only way an agent (codex, claude) or a test command (`fix.verify`) is started.
 *
 * Each run gets its own bubblewrap jail: new user, mount, PID, IPC and UTS namespaces (and a new
 * network namespace for test commands), a new session, and death with the app. Its root holds the
 * read-only system (mounts.ts), the program's own package, a fresh /tmp, /proc of its own PID
 * namespace, the run's home (writable), the run's worktree (writable only for fix/tests) and the
 * git directories it needs (read-only, with credentials taken out of their config). Nothing else of
 * the host exists inside: not the data directory, the run database, the private key, `.env`, the
 * app's source, or any other run's worktree or home. Inside, `prlimit` caps the run's processes
 * (RLIMIT_NPROC, counted per user namespace, so per jail) and each process's memory (RLIMIT_DATA).
 *
 * Paths are bound at the same place as on the host, so worktree paths in prompts and findings stay
 * true. A root app never runs a jail as root (the kernel exempts root from RLIMIT_NPROC): it runs
 * it as AGENT_USER, else nobody, and lends the run's own paths to that user for the run
 * (security/agent-user.ts).
 */

export class Jail implements Jailer {
  private probe: Promise<JailProbe> | null = null;
  private system: SystemMount[] | null = null;

  constructor(
    readonly settings: JailSettings,
    private readonly options: { dataDir?: string; warn?: (message: string) => void } = {},
  ) {}

  get isolated(): boolean {
    return this.settings.isolation === "bwrap";
  }

  /** Builds a throwaway jail once (cached) to learn whether this host can jail at all. */
  check(homesRoot: string): Promise<JailProbe> {
    this.probe ??= probeJail(this, homesRoot);
    return this.probe;
  }

  async run(req: JailedRun): Promise<ExecResult> {
    if (!this.isolated) return this.runUnjailed(req);
    const probe = await this.check(req.homesRoot);
    if (!probe.ok) throw new JailError(`${probe.reason} ${probe.fix}`);
    return this.runJailed(req);
  }

  /**
   * The jail itself, without the probe (the probe uses it). Exported through run() for everyone else.
   * @internal
   */
  async runJailed(req: JailedRun): Promise<ExecResult> {
    const bwrap = this.settings.bwrap;
    if (bwrap === null) throw new JailError("no bubblewrap binary was found.");
    // As an unjailed spawn would: a missing program is a failure to start, not the jail's exit code.
    try {
      accessSync(req.file, constants.X_OK);
    } catch (err) {
      throw new SpawnError(`could not start ${req.file}: ${(err as NodeJS.ErrnoException).code ?? "not executable"}`);
    }
    const appUid = process.getuid?.() ?? 0;
    const user = req.runAs?.user ?? (appUid === 0 ? this.settings.rootFallbackUser : null);
    const dataDir = req.runAs?.dataDir ?? this.options.dataDir ?? path.dirname(path.resolve(req.homesRoot));
    if (user && req.writable && !isInside(path.resolve(req.worktree), dataDir)) {
      // A root app lends a writable worktree to the jail's user only inside its own data directory.
      throw new JailError(
        `a writable run as root needs its worktree (${req.worktree}) inside the data directory ${dataDir}, beside the agent homes: ` +
          "set DATA_DIR to one directory for both (the local commands otherwise split them between the XDG state and cache directories), or run as an ordinary user.",
      );
    }
    const scratch = await mkdtemp(path.join(req.homesRoot, ".jail-"));
    const fds: number[] = [];
    let release: (() => Promise<void>) | null = null;
    try {
      if (user) {
        release = await openAgentAccess({ user: { name: null, ...user }, dataDir }, {
          home: req.home,
          homesRoot: req.homesRoot,
          worktree: req.worktree,
          writable: req.writable,
        });
      }
      const args = await this.bwrapArgs(req, scratch, fds, user ?? { uid: appUid, gid: process.getgid?.() ?? 0 });
      return await run(bwrap, args, {
        cwd: "/",
        env: req.env,
        ...passThrough(req),
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
        extraFds: fds,
      });
    } finally {
      for (const fd of fds) closeSync(fd);
      await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
      await release?.();
    }
  }

  private async bwrapArgs(req: JailedRun, scratch: string, fds: number[], id: { uid: number; gid: number }): Promise<string[]> {
    const s = this.settings;
    const args = [
      "--unshare-user",
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      "--unshare-cgroup-try",
      ...(req.network ? [] : ["--unshare-net"]),
      "--hostname",
      "codex-pr-bot-jail",
      "--die-with-parent",
      "--new-session",
    ];
    // Paths are bound by name (bwrap resolves even a descriptor's path again, as the jail's user):
    // that user needs search permission on the directories above them, which openAgentAccess lends
    // inside the data dir. Files the app writes for the jail go in by content (--ro-bind-data reads
    // the descriptor), so the jail's user needs no access to them at all. Descriptor N of the child
    // is fds[N - 3]: run() hands extraFds over as 3, 4, …
    const bind = (kind: "--bind" | "--ro-bind", source: string, dest = source): void => {
      args.push(kind, source, dest);
    };
    const bindData = (file: string, dest: string): void => {
      fds.push(openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW));
      args.push("--ro-bind-data", String(fds.length + 2), dest);
    };

    this.system ??= systemMounts();
    for (const m of this.system) {
      if (m.kind === "symlink") args.push("--symlink", m.source, m.dest);
      else args.push("--ro-bind-try", m.source, m.dest);
    }
    args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");

    // passwd/group with root, the jail's own user and nobody: tools that look themselves up work,
    // and no account of the host is listed.
    const home = path.resolve(req.home);
    // The agent's shell is what codex runs commands with: the host's usual one, not nologin.
    const shell = existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";
    const passwd = [`root:x:0:0:root:/root:${shell}`];
    const group = [`root:x:0:`];
    if (id.uid === 65534) passwd.push(`nobody:x:65534:${id.gid}:nobody:${home}:${shell}`);
    else passwd.push(`nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin`);
    if (id.uid !== 0 && id.uid !== 65534) passwd.push(`agent:x:${id.uid}:${id.gid}:codex-pr-bot agent:${home}:${shell}`);
    group.push(`nogroup:x:65534:`);
    if (id.gid !== 0 && id.gid !== 65534) group.push(`agent:x:${id.gid}:`);
    await writeScratch(scratch, "passwd", `${passwd.join("\n")}\n`);
    await writeScratch(scratch, "group", `${group.join("\n")}\n`);
    bindData(path.join(scratch, "passwd"), "/etc/passwd");
    bindData(path.join(scratch, "group"), "/etc/group");

    const programs = [realpathOrSelf(process.execPath), ...programDirs(req.file)];
    for (const p of new Set(programs)) if (!insideSystem(p)) bind("--ro-bind", p);

    const worktree = path.resolve(req.worktree);
    bind(req.writable ? "--bind" : "--ro-bind", worktree);
    const git = await worktreeGit(worktree);
    // The agent edits files, never the repository: `.git` stays read-only even in a writable worktree.
    if (req.writable && git.dotGit) bind("--ro-bind", git.dotGit);
    if (git.commonDir && !isInside(git.commonDir, worktree)) bind("--ro-bind", git.commonDir);
    for (const [i, file] of git.configFiles.entries()) {
      const clean = sanitizeGitConfig(await readFile(file, "utf8").catch(() => ""));
      if (clean === null) continue;
      const name = `gitconfig-${i}`;
      await writeScratch(scratch, name, clean);
      bindData(path.join(scratch, name), file);
    }
    bind("--bind", home);

    args.push("--chdir", path.resolve(req.cwd ?? worktree));
    args.push(
      "--",
      "prlimit",
      `--nproc=${s.maxProcesses}:${s.maxProcesses}`,
      `--data=${s.maxMemoryMb * 1024 * 1024}:${s.maxMemoryMb * 1024 * 1024}`,
      "--core=0:0",
      "--",
      realpathOrSelf(req.file),
      ...req.args,
    );
    return args;
  }

  private async runUnjailed(req: JailedRun): Promise<ExecResult> {
    this.options.warn?.(
      "AGENT_ISOLATION=none: this agent run is not jailed; it can read every file the app's OS user can, the GitHub App private key included",
    );
    let release: (() => Promise<void>) | null = null;
    try {
      if (req.runAs) {
        release = await openAgentAccess(req.runAs, { home: req.home, homesRoot: req.homesRoot, worktree: req.worktree, writable: req.writable });
      }
      return await run(req.file, req.args, {
        cwd: req.cwd ?? req.worktree,
        env: req.env,
        ...passThrough(req),
        ...(req.runAs ? { uid: req.runAs.user.uid, gid: req.runAs.user.gid } : {}),
      });
    } finally {
      await release?.();
    }
  }

  /** One line for logs and `doctor`. */
  describe(): string {
    const s = this.settings;
    if (!this.isolated) return "none (AGENT_ISOLATION=none): agents run unjailed";
    return `bubblewrap (${s.bwrap ?? "not found"}), at most ${s.maxProcesses} processes and ${s.maxMemoryMb} MiB per process`;
  }

  /**
   * A sentence for a failed command whose output shows it ran into the jail's limits, or null.
   * The kernel says only EAGAIN/ENOMEM; this names the limit and the variable that sets it.
   */
  limitHint(output: string): string | null {
    if (!this.isolated) return null;
    const s = this.settings;
    if (/fork: (retry: )?Resource temporarily unavailable|Cannot fork|can't fork|EAGAIN.*(spawn|fork)|fork failed/i.test(output)) {
      return `It ran into the jail's limit of ${s.maxProcesses} processes (AGENT_MAX_PROCESSES).`;
    }
    if (/Cannot allocate memory|MemoryError|allocation failed|out of memory|ENOMEM|std::bad_alloc/i.test(output)) {
      return `It ran into the jail's memory limit of ${s.maxMemoryMb} MiB per process (AGENT_MAX_MEMORY_MB).`;
    }
    return null;
  }
}

async function writeScratch(dir: string, name: string, text: string): Promise<void> {
  const file = path.join(dir, name);
  await writeFile(file, text, { mode: 0o644 });
  await chmod(file, 0o644);
}

/** The options of a run that reach the process unchanged, jailed or not. */
function passThrough(req: JailedRun): Omit<ExecOptions, "cwd" | "env" | "uid" | "gid" | "extraFds"> {
  return {
    ...(req.input !== undefined ? { input: req.input } : {}),
    ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.onStdoutLine ? { onStdoutLine: req.onStdoutLine } : {}),
    ...(req.maxOutputBytes !== undefined ? { maxOutputBytes: req.maxOutputBytes } : {}),
    ...(req.killGraceMs !== undefined ? { killGraceMs: req.killGraceMs } : {}),
  };
}
