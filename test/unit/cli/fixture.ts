import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CliIO } from "../../../src/cli/io.js";
import { buildEnv, run } from "../../../src/util/exec.js";
import { codexMockConfig } from "../../helpers/mock-responses.js";

/** Shared set-up for the CLI/MCP tests: a git checkout with a change, a codex template home aimed at the mock. */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const CODEX_BIN = path.join(ROOT, "node_modules/.bin/codex");
export const TSX = path.join(ROOT, "node_modules/.bin/tsx");
export const CLI = path.join(ROOT, "src/cli.ts");

export async function gitIn(cwd: string, ...args: string[]): Promise<string> {
  const result = await run("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], {
    cwd,
    env: buildEnv(["PATH"], { HOME: cwd, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" }),
  });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** main: main.c; feature (checked out): strcpy into an 8-byte buffer on line 4, plus a lockfile the filters skip. */
export async function makeRepo(base: string): Promise<string> {
  const repo = path.join(base, "repo");
  mkdirSync(repo, { recursive: true });
  await gitIn(repo, "init", "-q", "-b", "main");
  writeFileSync(path.join(repo, "main.c"), "#include <string.h>\nint main(int c, char **v) {\n  return 0;\n}\n");
  await gitIn(repo, "add", ".");
  await gitIn(repo, "commit", "-qm", "base");
  await gitIn(repo, "checkout", "-q", "-b", "feature");
  writeFileSync(
    path.join(repo, "main.c"),
    "#include <string.h>\nint main(int c, char **v) {\n  char buf[8];\n  strcpy(buf, v[1]);\n  return 0;\n}\n",
  );
  writeFileSync(path.join(repo, "package-lock.json"), "{}\n");
  await gitIn(repo, "add", ".");
  await gitIn(repo, "commit", "-qm", "copy argv");
  return repo;
}

/** A CODEX_HOME template whose config.toml sends codex to the mock Responses server. */
export function makeTemplate(base: string, mockUrl: string): string {
  const dir = path.join(base, "codex-template");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.toml"), `${codexMockConfig(mockUrl).join("\n")}\n`);
  return dir;
}

export function reviewJson(findings: object[] = [strcpyFinding()]): string {
  return JSON.stringify({
    findings,
    overall_correctness: findings.length > 0 ? "patch is incorrect" : "patch is correct",
    overall_explanation: findings.length > 0 ? "Stack overflow on long argv." : "Looks fine.",
    overall_confidence_score: 0.85,
  });
}

export function strcpyFinding(overrides: Record<string, unknown> = {}): object {
  return {
    title: "[P1] Unbounded strcpy overflows buf",
    body: "`strcpy(buf, v[1])` copies attacker-controlled input into an 8-byte buffer.",
    priority: 1,
    confidence_score: 0.9,
    code_location: { file_path: "main.c", line_range: { start: 4, end: 4 } },
    anchor_code: "  strcpy(buf, v[1]);",
    suggestion: "  strncpy(buf, v[1], sizeof buf - 1);",
    ...overrides,
  };
}

export interface CapturedIO extends CliIO {
  out(): string;
  err(): string;
}

export function captureIO(cwd: string, env: NodeJS.ProcessEnv): CapturedIO {
  let out = "";
  let err = "";
  return {
    cwd,
    env,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    out: () => out,
    err: () => err,
  };
}

/** A Claude credential for the tests: only ever sent to the local mock Messages server. */
export const CLAUDE_KEY = "sk-ant-test-0123456789abcdef";

/** The variables that point the real claude binary at a mock Messages server (no retries, so failures are quick). */
export function claudeEnv(mockUrl: string): Record<string, string> {
  return { ANTHROPIC_API_KEY: CLAUDE_KEY, ANTHROPIC_BASE_URL: mockUrl, CLAUDE_MAX_RETRIES: "0", CLAUDE_MODEL: "claude-sonnet-4-5" };
}

/**
 * Claude's structured review (the schema's raw shape): the strcpy overflow in its own words (so the
 * merge has to recognise it as the same problem), plus a finding of its own.
 */
export function claudeReview(): object {
  return {
    findings: [
      strcpyFinding({ title: "strcpy into buf can overflow the 8-byte buffer", body: "Unbounded strcpy of argv into an 8-byte stack buffer.", confidence_score: 0.8, suggestion: null }),
      {
        title: "Missing check that argv[1] exists",
        body: "`v[1]` is NULL when the program runs without arguments.",
        priority: 1,
        confidence_score: 0.7,
        code_location: { file_path: "main.c", line_range: { start: 4, end: 4 } },
        anchor_code: "  strcpy(buf, v[1]);",
        suggestion: null,
      },
    ],
    overall_correctness: "patch is incorrect",
    overall_explanation: "The copy is unbounded and argv[1] may be missing.",
    overall_confidence_score: 0.8,
  };
}
