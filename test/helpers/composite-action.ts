import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { run } from "../../src/util/exec.js";

/**
 * Runs a composite action's steps as a GitHub-hosted runner does
 * (https://docs.github.com/actions/sharing-automations/creating-actions/metadata-syntax-for-github-actions#runs-for-composite-actions):
 * input defaults, the `${{ }}` expressions of every field, `if:` conditions (an implicit
 * `success() &&` unless a status function is named), `continue-on-error`, a fresh GITHUB_OUTPUT file
 * per step read back into `steps.<id>.outputs`, `steps.<id>.outcome`/`conclusion`, the job summary
 * file, `run:` scripts through `bash --noprofile --norc -eo pipefail` with the step's `env:` and
 * `working-directory:`. A `uses:` step runs a stand-in the test provides.
 */

export interface Step {
  name: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
  "working-directory"?: string;
  "continue-on-error"?: boolean | string;
}

export interface ActionYml {
  inputs: Record<string, { description: string; default?: string; required?: boolean }>;
  outputs: Record<string, { description: string; value: string }>;
  runs: { using: string; steps: Step[] };
}

export function readActionYml(file: string): ActionYml {
  return parse(readFileSync(file, "utf8")) as ActionYml;
}

/** What a `uses:` stand-in gets, and what it answers: success, or a failure with the log it printed. */
export type UsesStandIn = (step: { with: Record<string, string>; env: Record<string, string> }) => Promise<{ ok: boolean; log: string }>;

export interface CompositeRun {
  /** The job's result: failure when a step failed without continue-on-error. */
  status: "success" | "failure";
  steps: { name: string; id: string | null; ran: boolean; outcome: "success" | "failure" | "skipped"; conclusion: "success" | "failure" | "skipped" }[];
  outputs: Record<string, string>;
  /** Every step's stdout and stderr, in order. */
  log: string;
  summary: string;
}

export interface CompositeOptions {
  action: ActionYml;
  /** The `with:` of the workflow's `uses:` step. */
  with: Record<string, string>;
  /** The `github` context: action_path, token, workspace, event (the payload), … */
  github: Record<string, unknown>;
  runner: Record<string, string>;
  /** The job's environment (what every step inherits), without GITHUB_OUTPUT/GITHUB_STEP_SUMMARY. */
  env: Record<string, string>;
  /** Scratch directory for the runner's files. */
  dir: string;
  /** Stand-ins for `uses:` steps, by step name. */
  uses?: Record<string, UsesStandIn>;
  /** Steps the test does not run (e.g. the install), by name, with the reason. */
  skip?: Record<string, string>;
  timeoutMs?: number;
}

type Value = string | number | boolean | null | Record<string, unknown> | unknown[];

export async function runComposite(opts: CompositeOptions): Promise<CompositeRun> {
  const inputs: Record<string, string> = {};
  const steps: Record<string, { outputs: Record<string, string>; outcome: string; conclusion: string }> = {};
  const context = (): Record<string, unknown> => ({ inputs, steps, github: opts.github, runner: opts.runner, env: opts.env });
  for (const [name, spec] of Object.entries(opts.action.inputs)) {
    inputs[name] = name in opts.with ? opts.with[name]! : interpolate(spec.default ?? "", context());
  }
  mkdirSync(opts.dir, { recursive: true });
  const summaryFile = path.join(opts.dir, "step-summary.md");
  writeFileSync(summaryFile, "");
  let jobFailed = false;
  let log = "";
  const report: CompositeRun["steps"] = [];
  for (const [index, step] of opts.action.runs.steps.entries()) {
    const id = step.id ?? `__${index}`;
    const condition = step.if ?? "";
    const ctx = context();
    const wanted = evaluateIf(condition, ctx, jobFailed);
    if (!wanted || step.name in (opts.skip ?? {})) {
      steps[id] = { outputs: {}, outcome: "skipped", conclusion: "skipped" };
      report.push({ name: step.name, id: step.id ?? null, ran: false, outcome: "skipped", conclusion: "skipped" });
      continue;
    }
    const outputFile = path.join(opts.dir, `output-${index}`);
    const stepSummary = path.join(opts.dir, `summary-${index}`);
    writeFileSync(outputFile, "");
    writeFileSync(stepSummary, "");
    const env: Record<string, string> = { ...opts.env, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: stepSummary };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = interpolate(v, ctx);
    let ok: boolean;
    if (step.uses !== undefined) {
      const standIn = opts.uses?.[step.name];
      if (!standIn) throw new Error(`no stand-in for the step "${step.name}" (uses: ${step.uses})`);
      const withValues = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, interpolate(v, ctx)]));
      const r = await standIn({ with: withValues, env });
      ok = r.ok;
      log += r.log;
    } else {
      if (step.shell !== "bash") throw new Error(`step "${step.name}": only shell: bash is supported here`);
      const script = path.join(opts.dir, `step-${index}.sh`);
      writeFileSync(script, interpolate(step.run ?? "", ctx));
      const cwd = step["working-directory"] ? path.resolve(String(opts.github.workspace), interpolate(step["working-directory"], ctx)) : String(opts.github.workspace);
      const r = await run("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], { cwd, env, timeoutMs: opts.timeoutMs ?? 180_000 });
      ok = r.exitCode === 0;
      log += r.stdout + r.stderr;
    }
    const continueOnError = interpolate(String(step["continue-on-error"] ?? "false"), ctx) === "true";
    const outcome = ok ? "success" : "failure";
    const conclusion = ok || continueOnError ? "success" : "failure";
    steps[id] = { outputs: parseOutputFile(readFileSync(outputFile, "utf8")), outcome, conclusion };
    appendFileSync(summaryFile, readFileSync(stepSummary, "utf8"));
    report.push({ name: step.name, id: step.id ?? null, ran: true, outcome, conclusion });
    if (conclusion === "failure") jobFailed = true;
  }
  const outputs = Object.fromEntries(Object.entries(opts.action.outputs).map(([name, o]) => [name, interpolate(o.value, context())]));
  return { status: jobFailed ? "failure" : "success", steps: report, outputs, log, summary: readFileSync(summaryFile, "utf8") };
}

/** `name=value` lines and `name<<DELIM` blocks, as the runner reads GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      if (end < 0) throw new Error(`GITHUB_OUTPUT: no closing ${heredoc[2]}`);
      out[heredoc[1]!] = lines.slice(i + 1, end).join("\n");
      i = end;
    } else if (line.includes("=")) {
      out[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
    }
  }
  return out;
}

/** `${{ expr }}` in a string, each replaced by its value as a string. */
export function interpolate(text: string, context: Record<string, unknown>): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, expr: string) => toText(evaluate(expr, context, false)));
}

function evaluateIf(condition: string, context: Record<string, unknown>, jobFailed: boolean): boolean {
  const expr = condition.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, "$1").trim();
  if (expr === "") return !jobFailed;
  const statusCheck = /\b(success|failure|always|cancelled)\(\)/.test(expr);
  const value = truthy(evaluate(expr, context, jobFailed));
  return statusCheck ? value : !jobFailed && value;
}

function toText(v: Value): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function truthy(v: Value): boolean {
  return !(v === null || v === false || v === "" || v === 0 || (typeof v === "number" && Number.isNaN(v)));
}

/** GitHub's loose equality: strings compare case-insensitively; otherwise both sides become numbers. */
function looseEquals(a: Value, b: Value): boolean {
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
  const num = (v: Value): number => (v === null ? 0 : typeof v === "boolean" ? Number(v) : typeof v === "string" ? (v.trim() === "" ? 0 : Number(v)) : typeof v === "number" ? v : NaN);
  return num(a) === num(b);
}

/** A small evaluator of GitHub's expression syntax: literals, property paths, ! == != && || ( ), status functions. */
function evaluate(source: string, context: Record<string, unknown>, jobFailed: boolean): Value {
  const lexer = /\s*('(?:[^']|'')*'|==|!=|&&|\|\||[()!.]|[A-Za-z_][\w-]*|\d+(?:\.\d+)?)\s*/y;
  const tokens: string[] = [];
  while (lexer.lastIndex < source.length) {
    const at = lexer.lastIndex;
    const m = lexer.exec(source);
    if (!m) throw new Error(`cannot parse expression at ${at}: ${source}`);
    tokens.push(m[1]!);
  }
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const take = (expected?: string): string => {
    const t = tokens[pos++];
    if (t === undefined || (expected !== undefined && t !== expected)) throw new Error(`expression ${source}: expected ${expected ?? "a token"}, got ${t}`);
    return t;
  };
  const primary = (): Value => {
    const t = take();
    if (t === "(") {
      const v = or();
      take(")");
      return v;
    }
    if (t === "!") return !truthy(primary());
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^\d/.test(t)) return Number(t);
    if (t === "true" || t === "false") return t === "true";
    if (t === "null") return null;
    if (peek() === "(") {
      take("(");
      take(")");
      if (t === "success") return !jobFailed;
      if (t === "failure") return jobFailed;
      if (t === "always") return true;
      if (t === "cancelled") return false;
      throw new Error(`unsupported function ${t}()`);
    }
    let v: unknown = context[t];
    while (peek() === ".") {
      take(".");
      const key = take();
      v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
    }
    return (v ?? null) as Value;
  };
  const comparison = (): Value => {
    let left = primary();
    while (peek() === "==" || peek() === "!=") {
      const op = take();
      const right = primary();
      left = op === "==" ? looseEquals(left, right) : !looseEquals(left, right);
    }
    return left;
  };
  const and = (): Value => {
    let left = comparison();
    while (peek() === "&&") {
      take();
      const right = comparison();
      left = truthy(left) ? right : left;
    }
    return left;
  };
  const or = (): Value => {
    let left = and();
    while (peek() === "||") {
      take();
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  };
  const value = or();
  if (pos !== tokens.length) throw new Error(`expression ${source}: unexpected ${tokens[pos]}`);
  return value;
}

/**
 * actions/cache as a runner replays it, with a directory for the cache service: the step restores
 * the directory saved under `key` into `path` (a hit: `cache-hit=true`), or nothing; its post step,
 * which the runner runs after the job when the job succeeded, saves `path` under `key` after a miss.
 * Copies are hard links (`cp -al`): a 400 MB CLI is "restored" in a fraction of a second.
 */
export class ActionsCache {
  readonly restores: { key: string; path: string; hit: boolean }[] = [];

  constructor(readonly store: string) {
    mkdirSync(store, { recursive: true });
  }

  readonly standIn: UsesStandIn = async (step) => {
    const key = step.with.key ?? "";
    const target = step.with.path ?? "";
    if (key === "" || target === "") return { ok: false, log: "::error::Input required and not supplied: key/path\n" };
    const saved = path.join(this.store, encodeURIComponent(key));
    const hit = existsSync(saved);
    if (hit) {
      mkdirSync(path.dirname(target), { recursive: true });
      rmSync(target, { recursive: true, force: true });
      await copyTree(saved, target);
    }
    this.restores.push({ key, path: target, hit });
    appendFileSync(step.env.GITHUB_OUTPUT!, `cache-hit=${String(hit)}\n`);
    return { ok: true, log: hit ? `Cache restored from key: ${key}\n` : `Cache not found for input keys: ${key}\n` };
  };

  /** The post steps: after a successful job, each missed key is saved from its path (when it exists). */
  async post(status: CompositeRun["status"]): Promise<void> {
    if (status !== "success") return;
    for (const r of this.restores.splice(0)) {
      const saved = path.join(this.store, encodeURIComponent(r.key));
      if (r.hit || existsSync(saved) || !existsSync(r.path)) continue;
      await copyTree(r.path, saved);
    }
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  const r = await run("cp", ["-al", from, to], { cwd: path.dirname(from), env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`cp -al ${from} ${to}: ${r.stderr}`);
}
