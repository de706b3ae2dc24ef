import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OUTPUT_NAMES } from "../../../src/action/run.js";
import { run } from "../../../src/util/exec.js";
import { readActionYml, type Step } from "../../helpers/composite-action.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { ROOT } from "../cli/fixture.js";

/**
 * action.yml is code too: every input must reach the CLI, and the Review step's script must call
 * `action` with the right flags. The script is run for real with bash, `node` replaced by a stub
 * that records its arguments and environment.
 */

const action = readActionYml(path.join(ROOT, "action.yml"));
const step = (name: string): Step => {
  const found = action.runs.steps.find((s) => s.name === name);
  if (!found) throw new Error(`action.yml has no step "${name}"`);
  return found;
};

/** Evaluates the `${{ … }}` expressions the steps use; an unknown one fails the test. */
function evaluate(text: string, context: Record<string, string>): string {
  return text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, expr: string) => {
    if (!(expr in context)) throw new Error(`unexpected expression in action.yml: ${expr}`);
    return context[expr]!;
  });
}

async function runReviewStep(inputs: Record<string, string>, stub: { exitCode: number; writesOutputs: boolean }) {
  const dir = makeTempDir("action-yml");
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  const argsFile = path.join(dir, "args");
  const envFile = path.join(dir, "env");
  // The stub `node`: records argv and env, may write an output like the CLI does, exits as told.
  writeFileSync(
    path.join(bin, "node"),
    `#!/bin/bash\nprintf '%s\\n' "$@" > "${argsFile}"\nenv > "${envFile}"\n` +
      (stub.writesOutputs ? `echo "exit-code=${stub.exitCode}" >> "$GITHUB_OUTPUT"\n` : "") +
      `exit ${stub.exitCode}\n`,
  );
  chmodSync(path.join(bin, "node"), 0o755);
  const outputFile = path.join(dir, "output");
  writeFileSync(outputFile, "");
  const context: Record<string, string> = {
    "github.action_path": "/opt/action",
    "github.token": "ghs_default_token",
    "runner.temp": path.join(dir, "temp"),
    // What the Install step hands on: the pinned CLIs it installed and codex's bubblewrap.
    "steps.install.outputs.codex-bin": "/opt/hostedtoolcache/codex-pr-bot/codex/bin/codex.js",
    "steps.install.outputs.claude-bin": "/opt/hostedtoolcache/codex-pr-bot/claude/bin/claude.exe",
    "steps.install.outputs.bwrap": "/opt/hostedtoolcache/codex-pr-bot/codex/bwrap",
  };
  for (const [name, spec] of Object.entries(action.inputs)) {
    context[`inputs.${name}`] = inputs[name] ?? evaluate(spec.default ?? "", context);
  }
  const review = step("Review");
  const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, GITHUB_OUTPUT: outputFile };
  for (const [key, value] of Object.entries(review.env ?? {})) env[key] = evaluate(value, context);
  const result = await run("bash", ["-e", "-c", evaluate(review.run!, context)], { cwd: dir, env });
  const recordedEnv = Object.fromEntries(
    readFileSync(envFile, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return {
    exitCode: result.exitCode,
    args: readFileSync(argsFile, "utf8").trimEnd().split("\n"),
    env: recordedEnv,
    outputs: readFileSync(outputFile, "utf8"),
  };
}

describe("action.yml", () => {
  it("is a composite action whose every input is used by a step", () => {
    expect(action.runs.using).toBe("composite");
    const steps = JSON.stringify(action.runs.steps);
    const unused = Object.keys(action.inputs).filter((name) => !new RegExp(`inputs\\.${name}(?![\\w-])`).test(steps));
    expect(unused).toEqual([]);
    // And no step refers to an input that is not declared.
    const referenced = [...steps.matchAll(/inputs\.([\w-]+)/g)].map((m) => m[1]!);
    expect(referenced.filter((r) => !(r in action.inputs))).toEqual([]);
  });

  it("declares exactly the outputs the CLI writes, each from the Review step", () => {
    expect(Object.keys(action.outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
    for (const [name, output] of Object.entries(action.outputs)) expect(output.value).toBe(`\${{ steps.review.outputs.${name} }}`);
    expect(step("Review").id).toBe("review");
  });

  it("runs the bundle's `action` with every input as its flag, the secrets only as env, and the installed CLIs", async () => {
    const r = await runReviewStep(
      {
        mode: "audit",
        executor: "both",
        base: "origin/main",
        "fail-on": "P1",
        "min-severity": "P3",
        config: ".github/review.yml",
        model: "gpt-5.5",
        "post-review": "false",
        path: "sub dir/repo",
        "openai-api-key": "sk-openai",
        "anthropic-api-key": "sk-anthropic",
        "github-token": "ghs_input_token",
      },
      { exitCode: 2, writesOutputs: true },
    );
    expect(r.args).toEqual([
      "/opt/action/dist/action-bundle/cli.js",
      "action",
      "--mode",
      "audit",
      "--executor",
      "both",
      "--base",
      "origin/main",
      "--fail-on",
      "P1",
      "--min-severity",
      "P3",
      "--config",
      ".github/review.yml",
      "--model",
      "gpt-5.5",
      "--no-post",
      "-C",
      "sub dir/repo",
    ]);
    expect(r.env).toMatchObject({ CODEX_API_KEY: "sk-openai", ANTHROPIC_API_KEY: "sk-anthropic", GITHUB_TOKEN: "ghs_input_token" });
    expect(r.env.DATA_DIR).toMatch(/\/temp\/codex-pr-bot-state$/);
    expect(r.env).toMatchObject({
      CODEX_BIN: "/opt/hostedtoolcache/codex-pr-bot/codex/bin/codex.js",
      CLAUDE_BIN: "/opt/hostedtoolcache/codex-pr-bot/claude/bin/claude.exe",
      AGENT_JAIL_BWRAP: "/opt/hostedtoolcache/codex-pr-bot/codex/bwrap",
      CODEX_PR_BOT_NO_HISTORY: "1",
    });
    // The step succeeds so the SARIF upload runs; the CLI's own exit-code output is left alone.
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toBe("exit-code=2\n");
  });

  it("with the defaults: review by codex, posting on, the workflow's token", async () => {
    const r = await runReviewStep({}, { exitCode: 0, writesOutputs: true });
    expect(r.args).toEqual(["/opt/action/dist/action-bundle/cli.js", "action", "--mode", "review", "--executor", "codex"]);
    expect(r.env.GITHUB_TOKEN).toBe("ghs_default_token");
  });

  it("records exit-code 1 when the CLI dies before writing its outputs", async () => {
    const r = await runReviewStep({}, { exitCode: 1, writesOutputs: false });
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toBe("exit-code=1\n");
  });

  it("uploads the SARIF for the head commit, never fatally, with a warning that names what is missing", async () => {
    const upload = step("Upload SARIF") as Step & { "continue-on-error"?: boolean };
    expect(upload.uses).toMatch(/^github\/codeql-action\/upload-sarif@/);
    expect(upload.if).toContain("inputs.upload-sarif == 'true'");
    expect(upload["continue-on-error"]).toBe(true);
    expect(upload.with).toMatchObject({
      sarif_file: "${{ steps.review.outputs.sarif }}",
      ref: "refs/pull/${{ github.event.pull_request.number }}/head",
      sha: "${{ github.event.pull_request.head.sha }}",
    });
    const warning = step("Code scanning unavailable");
    expect(warning.if).toBe(`steps.${upload.id}.outcome == 'failure'`);
    const r = await run("bash", ["-c", warning.run!], { cwd: ROOT, env: { PATH: "/usr/bin:/bin" } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^::warning title=codex-pr-bot::.*`security-events: write`.*GitHub Code Security.*`upload-sarif: false`/);
  });

  it("fails the job with the review's exit code after the SARIF upload", async () => {
    const finish = step("Finish");
    expect(finish.if).toBe("steps.review.outputs.exit-code != '0'");
    const steps = action.runs.steps.map((s) => s.name);
    expect(steps.indexOf("Upload SARIF")).toBeLessThan(steps.indexOf("Finish"));
    for (const [code, expected] of [
      ["2", 2],
      ["1", 1],
      ["", 1],
    ] as const) {
      const result = await run("bash", ["-c", finish.run!], { cwd: ROOT, env: { PATH: "/usr/bin:/bin", CODE: code } });
      expect(result.exitCode).toBe(expected);
    }
  });
});
