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
