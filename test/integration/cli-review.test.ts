import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import AjvModule from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildEnv, run } from "../../src/util/exec.js";
import { afterToolResult, apiError, httpError, startMockMessages, structured, toolUse, type MockMessages, type Script } from "../helpers/mock-messages.js";
import { execCommand, inputText, message, startMockResponses, type MockResponses } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import {
  captureIO,
  CLAUDE_KEY,
  claudeEnv,
  claudeReview,
  CLI,
  CODEX_BIN,
  gitIn,
  makeRepo,
  makeTemplate,
  reviewJson,
  strcpyFinding,
  TSX,
} from "../unit/cli/fixture.js";

// CommonJS packages: under NodeNext their default import is module.exports, whose `default` is the export.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

/**
 * `codex-pr-bot review` end to end: the real pinned codex binary against the scripted Responses
 * server, on a real git checkout. Formats, exit codes, --uncommitted and the spawned bin.
 */

const base = makeTempDir("cli-review");
let repo: string;
let mock: MockResponses;
let env: NodeJS.ProcessEnv;
let answer = reviewJson();
/** When set, codex first runs this command in its sandbox, then answers. */
let commandFirst: string | null = null;

beforeAll(async () => {
  repo = await makeRepo(base);
  mock = await startMockResponses((req) => (commandFirst !== null && !req.hasToolOutput ? execCommand(commandFirst) : message(answer)));
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

async function review(...args: string[]) {
  const io = captureIO(repo, env);
  const code = await main(["review", ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe("codex-pr-bot review", () => {
  it("prints text findings as file:line, skips filtered files and exits 0 without --fail-on", async () => {
    answer = reviewJson();
    const { code, out, err } = await review("--base", "main");
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toMatch(/^main\.c:4: \[P1\] Unbounded strcpy overflows buf$/m);
    expect(out).toContain("Skipped by the path filters: package-lock.json");
    expect(out).toContain("1 finding(s): 1 P1.");
    // The prompt is the pipeline's, with the local range and the commit subject as the title.
    const prompt = inputText(mock.requests.at(-1)!.body);
    expect(prompt).toContain("copy argv");
    expect(prompt).toContain("`main.c`");
    expect(prompt).not.toContain("modified `package-lock.json`");
  });

  it("exits 2 when a finding reaches --fail-on, 0 when none does", async () => {
    answer = reviewJson();
    const failing = await review("--base", "main", "--fail-on", "P1");
    expect(failing.code).toBe(2);
    expect(failing.err).toContain("--fail-on P1");
    const passing = await review("--base", "main", "--fail-on", "p0");
    expect(passing.code).toBe(0);
  });

  it("prints the documented JSON, marking findings outside the diff", async () => {
    answer = reviewJson([strcpyFinding(), strcpyFinding({ title: "Stale docs", priority: 2, code_location: { file_path: "README.md", line_range: { start: 1, end: 1 } }, anchor_code: "# demo", suggestion: null })]);
    const { code, out } = await review("--base", "main", "--format", "json");
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json).toMatchObject({
      version: 1,
      mode: "review",
      base: { ref: "main" },
      head: { ref: "feature", uncommitted: false },
      verdict: "patch is incorrect",
      filesReviewed: ["main.c"],
      filesSkipped: ["package-lock.json"],
    });
    expect(json.findings).toHaveLength(2);
    expect(json.findings[0]).toMatchObject({ severity: "P1", path: "main.c", startLine: 4, endLine: 4, inDiff: true, outsideReason: null });
    expect(json.findings[1]).toMatchObject({ severity: "P2", path: "README.md", startLine: 1, inDiff: false, outsideReason: "file-not-in-diff" });
    expect(json.findings[0].fingerprint).toMatch(/^[0-9a-f]+$/);
  });

  it("writes SARIF 2.1.0 that validates against the official schema", async () => {
    answer = reviewJson([strcpyFinding(), strcpyFinding({ title: "Nit", priority: 3, suggestion: null })]);
    const file = path.join(base, "out.sarif");
    const md = path.join(base, "out.md");
    const { code, err, out } = await review("--base", "main", "--mode", "audit", "--format", "sarif", "--min-severity", "P3", "-o", file, "--write", `markdown:${md}`);
    expect(code).toBe(0);
    expect(out).toBe("");
    expect(readFileSync(md, "utf8")).toContain("## Codex security audit");
    expect(err).toContain("Wrote the sarif report");
    const sarif = JSON.parse(readFileSync(file, "utf8"));
    const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, "../unit/cli/sarif-schema-2.1.0.json"), "utf8"));
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const valid = validate(sarif);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(sarif.version).toBe("2.1.0");
    const [run] = sarif.runs;
    expect(run.results).toHaveLength(2);
    expect(run.results[0]).toMatchObject({
      ruleId: "codex-pr-bot/audit/P1",
      level: "error",
      locations: [{ physicalLocation: { artifactLocation: { uri: "main.c", uriBaseId: "%SRCROOT%" }, region: { startLine: 4, endLine: 4 } } }],
    });
    expect(run.results[1]).toMatchObject({ ruleId: "codex-pr-bot/audit/P3", level: "note" });
    expect(run.tool.driver.rules[run.results[0].ruleIndex].id).toBe(run.results[0].ruleId);
    expect(run.tool.driver.rules[1].properties["security-severity"]).toBe("8.0");
  });

  it("a broken SARIF document fails the same validation (the check can fail)", () => {
    const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, "../unit/cli/sarif-schema-2.1.0.json"), "utf8"));
    const ajv = new Ajv({ strict: false, unicodeRegExp: false });
    addFormats(ajv);
    expect(ajv.validate(schema, { version: "2.1.0", runs: [{ results: [{ message: { text: "x" }, level: "severe" }] }] })).toBe(false);
  });

  it("renders markdown", async () => {
    answer = reviewJson();
    const { code, out } = await review("--base", "main", "--format", "markdown");
    expect(code).toBe(0);
    expect(out).toContain("## Codex review");
    expect(out).toContain("### [P1] Unbounded strcpy overflows buf");
    expect(out).toContain("`main.c:4`");
  });

  it("--uncommitted reviews the working tree and tells the agent how to see it", async () => {
    answer = reviewJson([]);
    writeFileSync(path.join(repo, "extra.c"), "int extra(void) { return 1; }\n");
    await gitIn(repo, "add", "extra.c");
    try {
      const { code, out } = await review("--base", "main", "--uncommitted", "--format", "json");
      expect(code).toBe(0);
      const json = JSON.parse(out);
      expect(json.head.uncommitted).toBe(true);
      expect(json.filesReviewed).toEqual(["extra.c", "main.c"]);
      expect(json.findings).toEqual([]);
      expect(inputText(mock.requests.at(-1)!.body)).toContain("includes uncommitted changes");
      // Without the flag the staged file is not part of the review.
      const committed = JSON.parse((await review("--base", "main", "--format", "json")).out);
      expect(committed.filesReviewed).toEqual(["main.c"]);
    } finally {
      await gitIn(repo, "rm", "-qf", "extra.c");
    }
  });

  it("reports usage errors and set-up errors with exit 1", async () => {
    const badFormat = await review("--format", "xml");
    expect(badFormat.code).toBe(1);
    expect(badFormat.err).toContain("--format must be one of text, json, sarif, markdown");
    const badFlag = await review("--nope");
    expect(badFlag.code).toBe(1);
    expect(badFlag.err).toContain("--help");
    const claude = await review("--executor", "claude");
    expect(claude.code).toBe(1);
    expect(claude.err).toContain("claude is not set up: set ANTHROPIC_API_KEY, or CLAUDE_CODE_OAUTH_TOKEN");
    const badExecutor = await review("--executor", "gemini");
    expect(badExecutor.code).toBe(1);
    expect(badExecutor.err).toContain("--executor must be codex, claude or both");
    const badBase = await review("--base", "does-not-exist");
    expect(badBase.code).toBe(1);
    expect(badBase.err).toContain("does-not-exist does not name a commit");
    const notRepo = captureIO("/", env);
    expect(await main(["review"], notRepo)).toBe(1);
    expect(notRepo.err()).toContain("is not inside a git checkout");
  });

  it("fails with exit 1 when the agent's answer is unusable", async () => {
    answer = "not json at all";
    const { code, err } = await review("--base", "main");
    expect(code).toBe(1);
    expect(err).toContain("was not JSON");
  });

  it("works as the installed bin: a spawned process exits 2 on --fail-on", async () => {
    answer = reviewJson();
    const result = await run(TSX, [CLI, "review", "--base", "main", "--fail-on", "P2"], {
      cwd: repo,
      env: buildEnv([], env),
      timeoutMs: 120_000,
    });
    expect(result.stderr).toContain("--fail-on P2");
    expect(result.stdout).toMatch(/^main\.c:4: \[P1\]/m);
    expect(result.exitCode).toBe(2);
  });
});

describe("codex-pr-bot review --executor claude|both", () => {
  let claudeMock: MockMessages | null = null;

  afterEach(async () => {
    commandFirst = null;
    await claudeMock?.close();
    claudeMock = null;
  });

  async function withClaude(script: Script, ...args: string[]) {
    claudeMock = await startMockMessages(script);
    const io = captureIO(repo, { ...env, ...claudeEnv(claudeMock.url) });
    const code = await main(["review", "--base", "main", ...args], io);
    return { code, out: io.out(), err: io.err() };
  }

  /** Claude runs read-only git first (its result must reach the model, not be denied), then answers. */
  const claudeReads = (): Script => afterToolResult(toolUse("Bash", { command: "git log --oneline -1" }), structured(claudeReview()));

  it("--executor claude reviews with Claude alone, after a real read-only git command", async () => {
    const requestsBefore = mock.requests.length;
    const { code, out, err } = await withClaude(claudeReads(), "--executor", "claude", "--format", "json");
    expect(err).toBe("");
    expect(code).toBe(0);
    // The command really ran in the checkout: its output (the commit subject) came back to the model.
    const second = claudeMock!.requests[1]!;
    expect(second.toolErrors).toEqual([]);
    expect(second.toolResults.join("\n")).toContain("copy argv");
    expect(mock.requests.length).toBe(requestsBefore); // codex was not asked
    const json = JSON.parse(out);
    expect(json.agents).toMatchObject([{ name: "claude", status: "succeeded", error: null, model: "claude-sonnet-4-5" }]);
    expect(json.agents[0].commandsRun).toBe(1);
    expect(json.findings.map((f: { title: string; agents: string[] }) => [f.title, f.agents])).toEqual([
      ["strcpy into buf can overflow the 8-byte buffer", ["claude"]],
      ["Missing check that argv[1] exists", ["claude"]],
    ]);
    // Same prompt as codex gets, and the key stays with the CLI.
    expect(JSON.stringify(claudeMock!.requests[0]!.body.messages)).toContain("`main.c`");
    expect(JSON.stringify(claudeMock!.requests.map((r) => r.body))).not.toContain(CLAUDE_KEY);
  });

  it("--executor both runs the two in parallel and merges: the shared finding is agreed and first, in every format", async () => {
    commandFirst = "git diff --stat main...HEAD";
    answer = reviewJson();
    const sarifFile = path.join(base, "both.sarif");
    const mdFile = path.join(base, "both.md");
    const { code, out, err } = await withClaude(claudeReads(), "--executor", "both", "--write", `sarif:${sarifFile}`, "--write", `markdown:${mdFile}`);
    expect(err).toBe("");
    expect(code).toBe(0);
    // Both agents really ran a command: codex in its sandbox (exit 0), claude through its Bash tool.
    expect(mock.requests.at(-1)!.toolOutputs.join("\n")).toMatch(/Process exited with code 0/);
    expect(claudeMock!.requests[1]!.toolResults.join("\n")).toContain("copy argv");

    expect(out).toMatch(/^main\.c:4: \[P1\] Unbounded strcpy overflows buf\n(?:.*\n)*? {4}Found by: codex and claude \(agreed\)$/m);
    expect(out).toMatch(/^main\.c:4: \[P1\] Missing check that argv\[1\] exists\n(?:.*\n)*? {4}Found by: claude$/m);
    expect(out.indexOf("Unbounded strcpy")).toBeLessThan(out.indexOf("Missing check"));
    expect(out).toContain("Review by codex and claude of feature");
    expect(out).toContain("2 finding(s): 2 P1.");

    const md = readFileSync(mdFile, "utf8");
    expect(md).toContain("## Codex and Claude review");
    expect(md).toContain("_Found by: codex and claude (agreed)_");
    expect(md).toContain("_Found by: claude_");
    const sarif = JSON.parse(readFileSync(sarifFile, "utf8"));
    expect(sarif.runs[0].results.map((r: { properties: { foundBy: string[] } }) => r.properties.foundBy)).toEqual([["codex", "claude"], ["claude"]]);
    expect(sarif.runs[0].properties.agents).toMatchObject([{ name: "codex", status: "succeeded" }, { name: "claude", status: "succeeded" }]);

    const json = JSON.parse((await withJson()).out);
    expect(json.findings[0]).toMatchObject({ title: "Unbounded strcpy overflows buf", agents: ["codex", "claude"] });
    expect(json.agents.map((a: { name: string; commandsRun: number }) => [a.name, a.commandsRun])).toEqual([
      ["codex", 1],
      ["claude", 1],
    ]);
    expect(json.notes).toEqual([]);
  });

  async function withJson() {
    await claudeMock?.close();
    return withClaude(claudeReads(), "--executor", "both", "--format", "json");
  }

  it("--executor both reports codex's review with a note (stderr and report) when claude fails", async () => {
    answer = reviewJson();
    const { code, out, err } = await withClaude([httpError(500, apiError("api_error", "Internal server error"))], "--executor", "both", "--format", "json");
    expect(code).toBe(0);
    expect(err).toMatch(/^Note: claude did not finish \(Claude failed: .*Internal server error.*\); this review is from codex alone\.$/m);
    const json = JSON.parse(out);
    expect(json.findings).toHaveLength(1);
    expect(json.findings[0]).toMatchObject({ path: "main.c", agents: ["codex"] });
    expect(json.agents).toMatchObject([
      { name: "codex", status: "succeeded" },
      { name: "claude", status: "failed", error: expect.stringContaining("Internal server error") },
    ]);
    expect(json.notes).toHaveLength(1);
    expect(json.notes[0]).toContain("this review is from codex alone");
    const text = await withClaude([httpError(500, apiError("api_error", "Internal server error"))], "--executor", "both");
    expect(text.out).toMatch(/^Note: claude did not finish/m);
  });

  it("fails with exit 1 when every agent fails, and rejects --model with two agents", async () => {
    answer = "not json at all";
    const failed = await withClaude([httpError(500, apiError("api_error", "Internal server error"))], "--executor", "both");
    expect(failed.code).toBe(1);
    const model = await review("--executor", "both", "--model", "gpt-5.5");
    expect(model.code).toBe(1);
    expect(model.err).toContain("--model names one agent's model");
  });
});
