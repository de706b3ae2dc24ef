import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runningFixes } from "../../src/fix/registry.js";
import { AGENT_UMASK, openAgentAccess, type AgentUser } from "../../src/security/agent-user.js";
import { createOrigin } from "../helpers/git-origin.js";
import { makeTempDir } from "../helpers/tmp.js";
import { applyPatch, execCommand, message, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, issueCommentPayload, pullRequestPayload } from "../helpers/webhooks.js";
import { HEAD_FILE, scenario, type Scenario } from "../integration/helpers.js";
import { ensureAgentUser } from "./fixture.js";

/**
 * `@codex fix` with AGENT_USER set: the agent (an unprivileged OS user) must be able to write in its
 * worktree (apply_patch edits, adds and deletes; commands create files), and so must `fix.verify`,
 * while `.git` (the worktree's link file and the mirror it points into) stays out of its reach.
 * Afterwards nothing in the worktree belongs to the agent and the group has no write access left.
 */

/** Edits a file, adds one in a new directory, deletes a top-level one: every kind of apply_patch write. */
const PATCH = [
  "*** Begin Patch",
  "*** Update File: src/math.js",
  "@@",
  "-  return a / b;",
  '+  if (b === 0) throw new RangeError("division by zero");',
  "+  return a / b;",
  "*** Add File: lib/guard.js",
  "+export const guarded = true;",
  "*** Delete File: README.md",
  "*** End Patch",
  "",
].join("\n");

/** Run by the agent after the patch, in this order; their outputs come back to the (scripted) model. */
const COMMANDS = [
  "id -u",
  // Files the agent's own commands create, and a tracked file it replaces with identical content
  // (so the next job's `git reset` has no reason to rewrite it: only the chown-back fixes its owner).
  "mkdir -p gen && echo generated > gen/out.txt && cp package-lock.json lock.tmp && mv -f lock.tmp package-lock.json && stat -c '%u %n' gen/out.txt package-lock.json",
  // The worktree's .git link and the mirror it points into stay read-only for the agent.
  [
    'gd=$(sed -n "s/^gitdir: //p" .git); m=$(dirname "$(dirname "$gd")"); echo "mirror=$m"',
    'touch .git/x 2>&1; echo "touch-dotgit-x=$?"',
    'echo "gitdir: /tmp/evil" >> .git 2>&1; echo "append-dotgit=$?"',
    'unlink .git 2>&1; echo "rm-dotgit=$?"', // (codex refuses `rm -f` commands itself)
    'mv .git moved-git 2>&1; echo "mv-dotgit=$?"',
    'touch "$m/x" 2>&1; echo "touch-mirror=$?"',
    'touch "$m/objects/x" 2>&1; echo "touch-mirror-objects=$?"',
    'touch "$gd/x" 2>&1; echo "touch-admin=$?"',
    'echo "ref: refs/heads/pwned" > "$gd/HEAD" 2>&1; echo "write-admin-head=$?"',
    'git update-ref refs/heads/pwned HEAD 2>&1; echo "update-ref=$?"',
    'cat .git; ls -ld moved-git 2>&1 | head -1',
  ].join("\n"),
];

const VERIFY = "mkdir -p dist && echo built > dist/out.txt && grep -q RangeError src/math.js && echo verify-uid=$(id -u) && echo all tests passed";
const SUMMARY = "- Guarded `divide()` against a zero divisor.";

/** apply_patch, then each command once the previous tool output came back, then the summary. */
function script(req: MockRequest): Turn {
  const done = req.toolOutputs.length;
  if (done === 0) return applyPatch(PATCH);
  return done - 1 < COMMANDS.length ? execCommand(COMMANDS[done - 1]!) : message(SUMMARY);
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
}

interface Entry {
  path: string;
  uid: number;
  mode: number;
  kind: "dir" | "file" | "link";
}

/** Everything in the worktree, `.git` link included, with owner and mode (symlinks are not followed). */
function walk(dir: string, out: Entry[] = []): Entry[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const info = lstatSync(full);
    const kind = info.isSymbolicLink() ? "link" : info.isDirectory() ? "dir" : "file";
    out.push({ path: full, uid: info.uid, mode: info.mode & 0o7777, kind });
    if (kind === "dir") walk(full, out);
  }
  return out;
}

function worktreesOf(dataDir: string): string[] {
  const root = path.join(dataDir, "workspaces", "worktrees");
  return existsSync(root) ? readdirSync(root).flatMap((key) => readdirSync(path.join(root, key)).map((n) => path.join(root, key, n))) : [];
}

describe("fix runs as AGENT_USER", () => {
  let sc: Scenario;
  let umask: number;

  beforeEach(() => {
    runningFixes.clear();
    sc = scenario("security-fix-agent");
    umask = process.umask();
  });
  afterEach(async () => {
    await sc.close();
    process.umask(umask);
  });

  it("the agent edits, adds and deletes files and verify writes build output, .git and the mirror stay read-only, nothing stays the agent's", async () => {
    const agent: AgentUser = ensureAgentUser();
    // Operator set-up (docs/security.md): the directories above DATA_DIR are searchable by the agent.
    chmodSync(path.dirname(sc.dataDir), 0o711);

    // Snapshot of the worktree after the agent and the verification ran (both have released their
    // access by then), taken when the app checks whether the PR moved, before it publishes.
    let afterRuns: { dir: string; top: Entry; entries: Entry[] }[] = [];
    sc.gh.defaults({ config: `fix:\n  verify: "${VERIFY.replace(/"/g, '\\"')}"\n` });
    let pullReads = 0;
    const pull = () => pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }).pull_request;
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => {
      if (pullReads++ === 1) {
        afterRuns = worktreesOf(sc.dataDir).map((dir) => {
          const info = lstatSync(dir);
          return { dir, top: { path: dir, uid: info.uid, mode: info.mode & 0o7777, kind: "dir" }, entries: walk(dir) };
        });
      }
      return [200, pull()];
    });
    sc.gh.on("GET", sc.gh.repoPath("/pulls/7/comments"), () => [200, []]);
    sc.gh.on("POST", sc.gh.repoPath("/pulls"), (_m, body) => [201, { number: 8, html_url: "https://github.com/octo/demo/pull/8", draft: (body as { draft?: boolean }).draft ?? false }]);

    process.umask(AGENT_UMASK); // as the app does with AGENT_USER set
    const app = await sc.start(script, { agentUser: agent });
    await deliver(app.url, "issue_comment", issueCommentPayload(sc.repo, { number: 7, body: "@codex fix guard divide() against zero" }));
    await app.queue.idle();

    expect(sc.gh.unexpected).toEqual([]);
    const outputs = sc.mock!.requests.at(-1)!.toolOutputs;
    expect(outputs, JSON.stringify(sc.gh.bodies("POST", /\/issues\/7\/comments$/))).toHaveLength(1 + COMMANDS.length);
    const [patchOut, idOut, createOut, probeOut] = outputs as [string, string, string, string];

    // apply_patch succeeded as the agent, and the agent's commands ran as its uid.
    expect(patchOut).toMatch(/Success/);
    expect(idOut).toMatch(new RegExp(`Output:\\n${agent.uid}\\n`));
    expect(createOut).toMatch(/Process exited with code 0/);
    expect(createOut).toContain(`${agent.uid} gen/out.txt`);
    expect(createOut).toContain(`${agent.uid} package-lock.json`);

    // .git (a file here) and the mirror: every write failed.
    for (const probe of ["touch-dotgit-x", "append-dotgit", "rm-dotgit", "mv-dotgit", "touch-mirror", "touch-mirror-objects", "touch-admin", "write-admin-head", "update-ref"]) {
      expect(probeOut, probe).toMatch(new RegExp(`${probe}=[1-9]`));
    }
    expect(probeOut).toMatch(/mirror=\S+\/workspaces\/mirrors\//);
    expect(probeOut).toMatch(/^gitdir: \S+\/worktrees\/\S+$/m);
    expect(probeOut).not.toContain("/tmp/evil");
    expect(probeOut).toMatch(/No such file or directory/); // moved-git does not exist
    const bare = sc.origin.bare;
    expect(git(bare, "--git-dir", bare, "for-each-ref", "refs/heads/pwned")).toBe("");
    for (const mirror of readdirSync(path.join(sc.dataDir, "workspaces", "mirrors"))) {
      const dir = path.join(sc.dataDir, "workspaces", "mirrors", mirror);
      expect(existsSync(path.join(dir, "x")), mirror).toBe(false);
      expect(existsSync(path.join(dir, "objects", "x")), mirror).toBe(false);
      expect(git(dir, "--git-dir", dir, "for-each-ref", "refs/heads/pwned")).toBe("");
    }

    // Right after the runs: the agent's and verify's files are there, owned by the app, with no group write.
    expect(afterRuns).toHaveLength(1);
    const [{ top, entries }] = afterRuns as [(typeof afterRuns)[0]];
    const names = entries.map((e) => path.relative(top.path, e.path));
    expect(names).toEqual(expect.arrayContaining(["gen/out.txt", "dist/out.txt", "lib/guard.js", "package-lock.json", ".git"]));
    expect(names).not.toContain("README.md");
    const appUid = process.getuid!();
    expect(entries.filter((e) => e.uid !== appUid).map((e) => e.path)).toEqual([]);
    expect(top.uid).toBe(appUid);
    expect(top.mode & 0o077, `worktree mode ${top.mode.toString(8)}`).toBe(0);
    expect(entries.filter((e) => e.kind !== "link" && (e.mode & 0o6022) !== 0).map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);

    // The pushed branch has exactly the agent's work (verify's output is not part of it: it ran after the commit).
    const branch = `codex-pr-bot/fix/7-${sc.headSha.slice(0, 7)}`;
    expect(git(bare, "--git-dir", bare, "show", `${branch}:src/math.js`)).toBe(
      HEAD_FILE.replace("  return a / b;", '  if (b === 0) throw new RangeError("division by zero");\n  return a / b;').trimEnd(),
    );
    expect(git(bare, "--git-dir", bare, "diff", "--name-status", sc.headSha, branch).split("\n").sort()).toEqual([
      "A\tgen/out.txt",
      "A\tlib/guard.js",
      "D\tREADME.md",
      "M\tsrc/math.js",
    ]);

    // The verification ran as the agent, wrote in the worktree and passed.
    const created = sc.gh.bodies<{ body: string; draft: boolean }>("POST", /\/pulls$/);
    expect(created).toHaveLength(1);
    expect(created[0]!.body).toContain(`verify-uid=${agent.uid}`);
    expect(created[0]!.body).toMatch(/✅ `.*` \*\*passed\*\*/);
    expect(created[0]!.draft).toBe(false);

    // After the job: the worktree is clean, owned by the app, closed to the agent.
    for (const dir of worktreesOf(sc.dataDir)) {
      expect(git(dir, "status", "--porcelain", "--untracked-files=all")).toBe("");
      expect(walk(dir).filter((e) => e.uid === agent.uid).map((e) => e.path)).toEqual([]);
      expect(lstatSync(dir).mode & 0o077).toBe(0);
      expect(readFileSync(path.join(dir, ".git"), "utf8")).toMatch(/^gitdir: /);
    }
    const [summary] = app.runs.list();
    expect(summary).toMatchObject({ status: "succeeded" });
  });

  it("openAgentAccess(writable) on its own: the kernel alone keeps .git and the mirror from the agent, and release takes everything back", async () => {
    // No codex sandbox here: the agent's shell runs straight as its uid, so only file ownership and
    // modes stand between it and .git (the sandbox mounts .git read-only too, on top of this).
    const agent = ensureAgentUser();
    const root = makeTempDir("agent-access");
    chmodSync(root, 0o711);
    const dataDir = path.join(root, "data");
    const origin = createOrigin(root, { "README.md": "# demo\n", "src/a.js": "export const a = 1;\n", "tool.sh": "#!/bin/sh\n" });
    const mirror = path.join(dataDir, "workspaces", "mirrors", "demo.git");
    const worktree = path.join(dataDir, "workspaces", "worktrees", "demo", "0");
    const homesRoot = path.join(dataDir, "codex-homes");
    const home = path.join(homesRoot, "run-1");
    mkdirSync(home, { recursive: true });
    mkdirSync(path.dirname(worktree), { recursive: true });
    const sha = origin.sha("HEAD");
    execFileSync("git", ["clone", "--bare", "-q", origin.bare, mirror], { stdio: "pipe" });
    execFileSync("git", ["--git-dir", mirror, "worktree", "add", "--detach", "-q", worktree, sha], { stdio: "pipe" });
    const dotGit = readFileSync(path.join(worktree, ".git"), "utf8");
    const asAgent = (script: string): string =>
      execFileSync("sh", ["-c", script], { cwd: worktree, uid: agent.uid, gid: agent.gid, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const runAs = { user: agent, dataDir };

    // A read-only grant (review/audit/ask) still gives no write at all.
    let close = await openAgentAccess(runAs, { home, homesRoot, worktree });
    const ro = asAgent('echo x >> src/a.js 2>/dev/null; echo "edit=$?"; touch new 2>/dev/null; echo "create=$?"; cat README.md');
    await close();
    expect(ro).toMatch(/edit=[1-9]/);
    expect(ro).toMatch(/create=[1-9]/);
    expect(ro).toContain("# demo");

    close = await openAgentAccess(runAs, { home, homesRoot, worktree, writable: true });
    const mode = (p: string) => lstatSync(path.join(worktree, p)).mode & 0o7777;
    expect(mode(".").toString(8)).toBe("1770");
    expect(mode(".git") & 0o060).toBe(0o040); // group read, no group write
    expect(lstatSync(path.join(worktree, ".git")).uid).toBe(process.getuid!());
    const out = asAgent(
      [
        'gd=$(sed -n "s/^gitdir: //p" .git); m=$(dirname "$(dirname "$gd")")',
        'echo edited >> src/a.js; echo "edit=$?"',
        'mv src/a.js src/b.js; echo "rename=$?"',
        'rm README.md; echo "delete-top=$?"',
        'mv tool.sh bin.sh; echo "rename-top=$?"',
        'mkdir -p out/deep && echo built > out/deep/f && chmod 4755 out/deep/f; echo "create=$?"',
        'ln -s /etc/passwd out/link; echo "symlink=$?"',
        'echo "gitdir: /tmp/evil" >> .git 2>/dev/null; echo "append-dotgit=$?"',
        'rm -f .git 2>/dev/null; echo "rm-dotgit=$?"',
        'mv .git moved 2>/dev/null; echo "mv-dotgit=$?"',
        'mv src .git 2>/dev/null; echo "replace-dotgit=$?"',
        'touch "$m/x" 2>/dev/null; echo "touch-mirror=$?"',
        'touch "$m/objects/x" 2>/dev/null; echo "touch-objects=$?"',
        'touch "$gd/x" 2>/dev/null; echo "touch-admin=$?"',
        'git update-ref refs/heads/pwned HEAD 2>/dev/null; echo "update-ref=$?"',
        "chmod 777 . 2>/dev/null; echo \"chmod-top=$?\"",
      ].join("\n"),
    );
    for (const ok of ["edit", "rename", "delete-top", "rename-top", "create", "symlink"]) expect(out, ok).toContain(`${ok}=0`);
    for (const denied of ["append-dotgit", "rm-dotgit", "mv-dotgit", "replace-dotgit", "touch-mirror", "touch-objects", "touch-admin", "update-ref", "chmod-top"]) {
      expect(out, denied).toMatch(new RegExp(`${denied}=[1-9]`));
    }
    expect(lstatSync(path.join(worktree, "out", "deep", "f")).uid).toBe(agent.uid);
    await close();
    await close(); // idempotent

    expect(readFileSync(path.join(worktree, ".git"), "utf8")).toBe(dotGit);
    expect(existsSync(path.join(mirror, "x"))).toBe(false);
    expect(execFileSync("git", ["--git-dir", mirror, "for-each-ref", "refs/heads/pwned"], { encoding: "utf8" })).toBe("");
    // Everything back to the app's uid, no group/other write, no setuid; the worktree closed.
    const entries = walk(worktree);
    expect(entries.map((e) => path.relative(worktree, e.path))).toEqual(expect.arrayContaining(["out/deep/f", "out/link", "src/b.js", "bin.sh"]));
    expect(entries.filter((e) => e.uid !== process.getuid!()).map((e) => e.path)).toEqual([]);
    expect(entries.filter((e) => e.kind !== "link" && (e.mode & 0o6022) !== 0).map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
    expect(mode(".").toString(8)).toBe("700");
    expect(asAgentFails(() => asAgent("ls"))).toBe(true);
    // The app commits the agent's work and the next job's reset/clean removes what is left.
    const wt = (...args: string[]) => git(worktree, ...args);
    wt("add", "--all");
    expect(wt("status", "--porcelain", "--no-renames").split("\n").sort()).toEqual(["A  bin.sh", "A  out/deep/f", "A  out/link", "A  src/b.js", "D  README.md", "D  src/a.js", "D  tool.sh"]);
    wt("reset", "-q", "--hard", sha);
    wt("clean", "-ffdxq");
    expect(wt("status", "--porcelain", "--untracked-files=all")).toBe("");
  });
});

function asAgentFails(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
}
