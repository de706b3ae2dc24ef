import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WorkspaceError } from "../../../src/errors.js";
import {
  commitWorktree,
  fetchCommit,
  listChanges,
  mergeConflicts,
  patchBetween,
  pushBranch,
  remoteBranches,
} from "../../../src/workspace/commit.js";
import { basicAuth } from "../../../src/workspace/git.js";
import { Workspaces, type Lease } from "../../../src/workspace/workspaces.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { fakeGitHost, prHistory, sh, type FakeGitHost, type PrHistory } from "./origin.js";

const TOKEN = "ghs_CommitTestToken0123456789abcdefXYZ";
const AUTHOR = { name: "codex-pr-bot[bot]", email: "1+codex-pr-bot[bot]@users.noreply.github.com" };

const leases: Lease[] = [];
let host: FakeGitHost | null = null;
afterEach(async () => {
  await Promise.all(leases.splice(0).map((l) => l.release()));
  await host?.close();
  host = null;
});

async function leaseOf(h: PrHistory): Promise<Lease> {
  const ws = new Workspaces({ root: makeTempDir("commit-ws"), poolSize: 1, gitTimeoutMs: 30_000 });
  const lease = await ws.checkout({
    repoKey: "github.com/octo/repo",
    cloneUrl: h.origin.url,
    token: null,
    headSha: h.head,
    baseSha: h.base,
    refs: ["refs/heads/main", "refs/pull/7/head"],
  });
  leases.push(lease);
  return lease;
}

function write(dir: string, file: string, content: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), content);
}

describe("commitWorktree", () => {
  it("returns null when the agent changed nothing (ignored files don't count)", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "debug.log", "ignored by .gitignore\n");
    expect(await commitWorktree(lease.git, { parent: h.head, message: "x\n", author: AUTHOR })).toBeNull();
  });

  it("commits modified, added (untracked), deleted and executable files on top of the head, moving no ref", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "a.txt", "one\ntwo\nthree\n");
    write(lease.dir, "src/added.js", "export const x = 1;\n");
    write(lease.dir, "run.sh", "#!/bin/sh\necho hi\n");
    chmodSync(path.join(lease.dir, "run.sh"), 0o755);
    rmSync(path.join(lease.dir, "keep.txt"));
    write(lease.dir, "build/out.js", "ignored\n");

    const sha = await commitWorktree(lease.git, { parent: h.head, message: "Fix: things\n\nBody.\n", author: AUTHOR });
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const mirror = lease.git.mirrorDir;
    const log = await sh(["--git-dir", mirror, "log", "-1", "--format=%P|%an|%ae|%cn|%ce|%s", sha!], mirror);
    expect(log).toBe(`${h.head}|${AUTHOR.name}|${AUTHOR.email}|${AUTHOR.name}|${AUTHOR.email}|Fix: things`);

    const changes = await listChanges(lease.git, h.head, sha!);
    const byPath = Object.fromEntries(changes.map((c) => [c.path, c]));
    expect(Object.keys(byPath).sort()).toEqual(["a.txt", "keep.txt", "run.sh", "src/added.js"]);
    expect(byPath["a.txt"]).toMatchObject({ status: "modified", additions: 1, deletions: 0, binary: false, newMode: "100644" });
    expect(byPath["keep.txt"]).toMatchObject({ status: "deleted", newMode: null, newObject: null, size: null });
    expect(byPath["run.sh"]).toMatchObject({ status: "added", newMode: "100755", size: 18 });
    expect(byPath["src/added.js"]).toMatchObject({ status: "added", oldMode: null, size: 20 });

    // No branch or ref was created anywhere: the commit only exists as an object.
    expect(await sh(["--git-dir", mirror, "for-each-ref", "--contains", sha!, "--format=%(refname)"], mirror)).toBe("");
  });

  it("reports symlinks with their targets and binaries as binary", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    symlinkSync("../../etc/passwd", path.join(lease.dir, "escape"));
    writeFileSync(path.join(lease.dir, "blob.bin"), Buffer.from([0, 1, 2, 3, 0, 255]));
    const sha = await commitWorktree(lease.git, { parent: h.head, message: "x\n", author: AUTHOR });
    const changes = await listChanges(lease.git, h.head, sha!);
    expect(changes.find((c) => c.path === "escape")).toMatchObject({ newMode: "120000", linkTarget: "../../etc/passwd" });
    expect(changes.find((c) => c.path === "blob.bin")).toMatchObject({ binary: true, size: 6 });
  });

  it("makes a patch that git apply takes on the head", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "a.txt", "one\ntwo\nthree\n");
    write(lease.dir, "b.txt", "bee\n");
    const sha = await commitWorktree(lease.git, { parent: h.head, message: "x\n", author: AUTHOR });
    const patch = await patchBetween(lease.git, h.head, sha!);
    expect(patch).toContain("diff --git a/a.txt b/a.txt");
    const file = path.join(makeTempDir("patch"), "fix.patch");
    writeFileSync(file, patch);
    await sh(["apply", "--check", file], h.origin.work);
  });

  it("refuses an identity git would misread", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "a.txt", "changed\n");
    await expect(commitWorktree(lease.git, { parent: h.head, message: "x\n", author: { name: "x\ny", email: "a@b" } })).rejects.toThrow(WorkspaceError);
  });
});

describe("publishing", () => {
  it("pushes a new branch without force, lists branches by prefix, and never overwrites one", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "a.txt", "fixed\n");
    const sha = (await commitWorktree(lease.git, { parent: h.head, message: "x\n", author: AUTHOR }))!;
    const branch = "codex-pr-bot/fix/7-abc1234";
    await pushBranch(lease.git, { url: h.origin.url, token: null, sha, branch });
    expect(await sh(["--git-dir", h.origin.url, "rev-parse", `refs/heads/${branch}`], h.origin.url)).toBe(sha);
    expect(await remoteBranches(lease.git, { url: h.origin.url, token: null, prefix: branch })).toEqual([branch]);
    expect(await remoteBranches(lease.git, { url: h.origin.url, token: null, prefix: "codex-pr-bot/fix/8-" })).toEqual([]);

    // Another commit to the same name is rejected, not forced.
    await expect(pushBranch(lease.git, { url: h.origin.url, token: null, sha: h.head, branch })).rejects.toThrow(WorkspaceError);
    expect(await sh(["--git-dir", h.origin.url, "rev-parse", `refs/heads/${branch}`], h.origin.url)).toBe(sha);
  });

  it("sends the token as an HTTP header only, and never shows it in errors", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "a.txt", "fixed\n");
    const sha = (await commitWorktree(lease.git, { parent: h.head, message: "x\n", author: AUTHOR }))!;
    host = await fakeGitHost((res) => res.writeHead(403).end(`denied ${TOKEN}`));
    const err = await pushBranch(lease.git, { url: host.url, token: TOKEN, sha, branch: "codex-pr-bot/fix/7-x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect(String((err as Error).message)).not.toContain(TOKEN);
    expect(host.authorizations).toContain(`Basic ${basicAuth(TOKEN)}`);
  });

  it("rejects branch names git would read as something else", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    await expect(pushBranch(lease.git, { url: h.origin.url, token: null, sha: h.head, branch: "../evil" })).rejects.toThrow(WorkspaceError);
    await expect(pushBranch(lease.git, { url: "--upload-pack=x", token: null, sha: h.head, branch: "ok" })).rejects.toThrow(WorkspaceError);
  });
});

describe("a fix for an outdated head", () => {
  it("fetches the new head and tells a clean merge from a conflict", async () => {
    const h = await prHistory();
    const lease = await leaseOf(h);
    write(lease.dir, "a.txt", "one\nTWO\n");
    const fix = (await commitWorktree(lease.git, { parent: h.head, message: "x\n", author: AUTHOR }))!;

    // The author pushes a change elsewhere: the fix still merges.
    const clean = await h.origin.commit({ "other.txt": "x\n" }, "elsewhere");
    await h.origin.push("refs/pull/7/head");
    await fetchCommit(lease.git, { url: h.origin.url, token: null, ref: "refs/pull/7/head", sha: clean, repoName: "octo/repo" });
    expect(await mergeConflicts(lease.git, clean, fix)).toEqual([]);

    // Then rewrites the line the fix changed: a conflict in that file.
    const clash = await h.origin.commit({ "a.txt": "one\nzwei\n" }, "same line");
    await h.origin.push("refs/pull/7/head");
    await fetchCommit(lease.git, { url: h.origin.url, token: null, ref: "refs/pull/7/head", sha: clash, repoName: "octo/repo" });
    expect(await mergeConflicts(lease.git, clash, fix)).toEqual(["a.txt"]);
  });
});
