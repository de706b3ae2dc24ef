import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildEnv, run } from "../../src/util/exec.js";
import { startMockMessages, text, toolUse, type MockMessages, type Script as ClaudeScript } from "../helpers/mock-messages.js";
import { execCommand, inputText, message, startMockResponses, type MockRequest, type MockResponses, type Turn } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { captureIO, claudeEnv, CLI, CODEX_BIN, gitIn, makeRepo, makeTemplate, reviewJson, TSX } from "../unit/cli/fixture.js";

/**
 * `codex-pr-bot fix` end to end: the real pinned codex binary (workspace-write sandbox) against the
 * scripted Responses server edits a scratch worktree of a real git checkout; the patch is written,
 * printed, applied, or refused by the safety rules.
 */

const base = makeTempDir("cli-fix");
let repo: string;
/** The feature branch's commit every test starts from. */
let head: string;
let mock: MockResponses;
let env: NodeJS.ProcessEnv;
/** What codex does on its first turn; after the command's output came back it answers `summary`. */
let firstTurn: (req: MockRequest) => Turn;
let summary = "Bounded the copy in main.c.";

const BOUND_COPY = "sed -i 's/strcpy(buf, v\\[1\\]);/strncpy(buf, v[1], sizeof buf - 1);/' main.c";
const BOUNDED_LINE = "  strncpy(buf, v[1], sizeof buf - 1);";

beforeAll(async () => {
  repo = await makeRepo(base);
  head = (await gitIn(repo, "rev-parse", "HEAD")).trim();
  mock = await startMockResponses((req) => (req.hasToolOutput ? message(summary) : firstTurn(req)));
  env = {
    PATH: process.env.PATH,
    HOME: base,
    DATA_DIR: path.join(base, "state"),
    CODEX_HOME_TEMPLATE: makeTemplate(base, mock.url),
    CODEX_BIN,
  };
});

afterAll(async () => {
  await mock.close();
});

afterEach(async () => {
  // Every run leaves the user's checkout as it was (or as --apply made it): put it back for the next test.
  await gitIn(repo, "reset", "-q", "--hard", head);
  await gitIn(repo, "clean", "-qfd");
  summary = "Bounded the copy in main.c.";
  // No scratch worktree survives a run.
  expect((await gitIn(repo, "worktree", "list", "--porcelain")).match(/^worktree /gm)).toHaveLength(1);
  const scratch = path.join(base, "state", "worktrees");
  expect(existsSync(scratch) ? readdirSync(scratch) : []).toEqual([]);
});

async function fix(...args: string[]) {
  const io = captureIO(repo, env);
  const code = await main(["fix", ...args], io);
  return { code, out: io.out(), err: io.err() };
}

/** The command codex ran, as its output came back to the model: it must have exited 0. */
function lastCommandOutput(): string {
  return mock.requests.at(-1)!.toolOutputs.join("\n");
}

const mainC = (): string => readFileSync(path.join(repo, "main.c"), "utf8");

/** The user commits `content` as main.c while the agent works (the mock's script runs in this process). */
function commitMeanwhile(content: string): void {
  writeFileSync(path.join(repo, "main.c"), content);
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: repo, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
      stdio: "pipe",
    });
  git("commit", "-qam", "meanwhile");
}

describe("codex-pr-bot fix", () => {
  it("writes a patch that git apply accepts, made in a scratch worktree while the checkout stays untouched", async () => {
    firstTurn = () => execCommand(BOUND_COPY);
    const patchFile = path.join(base, "bounded.patch");
    const { code, err, out } = await fix("-o", patchFile, "bound", "the", "copy");
    expect(code).toBe(0);
    expect(out).toBe("");
    expect(lastCommandOutput()).toMatch(/Process exited with code 0/);
    expect(err).toMatch(/^codex worked on feature \([0-9a-f]{12}\) for .* and ran 1 command\(s\)\.$/m);
    expect(err).toContain("codex's change: 1 file changed, +1 −1");
    expect(err).toMatch(/^ {2}modified {5}main\.c \+1 −1$/m);
    expect(err).toContain("Bounded the copy in main.c.");
    expect(err).toContain(`Wrote the patch to ${patchFile}`);

    // The app's fix prompt, with the instruction and the change base...HEAD as context.
    const prompt = inputText(mock.requests.at(-1)!.body);
    expect(prompt).toContain("automated software engineer");
    expect(prompt).toContain("bound the copy");
    expect(prompt).toContain("`main.c`");
    expect(prompt).toContain("not as a pull request");

    const patch = readFileSync(patchFile, "utf8");
    expect(patch).toContain("+  strncpy(buf, v[1], sizeof buf - 1);");
    expect(patch).toContain("-  strcpy(buf, v[1]);");
    expect(mainC()).toContain("strcpy(buf, v[1]);");
    expect(await gitIn(repo, "status", "--porcelain")).toBe("");
    await gitIn(repo, "apply", "--check", patchFile);
    await gitIn(repo, "apply", patchFile);
    expect(mainC()).toContain(BOUNDED_LINE);
  });

  it("--apply changes the working tree (unstaged) and writes no patch file", async () => {
    firstTurn = () => execCommand(BOUND_COPY);
    const { code, err } = await fix("--apply", "bound the copy");
    expect(code).toBe(0);
    expect(lastCommandOutput()).toMatch(/Process exited with code 0/);
    expect(err).toContain("Applied to the working tree.");
    expect(mainC()).toContain(BOUNDED_LINE);
    expect(await gitIn(repo, "status", "--porcelain")).toBe(" M main.c\n");
    expect(existsSync(path.join(repo, "codex-pr-bot-fix.patch"))).toBe(false);
  });

  it("-o - prints the patch on stdout; the default is codex-pr-bot-fix.patch in the current directory", async () => {
    firstTurn = () => execCommand(BOUND_COPY);
    const printed = await fix("-o", "-", "bound the copy");
    expect(printed.code).toBe(0);
    expect(printed.out).toMatch(/^diff --git a\/main\.c b\/main\.c$/m);
    expect(printed.out).toContain(`+${BOUNDED_LINE}`);
    const written = await fix("bound the copy");
    expect(written.code).toBe(0);
    expect(readFileSync(path.join(repo, "codex-pr-bot-fix.patch"), "utf8")).toBe(printed.out);
  });

  it("--apply refuses uncommitted changes up front, without running the agent", async () => {
    firstTurn = () => execCommand(BOUND_COPY);
    writeFileSync(path.join(repo, "main.c"), `${mainC()}// local edit\n`);
    const before = mock.requests.length;
    const { code, err } = await fix("--apply", "bound the copy");
    expect(code).toBe(1);
    expect(err).toContain("the working tree has uncommitted changes (main.c): commit or stash them");
    expect(mock.requests.length).toBe(before);
    // Without --apply it runs on HEAD and says the local edit was not part of it.
    const patchOnly = await fix("-o", path.join(base, "dirty.patch"), "bound the copy");
    expect(patchOnly.code).toBe(0);
    expect(patchOnly.err).toMatch(/^Warning: the agent worked on HEAD \([0-9a-f]{12}\); your uncommitted changes \(main\.c\) were not part of it$/m);
  });

  it("keeps the patch and exits 1 when it does not apply to the working tree any more", async () => {
    // While the agent works, the user edits the same line: neither a plain nor a three-way apply can take the patch.
    firstTurn = () => {
      writeFileSync(path.join(repo, "main.c"), mainC().replace("strcpy(buf, v[1]);", "memcpy(buf, v[1], 8);"));
      return execCommand(BOUND_COPY);
    };
    const { code, err } = await fix("--apply", "bound the copy");
    expect(code).toBe(1);
    expect(err).toContain("codex-pr-bot fix: the patch does not apply to the working tree");
    expect(err).toContain("The patch is kept in codex-pr-bot-fix.patch.");
    expect(readFileSync(path.join(repo, "codex-pr-bot-fix.patch"), "utf8")).toContain(`+${BOUNDED_LINE}`);
    expect(mainC()).toContain("memcpy(buf, v[1], 8);");
  });

  it("--apply falls back to a three-way merge when HEAD moved on while the agent worked", async () => {
    firstTurn = () => {
      commitMeanwhile(mainC().replace("#include <string.h>", "#include <string.h>\n#include <stdio.h>"));
      return execCommand(BOUND_COPY);
    };
    const { code, err } = await fix("--apply", "bound the copy");
    expect(err).toContain("Applied to the working tree (with a three-way merge");
    expect(code).toBe(0);
    expect(mainC()).toContain("#include <stdio.h>");
    expect(mainC()).toContain(BOUNDED_LINE);
    expect(await gitIn(repo, "status", "--porcelain")).toBe("M  main.c\n");
  });

  it("--apply exits 1 and lists the conflicts when the same line was changed and committed meanwhile", async () => {
    firstTurn = () => {
      commitMeanwhile(mainC().replace("strcpy(buf, v[1]);", "memcpy(buf, v[1], 8);"));
      return execCommand(BOUND_COPY);
    };
    const { code, err } = await fix("--apply", "bound the copy");
    expect(code).toBe(1);
    expect(err).toContain("Applied with a three-way merge, leaving conflicts to resolve in: main.c");
    expect(err).toContain("The patch is also in codex-pr-bot-fix.patch.");
    expect(mainC()).toMatch(/^<<<<<<< /m);
  });

  it("refuses a change to a GitHub Actions workflow, writing no patch", async () => {
    firstTurn = () => execCommand("mkdir -p .github/workflows && printf 'on: push\\n' > .github/workflows/x.yml");
    summary = "Added CI.";
    const patchFile = path.join(base, "refused.patch");
    const { code, err } = await fix("-o", patchFile, "add CI");
    expect(lastCommandOutput()).toMatch(/Process exited with code 0/);
    expect(code).toBe(1);
    expect(err).toContain("Refused: the change breaks the fix safety rules, so no patch was written:");
    expect(err).toContain(".github/workflows/x.yml: adds a GitHub Actions workflow (allowed by fix.allow_workflow_changes in the config)");
    expect(existsSync(patchFile)).toBe(false);
    expect(existsSync(path.join(repo, ".github"))).toBe(false);
  });

  it("exits 3 when the agent changes nothing", async () => {
    firstTurn = () => execCommand("grep -n strcpy main.c");
    summary = "The copy is already fine; nothing to change.";
    const patchFile = path.join(base, "none.patch");
    const { code, err } = await fix("-o", patchFile, "bound the copy");
    expect(lastCommandOutput()).toMatch(/strcpy\(buf, v\[1\]\)/);
    expect(code).toBe(3);
    expect(err).toContain("codex changed nothing.");
    expect(err).toContain("nothing to change");
    expect(existsSync(patchFile)).toBe(false);
  });

  it("runs fix.verify in the scratch worktree: a failure exits 4 with the patch written and not applied", async () => {
    firstTurn = () => execCommand(BOUND_COPY);
    const passing = path.join(base, "verify-ok.yml");
    writeFileSync(passing, 'fix:\n  verify: "grep -q strncpy main.c && echo verified-ok"\n');
    const ok = await fix("--config", passing, "--apply", "bound the copy");
    expect(ok.code).toBe(0);
    expect(ok.err).toMatch(/^Verification `grep -q strncpy main\.c && echo verified-ok` passed/m);
    expect(mainC()).toContain(BOUNDED_LINE);
    await gitIn(repo, "checkout", "--", "main.c");

    const failing = path.join(base, "verify-bad.yml");
    writeFileSync(failing, 'fix:\n  verify: "echo 1 test failed; exit 1"\n');
    const patchFile = path.join(base, "unverified.patch");
    const bad = await fix("--config", failing, "--apply", "-o", patchFile, "bound the copy");
    expect(bad.code).toBe(4);
    expect(bad.err).toContain("Verification `echo 1 test failed; exit 1` failed (exit 1).");
    expect(bad.err).toContain("    1 test failed");
    expect(bad.err).toContain("Not applied, because the verification failed.");
    expect(readFileSync(patchFile, "utf8")).toContain(`+${BOUNDED_LINE}`);
    expect(mainC()).toContain("strcpy(buf, v[1]);");
  });

  it("--findings fixes what a review report found; --mode tests needs no instruction", async () => {
    firstTurn = () => execCommand(BOUND_COPY);
    const report = path.join(base, "review.json");
    const io = captureIO(repo, env);
    // A real report, written by the review command.
    const reviewMock = await startMockResponses(() => message(reviewJson()));
    try {
      const reviewEnv = { ...env, CODEX_HOME_TEMPLATE: makeTemplate(path.join(base, "review-template"), reviewMock.url) };
      expect(await main(["review", "--base", "main", "--format", "json", "-o", report], { ...io, env: reviewEnv })).toBe(0);
    } finally {
      await reviewMock.close();
    }
    const fromReport = await fix("--findings", report, "-o", path.join(base, "findings.patch"));
    expect(fromReport.code).toBe(0);
    const prompt = inputText(mock.requests.at(-1)!.body);
    expect(prompt).toContain("Unbounded strcpy overflows buf");
    expect(prompt).toContain("Suggested replacement for those lines");

    firstTurn = () => execCommand("printf '#include <assert.h>\\nint main(void) { return 0; }\\n' > test_main.c");
    summary = "Added test_main.c.";
    const tests = await fix("--mode", "tests", "-o", path.join(base, "tests.patch"));
    expect(tests.code).toBe(0);
    expect(inputText(mock.requests.at(-1)!.body)).toContain("Write tests for the code this pull request adds or changes");
    expect(tests.err).toMatch(/^ {2}added {8}test_main\.c \+2 −0$/m);
  });

  it("reports bad command lines with exit 1", async () => {
    const none = await fix();
    expect(none.code).toBe(1);
    expect(none.err).toContain("say what to fix");
    const both = await fix("--executor", "both", "x");
    expect(both.code).toBe(1);
    expect(both.err).toContain("--executor both is for reviews");
    const mode = await fix("--mode", "rewrite", "x");
    expect(mode.code).toBe(1);
    expect(mode.err).toContain("--mode must be fix or tests");
    const claude = await fix("--executor", "claude", "x");
    expect(claude.code).toBe(1);
    expect(claude.err).toContain("claude is not set up");
    const report = path.join(base, "not-a-report.json");
    writeFileSync(report, JSON.stringify({ findings: "none" }));
    const badReport = await fix("--findings", report);
    expect(badReport.code).toBe(1);
    expect(badReport.err).toContain("is not a codex-pr-bot review report");
  });

  it("works as the installed bin: a spawned process exits 3 when nothing changed", async () => {
    firstTurn = () => execCommand("true");
    summary = "Nothing to do.";
    const result = await run(TSX, [CLI, "fix", "bound the copy"], { cwd: repo, env: buildEnv([], env), timeoutMs: 120_000 });
    expect(result.stderr).toContain("codex changed nothing.");
    expect(result.exitCode).toBe(3);
  });
});

describe("codex-pr-bot fix --executor claude", () => {
  let claudeMock: MockMessages | null = null;
  afterEach(async () => {
    await claudeMock?.close();
    claudeMock = null;
  });

  it("claude edits the scratch worktree with its Edit tool and the patch applies", async () => {
    // The scratch worktree is the only directory under the state dir's worktrees while the run lasts.
    const mainPath = (): string => {
      const root = path.join(base, "state", "worktrees");
      return path.join(root, readdirSync(root)[0]!, "main.c");
    };
    const script: ClaudeScript = (_req, n) =>
      n === 1
        ? toolUse("Read", { file_path: mainPath() })
        : n === 2
          ? toolUse("Edit", { file_path: mainPath(), old_string: "strcpy(buf, v[1]);", new_string: "strncpy(buf, v[1], sizeof buf - 1);" })
          : text("Bounded the copy.");
    claudeMock = await startMockMessages(script);
    const io = captureIO(repo, { ...env, ...claudeEnv(claudeMock.url) });
    const patchFile = path.join(base, "claude.patch");
    const code = await main(["fix", "--executor", "claude", "-o", patchFile, "bound the copy"], io);
    expect(claudeMock.requests.flatMap((r) => r.toolErrors)).toEqual([]);
    expect(code).toBe(0);
    expect(io.err()).toContain("claude's change: 1 file changed, +1 −1");
    const patch = readFileSync(patchFile, "utf8");
    expect(patch).toContain(`+${BOUNDED_LINE}`);
    await gitIn(repo, "apply", "--check", patchFile);
    expect(mainC()).toContain("strcpy(buf, v[1]);");
    rmSync(patchFile);
  });
});
