import { randomBytes } from "node:crypto";
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
 *   worktrees/<safeKey>/overflow-<hex>
 *                              a job's extra worktree when no slot was free (see `extra`); removed on release
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
  /**
   * The job already holds a worktree of this repository and wants another (a second agent). Such a
   * request never waits for the pool: two jobs each holding one slot and waiting for a second would
   * wait for each other forever. It takes a free slot if there is one (and nobody queues for it);
   * otherwise it gets a temporary worktree outside the pool, removed again on release.
   */
  extra?: boolean;
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
  /** True for a temporary worktree outside the pool (an `extra` request with no slot free). */
  overflow: boolean;
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
  /** `worktrees/<safeKey>`: the slots' and overflow worktrees' parent. */
  worktreesDir: string;
  lock: Mutex;
  slots: Slot[];
  pool: SlotPool<Slot>;
  /** Directories of the overflow worktrees leased (or being created) in this process. */
  overflow: Set<string>;
}

const DEFAULT_POOL_SIZE = 2;
/** Not a number, so an overflow worktree can never be mistaken for a slot (whatever the pool size). */
const OVERFLOW_PREFIX = "overflow-";
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

    if (req.signal?.aborted) throw new Cancelled("cancelled while waiting for a free worktree");
    // An extra lease never waits (see CheckoutRequest.extra); a normal one queues first come first served.
    const slot = req.extra
      ? repo.pool.tryAcquire(pickSlot(headSha))
      : await repo.pool.acquire(req.signal, pickSlot(headSha));
    const acquiredAt = performance.now();
    const timings = (reusedWorktree: boolean, overflow: boolean): CheckoutTimings => {
      const done = performance.now();
      const result: CheckoutTimings = {
        fetchMs: fetchedAt - started,
        waitMs: acquiredAt - fetchedAt,
        worktreeMs: done - acquiredAt,
        totalMs: done - started,
        fetched,
        reusedWorktree,
        overflow,
      };
      this.lastTimings = result;
      return result;
    };

    if (slot === null) {
      const worktree = await this.addOverflow(repo, headSha, ctx);
      return this.lease(repo, worktree, headSha, baseSha, timings(false, true), () => this.removeOverflow(repo, worktree.dir, worktree));
    }
    try {
      const reusedWorktree = await this.prepare(repo, slot, headSha, ctx);
      return this.lease(repo, slot.worktree!, headSha, baseSha, timings(reusedWorktree, false), () => this.giveBack(repo, slot, headSha));
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
      // Overflow worktrees are never reused: all but this process's live ones go (below), like stray slots.
      if (repo?.overflow.has(path.join(keyDir, name))) continue;
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
      const leased = repo.overflow.size > 0 || repo.slots.some((s) => repo.pool.isLeased(s));
      if (!leased) await removeStaleLocks(repo.mirrorDir);
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

  /**
   * A fresh worktree outside the pool, made exactly like a slot's (addWorktree: explicit git dir,
   * link check), in a directory of its own. Registered before it exists so sweep() leaves it alone.
   */
  private async addOverflow(repo: Repo, sha: string, ctx: GitContext): Promise<Worktree> {
    const dir = path.join(repo.worktreesDir, `${OVERFLOW_PREFIX}${randomBytes(6).toString("hex")}`);
    repo.overflow.add(dir);
    try {
      return await repo.lock.run(() => addWorktree(repo.mirrorDir, dir, sha, ctx), ctx.signal);
    } catch (err) {
      await this.removeOverflow(repo, dir, null);
      throw err;
    }
  }

  /**
   * Deletes an overflow worktree and its registration in the mirror. Nothing in the tree is trusted,
   * so git is not asked to look at it (`git worktree remove` would read the tree's `.git` link): the
   * directory is deleted without following links, then the admin directory (checked to be inside the
   * mirror when the worktree was added) and the registration. Never throws; sweep() gets what is left.
   */
  private async removeOverflow(repo: Repo, dir: string, worktree: Worktree | null): Promise<void> {
    const ctx = this.context();
    try {
      await removeWorktreeDir(dir).catch(() => undefined);
      await repo.lock
        .run(async () => {
          if (worktree) await rm(worktree.adminDir, { recursive: true, force: true });
          await pruneWorktrees(repo.mirrorDir, ctx);
        })
        .catch(() => undefined);
    } finally {
      repo.overflow.delete(dir);
    }
  }

  private lease(
    repo: Repo,
    worktree: Worktree,
    headSha: string,
    baseSha: string,
    timings: CheckoutTimings,
    giveBack: () => Promise<void>,
  ): Lease {
    const ctx = this.context();
    let released: Promise<void> | null = null;
    return {
      dir: worktree.dir,
      headSha,
      baseSha,
      timings,
      diff: () => diffCommits(repo.mirrorDir, baseSha, headSha, ctx),
      git: { mirrorDir: repo.mirrorDir, worktree, ctx, locked: (fn, signal) => repo.lock.run(fn, signal) },
      release: () => (released ??= giveBack()),
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
    const worktreesDir = path.join(this.root, "worktrees", key);
    const slots: Slot[] = Array.from({ length: this.poolSize }, (_, i) => ({
      dir: path.join(worktreesDir, String(i)),
      worktree: null,
      headSha: null,
    }));
    const repo: Repo = {
      mirrorDir: path.join(this.root, "mirrors", `${key}.git`),
      worktreesDir,
      lock: new Mutex(),
      slots,
      pool: new SlotPool(slots),
      overflow: new Set(),
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
