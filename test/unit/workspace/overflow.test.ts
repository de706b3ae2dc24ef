import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cancelled } from "../../../src/errors.js";
import { Workspaces, type CheckoutRequest, type Lease } from "../../../src/workspace/workspaces.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { prHistory, sh, type PrHistory } from "./origin.js";

/**
 * `extra` leases: a job that already holds a worktree of a repository asks for a second one (two
 * agents). It must never wait for the pool, or two such jobs (or one, with a pool of one) deadlock.
 */

const REFS = ["refs/heads/main", "refs/pull/7/head"];
const DEADLOCK_MS = 20_000;

const leases: Lease[] = [];
afterEach(async () => {
  await Promise.all(leases.splice(0).map((lease) => lease.release()));
});

function workspaces(poolSize: number, root = makeTempDir("ws-overflow")): { ws: Workspaces; root: string } {
  return { ws: new Workspaces({ root, poolSize, gitTimeoutMs: 30_000 }), root };
}

function request(h: PrHistory, overrides: Partial<CheckoutRequest> = {}): CheckoutRequest {
  return { repoKey: "github.com/octo/repo", cloneUrl: h.origin.url, token: null, headSha: h.head, baseSha: h.base, refs: REFS, ...overrides };
}

async function checkout(ws: Workspaces, req: CheckoutRequest): Promise<Lease> {
  const lease = await ws.checkout(req);
  leases.push(lease);
  return lease;
}

/** Fails instead of hanging the suite when the leases wait for each other. */
async function withinDeadline<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${DEADLOCK_MS} ms (deadlock)`)), DEADLOCK_MS);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function mirrorOf(root: string): string {
  const name = readdirSync(path.join(root, "mirrors")).find((n) => n.startsWith("github.com_octo_repo-") && n.endsWith(".git"));
  return path.join(root, "mirrors", name!);
}

async function registered(root: string): Promise<string> {
  return sh(["--git-dir", mirrorOf(root), "worktree", "list", "--porcelain"], root);
}

function adminNames(root: string): string[] {
  const dir = path.join(mirrorOf(root), "worktrees");
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function status(dir: string): Promise<string> {
  return sh(["status", "--porcelain", "--ignored", "--untracked-files=all"], dir);
}

describe("Workspaces extra leases", () => {
  it.each([1, 2])("lets two jobs that each hold a worktree take a second one at once (pool of %i)", async (poolSize) => {
    const h = await prHistory();
    const { ws, root } = workspaces(poolSize);
    const headB = await h.origin.commit({ "a.txt": "job b\n" }, "other PR");
    await h.origin.push("refs/pull/8/head");
    const jobB = (extra: Partial<CheckoutRequest> = {}): CheckoutRequest =>
      request(h, { headSha: headB, refs: ["refs/heads/main", "refs/pull/8/head"], ...extra });

    // Each job takes its first worktree; with a pool of one the second job's first lease waits, as before.
    const firstA = await checkout(ws, request(h));
    const firstB = poolSize > 1 ? await checkout(ws, jobB()) : null;

    const [secondA, secondB] = await withinDeadline(
      Promise.all([checkout(ws, request(h, { extra: true })), firstB ? checkout(ws, jobB({ extra: true })) : Promise.resolve(null)]),
      "extra leases",
    );

    const slots = path.dirname(firstA.dir);
    for (const [lease, sha] of [
      [secondA, h.head],
      [secondB, headB],
    ] as const) {
      if (!lease) continue;
      expect(path.dirname(lease.dir)).toBe(slots);
      expect(path.basename(lease.dir)).toMatch(/^overflow-[0-9a-f]+$/);
      expect(lease.timings).toMatchObject({ overflow: true, reusedWorktree: false });
      expect(await sh(["rev-parse", "HEAD"], lease.dir)).toBe(sha);
      expect(await status(lease.dir)).toBe("");
      expect(readFileSync(path.join(lease.dir, ".git"), "utf8")).toMatch(/^gitdir: .*\/worktrees\/overflow-[0-9a-f]+\n$/);
      expect(lease.git.worktree.dir).toBe(lease.dir);
      expect(await lease.diff()).toContain("diff --git a/a.txt b/a.txt");
    }
    expect(secondA.dir).not.toBe(firstA.dir);
    if (secondB) expect(secondB.dir).not.toBe(secondA.dir);
    expect(await registered(root)).toContain(secondA.dir);

    // Released overflow worktrees are gone, from disk and from the mirror; the pool is untouched.
    await secondA.release();
    await secondA.release(); // idempotent
    await secondB?.release();
    for (const lease of [secondA, secondB]) {
      if (!lease) continue;
      expect(existsSync(lease.dir)).toBe(false);
      expect(await registered(root)).not.toContain(lease.dir);
    }
    expect(adminNames(root).filter((name) => name.startsWith("overflow-"))).toEqual([]);
    expect(readdirSync(slots).sort()).toEqual(poolSize > 1 ? ["0", "1"] : ["0"]);
    expect(await status(firstA.dir)).toBe("");

    // The slots still go round as before.
    await firstA.release();
    await firstB?.release();
    const again = await checkout(ws, request(h));
    expect(again.timings).toMatchObject({ reusedWorktree: true, overflow: false });
  });

  it("takes a free slot when there is one, and returns it to the pool", async () => {
    const h = await prHistory();
    const { ws } = workspaces(2);
    const first = await checkout(ws, request(h));
    const second = await checkout(ws, request(h, { extra: true }));
    expect(second.timings.overflow).toBe(false);
    expect(path.basename(second.dir)).toMatch(/^\d+$/);
    expect(second.dir).not.toBe(first.dir);
    await second.release();
    expect(existsSync(second.dir)).toBe(true);
    // Kept and warm: the next lease of that slot switches it in place.
    await first.release();
    const [a, b] = await Promise.all([checkout(ws, request(h)), checkout(ws, request(h))]);
    expect(a.timings.reusedWorktree && b.timings.reusedWorktree).toBe(true);
  });

  it("keeps normal leases waiting first come first served, and never hands them an overflow worktree", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const held = await checkout(ws, request(h));
    const order: string[] = [];
    const waiting = ["b", "c"].map((name) =>
      ws.checkout(request(h)).then((lease) => {
        order.push(name);
        leases.push(lease);
        return lease;
      }),
    );
    await tick(150);
    expect(order).toEqual([]);

    // The holder's extra lease does not wait, and does not take the waiters' turn.
    const extra = await withinDeadline(checkout(ws, request(h, { extra: true })), "extra lease");
    expect(extra.timings.overflow).toBe(true);
    await extra.release();
    await tick(100);
    expect(order).toEqual([]);

    await held.release();
    const b = await waiting[0]!;
    expect(order).toEqual(["b"]);
    expect(b.dir).toBe(held.dir);
    expect(b.timings.overflow).toBe(false);
    await b.release();
    const c = await waiting[1]!;
    expect(order).toEqual(["b", "c"]);
    expect(c.dir).toBe(held.dir);
  });

  it("removes an overflow worktree whose contents a job made hostile, without following its links", async () => {
    const h = await prHistory();
    const { ws, root } = workspaces(1);
    await checkout(ws, request(h));
    const extra = await checkout(ws, request(h, { extra: true }));
    const outside = path.join(makeTempDir("outside"), "precious.txt");
    writeFileSync(outside, "keep\n");
    symlinkSync(path.dirname(outside), path.join(extra.dir, "escape"));
    // The job replaces the worktree link with a repository of its own.
    rmSync(path.join(extra.dir, ".git"));
    await sh(["init", "-q", "."], extra.dir);
    mkdirSync(path.join(extra.dir, "deep", "er"), { recursive: true });
    writeFileSync(path.join(extra.dir, "deep", "er", "out.bin"), "x");

    await extra.release();
    expect(existsSync(extra.dir)).toBe(false);
    expect(readFileSync(outside, "utf8")).toBe("keep\n");
    expect(await registered(root)).not.toContain(extra.dir);
    expect(adminNames(root).filter((name) => name.startsWith("overflow-"))).toEqual([]);
  });

  it("gives up with Cancelled and leaves no overflow worktree behind", async () => {
    const h = await prHistory();
    const { ws, root } = workspaces(1);
    const held = await checkout(ws, request(h));
    await expect(ws.checkout(request(h, { extra: true, signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(Cancelled);
    expect(readdirSync(path.dirname(held.dir))).toEqual(["0"]);
    expect(adminNames(root)).toEqual(["0"]);
  });
});

describe("Workspaces.sweep and overflow worktrees", () => {
  it("removes overflow worktrees a crashed process left, and keeps this process's live ones", async () => {
    const h = await prHistory();
    const { ws: crashed, root } = workspaces(1);
    await crashed.checkout(request(h));
    const stale = await crashed.checkout(request(h, { extra: true })); // never released: the process "died"
    expect(path.basename(stale.dir)).toMatch(/^overflow-/);

    const { ws } = workspaces(1, root);
    const mine = await checkout(ws, request(h, { repoKey: "github.com/octo/other" }));
    const mineExtra = await checkout(ws, request(h, { repoKey: "github.com/octo/other", extra: true }));
    expect(mineExtra.timings.overflow).toBe(true);
    await ws.sweep();

    expect(existsSync(stale.dir)).toBe(false);
    expect(existsSync(path.dirname(stale.dir)) ? readdirSync(path.dirname(stale.dir)) : []).toEqual([]);
    expect(await registered(root)).not.toContain(stale.dir);
    expect(existsSync(mine.dir)).toBe(true);
    expect(existsSync(mineExtra.dir)).toBe(true);
    expect(await status(mineExtra.dir)).toBe("");

    // The swept repository works again, with a slot and an overflow worktree.
    const slot = await checkout(ws, request(h));
    const extra = await checkout(ws, request(h, { extra: true }));
    expect(extra.timings.overflow).toBe(true);
    expect(await sh(["rev-parse", "HEAD"], extra.dir)).toBe(h.head);
    await extra.release();
    expect(existsSync(extra.dir)).toBe(false);
    expect(await status(slot.dir)).toBe("");
  });
});
