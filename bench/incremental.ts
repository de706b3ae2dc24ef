import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startApp, testSettings, type RunningApp } from "../test/helpers/app-server.js";
import { BOT_LOGIN, FakeGitHub } from "../test/helpers/fake-github.js";
import { createOrigin, type OriginRepo } from "../test/helpers/git-origin.js";
import { takeViolations } from "../test/helpers/openapi-contract.js";
import { deliver, pullRequestPayload, type RepoFixture } from "../test/helpers/webhooks.js";
import { benchDir, envInt, isEntry, round, runBench, type Row } from "./lib/common.js";
import { startReadingModel, type ReadingModel } from "./lib/reading-model.js";
import { codexConfigToml, reviewJson, type BenchFinding } from "./lib/responses.js";

/**
 * Issue 17: what a push costs. A FILES-file pull request is reviewed once; then a push changes one
 * line, and that push is reviewed twice over, in two copies of the same history: incremental (the
 * default) and full (`review.incremental: false`). Measured for the push: the input tokens the agent
 * sent (the scripted model charges every request by its size, the same way in both runs, and reads
 * each file the prompt lists with one `git diff`, as an agent does) and the agent's wall time (the
 * run record's agent phase), incremental / full; and how many comments the push posted again (the
 * model reports the first review's findings again every time: the worst case for repeats).
 *
 * The app runs in this process (Probot on loopback, the real codex CLI); GitHub is the tests' stand-in
 * (test/helpers/fake-github.ts), whose review threads the bot's comments open, and whose reviews list
 * returns what the bot posted, as on GitHub.
 */

const FILES = envInt("BENCH_INCREMENTAL_FILES", 40, 40);
const BASE_LINES = 80;
const ADDED_LINES = 60;
const FINDINGS_ON = [0, 9, 19, 29];

function baseFile(k: number): string {
  return Array.from({ length: BASE_LINES }, (_, i) => `export const base${k}_${i} = ${i};`).join("\n") + "\n";
}

function addedLine(k: number, i: number, factor = i): string {
  return `export function feature${k}_${i}(x: number): number { return x * ${factor} + base${k}_${i % BASE_LINES}; }`;
}

function headFile(k: number, changed: number | null = null): string {
  const added = Array.from({ length: ADDED_LINES }, (_, i) => addedLine(k, i, i === changed ? i * 10 : i));
  return `${baseFile(k).trimEnd()}\n${added.join("\n")}\n`;
}

const fileName = (k: number): string => `src/module-${String(k).padStart(2, "0")}.ts`;

/** The findings the model reports on every run: one added line in each of four files. */
const FINDINGS: BenchFinding[] = FINDINGS_ON.map((k) => ({
  path: fileName(k),
  line: BASE_LINES + 3,
  anchor: addedLine(k, 2),
  title: `Overflow not handled in feature${k}_2`,
  priority: 1,
}));

interface PushFigures {
  inputTokens: number;
  agentMs: number;
  agentRequests: number;
  commentsPostedAgain: number;
  reviewsPosted: number;
  range: string;
}

async function scenario(mode: "incremental" | "full"): Promise<PushFigures> {
  const root = benchDir("incremental", mode);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const base: Record<string, string> = { "README.md": "# bench\n" };
  for (let k = 0; k < FILES; k++) base[fileName(k)] = baseFile(k);
  const origin: OriginRepo = createOrigin(root, base);
  const baseSha = origin.sha("HEAD");
  origin.git("checkout", "-q", "-b", "feature");
  const head: Record<string, string> = {};
  for (let k = 0; k < FILES; k++) head[fileName(k)] = headFile(k);
  let headSha = origin.commit("forty files", head);
  origin.publishPull(7, "feature");
  const repo: RepoFixture = { owner: "octo", name: "bench", cloneUrl: origin.bare };

  const gh = new FakeGitHub("octo", "bench").defaults({ config: mode === "full" ? "review:\n  incremental: false\n" : null });
  const pull = () => pullRequestPayload("opened", repo, { number: 7, headSha, baseSha }).pull_request;
  gh.on("GET", gh.repoPath("/pulls/7"), () => [200, pull()]);
  // The reviews list answers what the bot posted, so the dedupe by fingerprint works as on GitHub.
  const posted: { body: string; user: { login: string; type: string } }[] = [];
  const postedComments: number[] = [];
  gh.on("GET", gh.repoPath("/pulls/7/reviews"), () => [200, posted]);
  gh.on("POST", gh.repoPath("/pulls/7/reviews"), (_m, body) => {
    const b = body as { body: string; comments?: { path: string; line: number; start_line?: number; body: string }[] };
    posted.push({ body: b.body, user: { login: BOT_LOGIN, type: "Bot" } });
    postedComments.push(b.comments?.length ?? 0);
    for (const c of b.comments ?? []) gh.addThread({ id: 5000 + gh.threads.length, path: c.path, line: c.line, start_line: c.start_line ?? null, body: c.body });
    return [200, { id: posted.length, html_url: `https://github.com/octo/bench/pull/7#pullrequestreview-${posted.length}` }];
  });

  const model: ReadingModel = await startReadingModel(() => reviewJson(FINDINGS));
  const dataDir = path.join(root, "data");
  mkdirSync(path.join(dataDir, "codex-template"), { recursive: true });
  writeFileSync(path.join(dataDir, "codex-template", "config.toml"), codexConfigToml(model.url));
  const app: RunningApp = await startApp(testSettings(dataDir));
  try {
    const send = async (action: "opened" | "synchronize"): Promise<void> => {
      const d = await deliver(app.url, "pull_request", pullRequestPayload(action, repo, { number: 7, headSha, baseSha }));
      if (d.status !== 200) throw new Error(`webhook answered ${d.status}`);
      await app.queue.idle();
    };
    await send("opened");
    const first = app.runs.list()[0]!;
    if (first.status !== "succeeded") throw new Error(`the first review ended ${first.status}: ${first.error}`);
    if (postedComments[0] !== FINDINGS.length) throw new Error(`the first review posted ${postedComments[0]} comments, expected ${FINDINGS.length}`);

    // The push: one line of one file.
    headSha = origin.commit("one line", { [fileName(5)]: headFile(5, 7) });
    origin.publishPull(7, "feature");
    const before = { requests: model.requests.length, reviews: postedComments.length };
    await send("synchronize");
    const run = app.runs.list()[0]!;
    if (run.status !== "succeeded" || run.headSha !== headSha) throw new Error(`the push's review ended ${run.status}: ${run.error}`);
    const pushRequests = model.requests.slice(before.requests);
    const check = gh.bodies<{ output?: { summary?: string } }>("PATCH", /\/check-runs\/\d+$/).at(-1)?.output?.summary ?? "";
    const violations = takeViolations();
    if (violations.length > 0 || gh.unexpected.length > 0) throw new Error(`GitHub stand-in: ${[...violations, ...gh.unexpected.map((c) => `${c.method} ${c.path}`)].join("; ")}`);
    return {
      inputTokens: pushRequests.reduce((a, r) => a + r.inputTokens, 0),
      agentMs: run.phases.agent ?? Number.NaN,
      agentRequests: pushRequests.length,
      commentsPostedAgain: postedComments.slice(before.reviews).reduce((a, n) => a + n, 0),
      reviewsPosted: postedComments.length - before.reviews,
      range: /Reviewed [^\n]*/.exec(check)?.[0] ?? "(no range in the check run)",
    };
  } finally {
    await app.close();
    await model.close();
    gh.dispose();
  }
}

export async function main(): Promise<void> {
  await runBench("incremental", "Issue 17. A push reviewed incrementally vs in full", async () => {
    const full = await scenario("full");
    const incremental = await scenario("incremental");
    const tokenRatio = round(incremental.inputTokens / full.inputTokens, 3);
    const timeRatio = round(incremental.agentMs / full.agentMs, 3);
    const table: Row[] = [full, incremental].map((f, i) => ({
      push: i === 0 ? "full (review.incremental: false)" : "incremental (default)",
      "input tokens": f.inputTokens,
      "agent ms": round(f.agentMs, 0),
      "model requests": f.agentRequests,
      "comments posted again": f.commentsPostedAgain,
      "reviews posted": f.reviewsPosted,
      range: f.range,
    }));
    return {
      sizes: { files: FILES, linesPerFile: BASE_LINES + ADDED_LINES, addedLinesPerFile: ADDED_LINES, pushChangedLines: 1, findings: FINDINGS.length },
      table,
      targets: [
        {
          target: "a one-line push on a 40-file PR, incremental vs full: input tokens the agent sent <= 0.3×",
          measured: `${incremental.inputTokens} vs ${full.inputTokens} tokens (${tokenRatio}×; ${incremental.agentRequests} vs ${full.agentRequests} model requests)`,
          met: tokenRatio <= 0.3,
          value: tokenRatio,
          floor: 0.3,
          unit: "ratio",
          note: "floor here is the target",
        },
        {
          target: "a one-line push on a 40-file PR, incremental vs full: agent wall time <= 0.3×",
          measured: `${round(incremental.agentMs, 0)} ms vs ${round(full.agentMs, 0)} ms (${timeRatio}×)`,
          met: timeRatio <= 0.3,
          value: timeRatio,
          floor: 0.3,
          unit: "ratio",
          note: "floor here is the target",
        },
        {
          target: "comments posted again on the push: 0",
          measured: `${incremental.commentsPostedAgain} incremental, ${full.commentsPostedAgain} full (the model re-reported all ${FINDINGS.length} findings)`,
          met: incremental.commentsPostedAgain === 0 && full.commentsPostedAgain === 0,
          value: incremental.commentsPostedAgain,
          floor: 0,
          unit: "comments",
        },
      ],
      details: { full, incremental, tokenRatio, timeRatio },
    };
  });
}

if (isEntry(import.meta.url)) await main();
