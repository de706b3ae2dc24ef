import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { clearPermissionCache } from "../../src/github/permissions.js";
import type { Settings } from "../../src/settings.js";
import { startApp, testSettings, type RunningApp } from "../helpers/app-server.js";
import { FakeGitHub } from "../helpers/fake-github.js";
import { createOrigin, type OriginRepo } from "../helpers/git-origin.js";
import { startMockResponses, type MockResponses, type Script } from "../helpers/mock-responses.js";
import { makeTempDir } from "../helpers/tmp.js";
import { pullRequestPayload, type RepoFixture } from "../helpers/webhooks.js";

export const BASE_FILE = ["export function add(a, b) {", "  return a + b;", "}", ""].join("\n");
/** Lines 5-7 of the head version hold the bug the scripted model reports. */
export const HEAD_FILE = [
  "export function add(a, b) {",
  "  return a + b;",
  "}",
  "",
  "export function divide(a, b) {",
  "  return a / b;",
  "}",
  "",
].join("\n");

/** The codex operator template: a custom provider pointing at the scripted local Responses server. */
export function writeCodexTemplate(dir: string, mockUrl: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "config.toml"),
    [
      'model = "gpt-5.5"',
      'model_provider = "mock"',
      "[model_providers.mock]",
      'name = "Mock"',
      `base_url = "${mockUrl}"`,
      'wire_api = "responses"',
      "request_max_retries = 0",
      "stream_max_retries = 0",
      "supports_websockets = false",
      "",
    ].join("\n"),
  );
}

export interface Scenario {
  origin: OriginRepo;
  repo: RepoFixture;
  gh: FakeGitHub;
  dataDir: string;
  baseSha: string;
  headSha: string;
  mock: MockResponses | null;
  app: RunningApp | null;
  start(script: Script, settings?: Partial<Settings>): Promise<RunningApp>;
  /** The PR as GET /pulls/7 returns it. */
  pullObject(): unknown;
  close(): Promise<void>;
}

/** A repository with PR #7 (adds divide() and a lockfile), a fake GitHub, and the app ready to start. */
export function scenario(name: string): Scenario {
  clearPermissionCache();
  const root = makeTempDir(name);
  const dataDir = path.join(root, "data");
  const origin = createOrigin(root, { "src/math.js": BASE_FILE, "README.md": "# demo\n" });
  const baseSha = origin.sha("HEAD");
  origin.git("checkout", "-q", "-b", "feature");
  const headSha = origin.commit("add divide", { "src/math.js": HEAD_FILE, "package-lock.json": "{}\n" });
  origin.publishPull(7, "feature");
  const repo: RepoFixture = { owner: "octo", name: "demo", cloneUrl: origin.bare };
  const s: Scenario = {
    origin,
    repo,
    gh: new FakeGitHub("octo", "demo"),
    dataDir,
    baseSha,
    headSha,
    mock: null,
    app: null,
    async start(script, settings = {}) {
      s.mock = await startMockResponses(script);
      writeCodexTemplate(path.join(dataDir, "codex-template"), s.mock.url);
      s.app = await startApp(testSettings(dataDir, settings));
      return s.app;
    },
    pullObject: () => pullRequestPayload("opened", repo, { number: 7, headSha: s.headSha, baseSha }).pull_request,
    async close() {
      await s.app?.close();
      await s.mock?.close();
      s.gh.dispose();
    },
  };
  // The app re-reads the PR before posting; it answers with the scenario's current head.
  s.gh.on("GET", s.gh.repoPath("/pulls/7"), () => [200, s.pullObject()]);
  return s;
}

/** The review the scripted model returns: a P1 inline finding with a suggestion, a P3, and one outside the diff. */
export function reviewJson(worktreeHint: string | null, overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    findings: [
      {
        title: "[P1] Guard against division by zero",
        body: "`divide(1, 0)` returns `Infinity` instead of failing; callers treat it as a number.",
        priority: 1,
        confidence_score: 0.9,
        code_location: {
          file_path: worktreeHint ? path.join(worktreeHint, "src/math.js") : "src/math.js",
          line_range: { start: 6, end: 6 },
        },
        anchor_code: "  return a / b;",
        suggestion: '  if (b === 0) throw new RangeError("division by zero");\n  return a / b;',
      },
      {
        title: "Document add()",
        body: "The exported helper has no doc comment.",
        priority: 3,
        confidence_score: 0.4,
        code_location: { file_path: "src/math.js", line_range: { start: 1, end: 1 } },
        anchor_code: "export function add(a, b) {",
        suggestion: null,
      },
      {
        title: "Config default looks wrong",
        body: "The README still documents the old default.",
        priority: 2,
        confidence_score: 0.7,
        code_location: { file_path: "README.md", line_range: { start: 1, end: 1 } },
        anchor_code: "# demo",
        suggestion: null,
      },
    ],
    overall_correctness: "patch is incorrect",
    overall_explanation: "divide() does not handle a zero divisor.",
    overall_confidence_score: 0.8,
    ...overrides,
  });
}


/** Claude's review of the scenario's change: the division bug codex reports (worded differently), and with `own` one of its own. */
export function claudeReviewJson(options: { own?: boolean } = {}) {
  return {
    findings: [
      {
        title: "Division by zero is not guarded",
        body: "When `b` is 0, `divide` returns Infinity.",
        priority: 1,
        confidence_score: 0.8,
        code_location: { file_path: "src/math.js", line_range: { start: 6, end: 6 } },
        anchor_code: "  return a / b;",
        suggestion: null,
      },
      ...(options.own
        ? [
            {
              title: "Export a named constant for the precision",
              body: "Callers compare floats without a tolerance.",
              priority: 2,
              confidence_score: 0.5,
              code_location: { file_path: "src/math.js", line_range: { start: 5, end: 5 } },
              anchor_code: "export function divide(a, b) {",
              suggestion: null,
            },
          ]
        : []),
    ],
    overall_correctness: "patch is incorrect",
    overall_explanation: "divide() lacks a zero check.",
    overall_confidence_score: 0.7,
  };
}
