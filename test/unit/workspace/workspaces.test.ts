import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cancelled, WorkspaceError } from "../../../src/errors.js";
import { basicAuth } from "../../../src/workspace/git.js";
import { Workspaces, type CheckoutRequest, type Lease } from "../../../src/workspace/workspaces.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { fakeGitHost, prHistory, sh, type FakeGitHost, type PrHistory } from "./origin.js";

const REFS = ["refs/heads/main", "refs/pull/7/head"];
const TOKEN = "ghs_WorkspaceTestToken9876543210";

const leases: Lease[] = [];
let host: FakeGitHost | null = null;
afterEach(async () => {
  await Promise.all(leases.splice(0).map((lease) => lease.release()));
  await host?.close();
  host = null;
});

function workspaces(poolSize = 2): { ws: Workspaces; root: string } {
  const root = makeTempDir("ws");
  return { ws: new Workspaces({ root, poolSize, gitTimeoutMs: 30_000 }), root };
}

function request(h: PrHistory, overrides: Partial<CheckoutRequest> = {}): CheckoutRequest {
  return {
    repoKey: "github.com/octo/repo",
    cloneUrl: h.origin.url,
    token: null,
    headSha: h.head,
    baseSha: h.base,
    refs: REFS,
    ...overrides,
  };
}

async function checkout(ws: Workspaces, req: CheckoutRequest): Promise<Lease> {
  const lease = await ws.checkout(req);
  leases.push(lease);
  return lease;
}

function read(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), "utf8");
}

/** Every file under `dir`, symlinks not followed. */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

async function status(dir: string): Promise<string> {
  return sh(["status", "--porcelain", "--ignored", "--untracked-files=all"], dir);
}

describe("Workspaces.checkout", () => {
  it("creates a mirror and a clean worktree at the exact head SHA", async () => {
    const h = await prHistory();
    const { ws, root } = workspaces();
    const lease = await checkout(ws, request(h));

    expect(lease.dir.startsWith(path.join(root, "worktrees") + path.sep)).toBe(true);
    expect(await sh(["rev-parse", "HEAD"], lease.dir)).toBe(h.head);
    expect(read(lease.dir, "a.txt")).toBe("one\ntwo\n");
    expect(read(lease.dir, "new.txt")).toBe("new\n");
    expect(existsSync(path.join(lease.dir, "main-only.txt"))).toBe(false);
    expect(await status(lease.dir)).toBe("");
    expect(readdirSync(path.join(root, "mirrors")).filter((name) => name.endsWith(".git"))).toHaveLength(1);
    expect(lease.timings).toMatchObject({ fetched: true, reusedWorktree: false });
    expect(ws.lastTimings).toEqual(lease.timings);
  });

  it("diffs base...head from the merge base, like GitHub", async () => {
    const h = await prHistory();
    const { ws } = workspaces();
    const diff = await (await checkout(ws, request(h))).diff();

    expect(diff).toContain("diff --git a/a.txt b/a.txt");
    expect(diff).toContain("+two");
    expect(diff).toContain("+++ b/new.txt");
    // main-only.txt came to main after the PR branched: not part of the PR.
    expect(diff).not.toContain("main-only.txt");
  });

  it("shows changes a PR marks -diff in its own .gitattributes", async () => {
    const h = await prHistory({ ".gitattributes": "*.txt -diff\n" });
    const { ws } = workspaces();
    const diff = await (await checkout(ws, request(h))).diff();
    expect(diff).toContain("+two");
    expect(diff).not.toContain("Binary files");
  });

  it("switches a kept worktree to a new head, rewriting only changed files", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const first = await checkout(ws, request(h));
    await first.release();

    const keep = path.join(first.dir, "keep.txt");
    const past = new Date("2001-02-03T04:05:06Z");
    utimesSync(keep, past, past);
    const before = statSync(keep);
    expect(before.mtimeMs).toBe(past.getTime());

    const newHead = await h.origin.commit({ "a.txt": "one\ntwo\nthree\n" }, "pr update");
    await h.origin.push("refs/pull/7/head");
    const second = await checkout(ws, request(h, { headSha: newHead }));

    expect(second.dir).toBe(first.dir);
    expect(second.timings).toMatchObject({ fetched: true, reusedWorktree: true });
    expect(await sh(["rev-parse", "HEAD"], second.dir)).toBe(newHead);
    expect(read(second.dir, "a.txt")).toBe("one\ntwo\nthree\n");
    const after = statSync(keep);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await status(second.dir)).toBe("");
  });

  it("skips the fetch when both commits are already in the mirror", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    await (await checkout(ws, request(h))).release();
    const again = await checkout(ws, request(h));
    expect(again.timings).toMatchObject({ fetched: false, reusedWorktree: true });
  });

  it("leaves nothing the job created behind after release", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const lease = await checkout(ws, request(h));
    writeFileSync(path.join(lease.dir, "untracked.txt"), "job output\n");
    writeFileSync(path.join(lease.dir, "debug.log"), "ignored\n");
    mkdirSync(path.join(lease.dir, "build", "deep"), { recursive: true });
    writeFileSync(path.join(lease.dir, "build", "deep", "out.bin"), "ignored dir\n");
    writeFileSync(path.join(lease.dir, "a.txt"), "edited by the agent\n");
    await sh(["rm", "-q", "new.txt"], lease.dir);
    // Hidden from reset --hard unless the flag is cleared.
    await sh(["update-index", "--skip-worktree", "keep.txt"], lease.dir);
    writeFileSync(path.join(lease.dir, "keep.txt"), "planted for the next job\n");

    await lease.release();
    await lease.release(); // idempotent

    expect(existsSync(path.join(lease.dir, "untracked.txt"))).toBe(false);
    expect(existsSync(path.join(lease.dir, "debug.log"))).toBe(false);
    expect(existsSync(path.join(lease.dir, "build"))).toBe(false);
    expect(read(lease.dir, "a.txt")).toBe("one\ntwo\n");
    expect(read(lease.dir, "new.txt")).toBe("new\n");
    expect(read(lease.dir, "keep.txt")).toBe("keep me\n");
    expect(await status(lease.dir)).toBe("");
  });

  it("never shares a worktree between repositories", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const [a, b] = await Promise.all([
      checkout(ws, request(h, { repoKey: "github.com/octo/a" })),
      checkout(ws, request(h, { repoKey: "github.com/octo/b" })),
    ]);
    expect(path.dirname(a.dir)).not.toBe(path.dirname(b.dir));
    await a.release();
    await b.release();
    // Even with the only slot of "a" free, "b" keeps to its own.
    const b2 = await checkout(ws, request(h, { repoKey: "github.com/octo/b" }));
    expect(b2.dir).toBe(b.dir);
  });

  it("gives concurrent leases of one repository different worktrees", async () => {
    const h = await prHistory();
    const { ws } = workspaces(2);
    const [a, b] = await Promise.all([checkout(ws, request(h)), checkout(ws, request(h))]);
    expect(a.dir).not.toBe(b.dir);
    expect(path.dirname(a.dir)).toBe(path.dirname(b.dir));
    expect(await sh(["rev-parse", "HEAD"], b.dir)).toBe(h.head);
  });

  it("makes a second lease wait until the only worktree is released", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const first = await checkout(ws, request(h));
    let granted = false;
    const second = ws.checkout(request(h)).then((lease) => {
      granted = true;
      leases.push(lease);
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(granted).toBe(false);
    await first.release();
    expect((await second).dir).toBe(first.dir);
  });

  it("stops waiting with Cancelled when aborted", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const first = await checkout(ws, request(h));
    const controller = new AbortController();
    const waiting = ws.checkout(request(h, { signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(Cancelled);
    // The abandoned wait does not keep the slot from the next job.
    await first.release();
    const next = await checkout(ws, request(h));
    expect(next.dir).toBe(first.dir);
  });

  it("explains a head commit that the origin does not have", async () => {
    const h = await prHistory();
    const { ws } = workspaces();
    const ghost = "1234567890abcdef1234567890abcdef12345678";
    const failure = ws.checkout(request(h, { headSha: ghost }));
    await expect(failure).rejects.toBeInstanceOf(WorkspaceError);
    await expect(failure).rejects.toThrow(`head commit ${ghost} is not available from github.com/octo/repo`);
  });

  it("rejects values git would read as options", async () => {
    const h = await prHistory();
    const { ws } = workspaces();
    await expect(ws.checkout(request(h, { headSha: "--upload-pack=touch" }))).rejects.toThrow(WorkspaceError);
    await expect(ws.checkout(request(h, { cloneUrl: "--upload-pack=touch /tmp/x" }))).rejects.toThrow(WorkspaceError);
    await expect(ws.checkout(request(h, { refs: ["--upload-pack=x"] }))).rejects.toThrow(WorkspaceError);
  });
});

describe("Workspaces secrets", () => {
  it("keeps the token out of every file under the workspace root", async () => {
    const h = await prHistory();
    const { ws, root } = workspaces();
    const lease = await checkout(ws, request(h, { token: TOKEN }));
    await lease.diff();
    await lease.release();

    const files = allFiles(root);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const content = readFileSync(file);
      expect(content.includes(TOKEN), file).toBe(false);
      expect(content.includes(basicAuth(TOKEN)), file).toBe(false);
    }
  });

  it("sends the token to the host but never into the error message", async () => {
    const h = await prHistory();
    host = await fakeGitHost((res) => res.writeHead(403).end("forbidden"));
    const { ws } = workspaces();
    const cloneUrl = host.url.replace("http://", `http://x-access-token:${TOKEN}@`);
    const error = await ws.checkout(request(h, { cloneUrl, token: TOKEN })).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkspaceError);
    const message = (error as Error).message;
    expect(message).toMatch(/^head commit [0-9a-f]{40} is not available from github\.com\/octo\/repo: git fetch failed: /);
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain(basicAuth(TOKEN));
    expect(host.authorizations).toContain(`Basic ${basicAuth(TOKEN)}`);
  });
});

describe("Workspaces against hostile content", () => {
  it("runs no hook, not even one placed in the mirror", async () => {
    const h = await prHistory();
    const { ws, root } = workspaces(2);
    const first = await checkout(ws, request(h));
    const mirror = path.join(root, "mirrors", readdirSync(path.join(root, "mirrors"))[0]!);
    const marker = path.join(root, "hook-ran");
    mkdirSync(path.join(mirror, "hooks"), { recursive: true });
    writeFileSync(path.join(mirror, "hooks", "post-checkout"), `#!/bin/sh\ntouch '${marker}'\n`);
    chmodSync(path.join(mirror, "hooks", "post-checkout"), 0o755);

    // Control: plain git does run it, so the hook itself works.
    await sh(["checkout", "-q", "--detach", "HEAD"], first.dir);
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);

    await first.release(); // reset + clean in a kept worktree
    const reused = await checkout(ws, request(h, { headSha: h.base })); // checkout in a kept worktree
    const added = await checkout(ws, request(h)); // worktree add
    expect(reused.timings.reusedWorktree).toBe(true);
    expect(added.timings.reusedWorktree).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it("runs no filter or textconv driver a PR names, wherever it is defined", async () => {
    const h = await prHistory({
      ".gitattributes": "*.txt filter=evil diff=evil\n",
      "shout.txt": "quiet\n",
    });
    const { ws, root } = workspaces(1);
    const marker = path.join(root, "filter-ran");
    const evil = `sh -c 'touch ${marker}; tr a-z A-Z'`;

    // Control: with the driver defined, plain git runs it.
    const control = makeTempDir("control");
    await sh(["clone", "-q", "--no-checkout", h.origin.url, control], control);
    await sh(["-c", `filter.evil.smudge=${evil}`, "checkout", "-q", h.head], control);
    expect(read(control, "shout.txt")).toBe("QUIET\n");
    rmSync(marker);

    const saved = { ...process.env };
    Object.assign(process.env, {
      GIT_CONFIG_COUNT: "3",
      GIT_CONFIG_KEY_0: "filter.evil.smudge",
      GIT_CONFIG_VALUE_0: evil,
      GIT_CONFIG_KEY_1: "diff.evil.textconv",
      GIT_CONFIG_VALUE_1: evil,
      GIT_CONFIG_KEY_2: "diff.external",
      GIT_CONFIG_VALUE_2: evil,
    });
    try {
      const first = await checkout(ws, request(h));
      expect(read(first.dir, "shout.txt")).toBe("quiet\n");
      await first.diff();

      // A job writes the driver into the shared config and plants its own repository config.
      const mirror = path.join(root, "mirrors", readdirSync(path.join(root, "mirrors"))[0]!);
      const config = readFileSync(path.join(mirror, "config"), "utf8");
      writeFileSync(
        path.join(mirror, "config"),
        `${config}[filter "evil"]\n\tsmudge = ${evil}\n\tclean = ${evil}\n[diff "evil"]\n\ttextconv = ${evil}\n`,
      );
      const planted = path.join(first.dir, ".git");
      rmSync(planted);
      await sh(["init", "-q", "."], first.dir);
      writeFileSync(path.join(planted, "config"), `[filter "evil"]\n\tsmudge = ${evil}\n\tclean = ${evil}\n`);
      utimesSync(path.join(first.dir, "shout.txt"), new Date(0), new Date(0)); // forces a re-hash through "clean"
      await first.release();

      const second = await checkout(ws, request(h));
      expect(second.dir).toBe(first.dir);
      expect(read(second.dir, "shout.txt")).toBe("quiet\n");
      await second.diff();
      expect(lstatSync(path.join(second.dir, ".git")).isFile()).toBe(true);
      expect(readFileSync(path.join(mirror, "config"), "utf8")).not.toContain("evil");
    } finally {
      process.env = saved;
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("rebuilds a worktree a killed git left locked", async () => {
    const h = await prHistory();
    const { ws } = workspaces(1);
    const first = await checkout(ws, request(h));
    await first.release();
    const admin = readFileSync(path.join(first.dir, ".git"), "utf8").replace(/^gitdir: /, "").trim();
    writeFileSync(path.join(admin, "index.lock"), "");

    const second = await checkout(ws, request(h, { headSha: h.base }));
    expect(second.timings.reusedWorktree).toBe(false);
    expect(await sh(["rev-parse", "HEAD"], second.dir)).toBe(h.base);
    expect(await status(second.dir)).toBe("");
  });
});

describe("Workspaces.sweep", () => {
  it("removes worktrees and locks a crashed process left, and keeps this process's leases", async () => {
    const h = await prHistory();
    const { ws: crashed, root } = workspaces(2);
    const stale = await crashed.checkout(request(h)); // never released: the process "died"
    const mirror = path.join(root, "mirrors", readdirSync(path.join(root, "mirrors")).find((n) => n.startsWith("github.com_octo_repo"))!);
    const lock = path.join(mirror, "refs", "upstream", "heads", "main.lock");
    writeFileSync(lock, "");

    const ws = new Workspaces({ root, poolSize: 2 });
    const mine = await checkout(ws, request(h, { repoKey: "github.com/octo/other" }));
    await ws.sweep();

    expect(existsSync(stale.dir)).toBe(false);
    expect(existsSync(mine.dir)).toBe(true);
    expect(existsSync(lock)).toBe(false);
    const registered = await sh(["--git-dir", mirror, "worktree", "list", "--porcelain"], root);
    expect(registered).not.toContain(stale.dir);

    // The swept repository works again, including the fetch the lock would have blocked.
    const newHead = await h.origin.commit({ "a.txt": "after the crash\n" });
    await h.origin.push("refs/pull/7/head");
    const fresh = await checkout(ws, request(h, { headSha: newHead }));
    expect(read(fresh.dir, "a.txt")).toBe("after the crash\n");
    expect(await status(fresh.dir)).toBe("");
  });
});
