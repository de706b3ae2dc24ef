import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Cancelled } from "../errors.js";
import type { WorktreeGit } from "./commit.js";
import type { GitContext } from "./git.js";
import { Mutex } from "./lock.js";
import {
  diffCommits,
  ensureMirror,
  fetchCommits,
  pruneWorktrees,
  removeStaleLocks,
} from "./mirror.js";
import { checkCloneUrl, checkRef, checkSha, safeKey } from "./naming.js";
import { SlotPool } from "./pool.js";
import { addWorktree, removeWorktreeDir, resetWorktree, type Worktree } from "./worktree.js";

/**
 * Per repository: one bare mirror and a small pool of persistent worktrees. A job leases a worktree,
 * which is switched to the PR head in place, so a second review of a repository fetches only new
 * objects and rewrites only the files that changed. Layout under `root`:
 *   mirrors/<safeKey>.git      bare mirror (no URL, no credentials)
 *   worktrees/<safeKey>/<n>    slot n of that repository (never shared across repositories)
 *   home/                      git's empty HOME
 */

export interface CheckoutRequest {
  /** Stable key of the repository, e.g. "github.com/octo/repo"; one mirror + pool per key. */
  repoKey: string;
  /** https URL on GitHub/GHES; a local path or file:// URL in tests. */
  cloneUrl: string;
  /** Installation token, used for this fetch only. */
  token: string | null;
  headSha: string;
  baseSha: string;
  /** Refs to fetch so both SHAs arrive, e.g. ["refs/heads/main", "refs/pull/7/head"]. */
  refs: string[];
  signal?: AbortSignal;
}

export interface CheckoutTimings {
  /** Checking for, and fetching, the commits (including waiting for the mirror lock). */
  fetchMs: number;
  /** Waiting for a free worktree of the repository. */
  waitMs: number;
  /** Creating or switching the worktree. */
  worktreeMs: number;
  totalMs: number;
  /** False when both commits were already in the mirror. */
  fetched: boolean;
  /** True when an existing worktree was switched rather than created. */
  reusedWorktree: boolean;
}

export interface Lease {
  /** Absolute path of the worktree, checked out detached at headSha, clean. */
  dir: string;
  headSha: string;
  baseSha: string;
  timings: CheckoutTimings;
  /** `git diff` of base...head (from the merge base, like GitHub's PR diff). */
  diff(): Promise<string>;
  /** For committing and pushing what an agent changed (fix-up PRs); see commit.ts. */
  git: WorktreeGit;
  /** Resets and cleans the worktree and returns it to the pool. Idempotent; never throws. */
  release(): Promise<void>;
}

export interface WorkspacesOptions {
  root: string;
  /** Worktrees per repository. Default 2. */
  poolSize?: number;
  /** Limit for each git command. Default 10 minutes. */
  gitTimeoutMs?: number;
}

interface Slot {
  dir: string;
  /** Null until created in this process, and after anything went wrong with it: rebuild before use. */
  worktree: Worktree | null;
  /** Commit the worktree was last switched to. */
  headSha: string | null;
}

interface Repo {
  mirrorDir: string;
  lock: Mutex;
  slots: Slot[];
  pool: SlotPool<Slot>;
}

const DEFAULT_POOL_SIZE = 2;
const DEFAULT_GIT_TIMEOUT_MS = 10 * 60 * 1000;

/** Prefer a worktree already at the wanted commit, then any existing one, over creating a new one. */
function pickSlot(headSha: string): (free: readonly Slot[]) => Slot {
  return (free) =>
    free.find((s) => s.worktree !== null && s.headSha === headSha) ??
    free.find((s) => s.worktree !== null) ??
    free[0]!;
}

export class Workspaces {
  /** Phase timings of the most recent checkout, for logs and benchmarks. */
  lastTimings: CheckoutTimings | null = null;

  private readonly root: string;
  private readonly poolSize: number;
  private readonly timeoutMs: number;
  private readonly repos = new Map<string, Repo>();
  private dirsReady: Promise<void> | null = null;

  constructor(opts: WorkspacesOptions) {
    this.root = path.resolve(opts.root);
    this.poolSize = opts.poolSize ?? DEFAULT_POOL_SIZE;
    this.timeoutMs = opts.gitTimeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
    if (!Number.isInteger(this.poolSize) || this.poolSize < 1) {
      throw new RangeError(`poolSize must be a positive integer, got ${this.poolSize}`);
    }
  }

  async checkout(req: CheckoutRequest): Promise<Lease> {
    const headSha = checkSha(req.headSha, "head");
    const baseSha = checkSha(req.baseSha, "base");
    const refs = req.refs.map(checkRef);
    const url = checkCloneUrl(req.cloneUrl);
    await this.ensureDirs();
    const repo = this.repo(safeKey(req.repoKey));
    const ctx = this.context(req.signal);
    const started = performance.now();

    // Fetch before waiting for a worktree: the download overlaps another job's use of the pool.
    const fetched = await repo.lock.run(async () => {
      await ensureMirror(repo.mirrorDir, ctx);
      const commits = [
        { sha: headSha, role: "head" },
        { sha: baseSha, role: "base" },
      ];
      return fetchCommits(repo.mirrorDir, { url, token: req.token, refs, commits, repoName: req.repoKey }, ctx);
    }, req.signal);
    const fetchedAt = performance.now();

    const slot = await repo.pool.acquire(req.signal, pickSlot(headSha));
    const acquiredAt = performance.now();
    try {
      const reusedWorktree = await this.prepare(repo, slot, headSha, ctx);
      const done = performance.now();
      const timings: CheckoutTimings = {
        fetchMs: fetchedAt - started,
        waitMs: acquiredAt - fetchedAt,
        worktreeMs: done - acquiredAt,
        totalMs: done - started,
        fetched,
        reusedWorktree,
      };
      this.lastTimings = timings;
      return this.lease(repo, slot, headSha, baseSha, timings);
    } catch (err) {
      repo.pool.release(slot);
      throw err;
    }
  }

  /**
   * Start-up sweep after a crash: deletes every worktree this process has not leased, forgets the
   * mirrors' registrations of them, and clears lock files a killed git left in idle mirrors. Meant to
   * run before jobs start; one process owns a root (nothing here coordinates between processes).
   */
  async sweep(): Promise<void> {
    await this.ensureDirs();
    const worktreesRoot = path.join(this.root, "worktrees");
    for (const key of await listDir(worktreesRoot)) {
      await this.sweepSlots(key, path.join(worktreesRoot, key));
    }
    const mirrorsRoot = path.join(this.root, "mirrors");
    for (const name of await listDir(mirrorsRoot)) {
      if (name.includes(".tmp-")) await rm(path.join(mirrorsRoot, name), { recursive: true, force: true });
      else if (name.endsWith(".git")) await this.sweepMirror(this.repo(name.slice(0, -".git".length)));
    }
  }

  private async sweepSlots(key: string, keyDir: string): Promise<void> {
    const repo = this.repos.get(key);
    for (const name of await listDir(keyDir)) {
      const slot = repo?.slots.find((s) => path.basename(s.dir) === name);
      if (slot && repo?.pool.isLeased(slot)) continue;
      if (slot) {
        slot.worktree = null;
        slot.headSha = null;
      }
      await removeWorktreeDir(path.join(keyDir, name));
    }
  }

  private async sweepMirror(repo: Repo): Promise<void> {
    const ctx = this.context();
    await repo.lock.run(async () => {
      await pruneWorktrees(repo.mirrorDir, ctx);
      // Holding the lock rules out our own fetches; no lease rules out a job's git in a worktree.
      if (!repo.slots.some((s) => repo.pool.isLeased(s))) await removeStaleLocks(repo.mirrorDir);
    });
  }

  /** Returns true when an existing worktree was switched, false when one had to be created. */
  private async prepare(repo: Repo, slot: Slot, sha: string, ctx: GitContext): Promise<boolean> {
    if (slot.worktree) {
      try {
        await resetWorktree(slot.worktree, sha, ctx);
        slot.headSha = sha;
        return true;
      } catch (err) {
        if (err instanceof Cancelled) throw err;
        // Damaged (a killed git's lock file, a replaced link, ...): a fresh one is cheaper than diagnosis.
      }
    }
    slot.worktree = null;
    slot.headSha = null;
    slot.worktree = await repo.lock.run(() => addWorktree(repo.mirrorDir, slot.dir, sha, ctx), ctx.signal);
    slot.headSha = sha;
    return false;
  }

  private lease(repo: Repo, slot: Slot, headSha: string, baseSha: string, timings: CheckoutTimings): Lease {
    const ctx = this.context();
    let released: Promise<void> | null = null;
    return {
      dir: slot.dir,
      headSha,
      baseSha,
      timings,
      diff: () => diffCommits(repo.mirrorDir, baseSha, headSha, ctx),
      git: { mirrorDir: repo.mirrorDir, worktree: slot.worktree!, ctx, locked: (fn, signal) => repo.lock.run(fn, signal) },
      release: () => (released ??= this.giveBack(repo, slot, headSha)),
    };
  }

  /** Cleans the worktree for the next job; a worktree that cannot be cleaned is thrown away instead. */
  private async giveBack(repo: Repo, slot: Slot, headSha: string): Promise<void> {
    const ctx = this.context();
    try {
      const wt = slot.worktree;
      const cleaned = wt !== null && (await resetWorktree(wt, headSha, ctx).then(() => true, () => false));
      if (!cleaned) await this.discard(repo, slot, ctx);
    } finally {
      repo.pool.release(slot);
    }
  }

  /** Best effort: whatever is left is replaced by the next lease's rebuild, which reports its own errors. */
  private async discard(repo: Repo, slot: Slot, ctx: GitContext): Promise<void> {
    slot.worktree = null;
    slot.headSha = null;
    await removeWorktreeDir(slot.dir).catch(() => undefined);
    await repo.lock.run(() => pruneWorktrees(repo.mirrorDir, ctx)).catch(() => undefined);
  }

  private repo(key: string): Repo {
    const known = this.repos.get(key);
    if (known) return known;
    const slots: Slot[] = Array.from({ length: this.poolSize }, (_, i) => ({
      dir: path.join(this.root, "worktrees", key, String(i)),
      worktree: null,
      headSha: null,
    }));
    const repo: Repo = {
      mirrorDir: path.join(this.root, "mirrors", `${key}.git`),
      lock: new Mutex(),
      slots,
      pool: new SlotPool(slots),
    };
    this.repos.set(key, repo);
    return repo;
  }

  private context(signal?: AbortSignal): GitContext {
    return { home: path.join(this.root, "home"), timeoutMs: this.timeoutMs, signal };
  }

  private ensureDirs(): Promise<void> {
    this.dirsReady ??= Promise.all(
      ["mirrors", "worktrees", "home"].map((dir) => mkdir(path.join(this.root, dir), { recursive: true })),
    ).then(
      () => undefined,
      (err: unknown) => {
        this.dirsReady = null;
        throw err;
      },
    );
    return this.dirsReady;
  }
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
