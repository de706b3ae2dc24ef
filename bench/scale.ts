import { readFileSync } from "node:fs";
import os from "node:os";
import { benchDir, envInt, isEntry, percentile, QUICK, round, runBench, sleep, waitFor, wallMs, type BenchTarget, type Row } from "./lib/common.js";
import { startFleet, type Fleet, type RunRow } from "./lib/fleet.js";
import { FEATURE_FINDING, prOrigin, type PrOrigin } from "./lib/pr-origin.js";
import { reviewJson } from "./lib/responses.js";

/**
 * Figure 3 of issue 18, scale-out: JOBS queued reviews (all delivered at once), each one the real
 * codex CLI against a scripted model that takes AGENT_MS (2 s) to answer, through the real app:
 *  - one process with the embedded SQLite queue and 1, 2 and 4 job slots (WORKER_CONCURRENCY);
 *  - a web process (WORKERS=0) and 2 `codex-pr-bot worker` processes sharing Redis (BullMQ), 1 and
 *    2 slots each, each worker with its own DATA_DIR (as on two hosts; the run history is one file).
 *    Two workers sharing one DATA_DIR lost reviews here; the app now refuses to start that way
 *    (workspace/data-dir-lock.ts).
 * Measured per variant: jobs per minute (JOBS over the time from the first delivery to the last job's
 * end), the bot's overhead per job (slot time per job minus the agent's 2 s; also the median job's
 * own time, split into codex's start/parse and the rest), the scaling ratio against k × the 1-slot
 * throughput, machine CPU per job, and every PR counted on the stand-in: exactly one review, one
 * check run, one model request per job; none lost, none run twice.
 *
 * The PRs are spread over INSTALLATIONS installations (one repository each): Octokit's throttling,
 * which Probot keys by installation, spaces a process's writes 1 s apart and its content-creating
 * requests (a review) 3 s apart per installation, so one installation caps a process at about 20
 * reviews a minute whatever its workers; BENCH_SCALE_INSTALLATIONS=1 shows that ceiling.
 *
 * 200 jobs through one slot take ~10 minutes; the default is 60 (BENCH_SCALE_JOBS=200 for the
 * full figure of the issue, BENCH_QUICK=1 runs 12).
 */

const JOBS = envInt("BENCH_SCALE_JOBS", 60, 12);
const INSTALLATIONS = envInt("BENCH_SCALE_INSTALLATIONS", 8, 4);
const AGENT_MS = envInt("BENCH_SCALE_AGENT_MS", 2_000, 2_000);
const SEND_CONCURRENCY = 8;
const FIRST_INSTALLATION = 9_001;
const TARGET_RATIO = 0.85;

interface Variant {
  key: string;
  label: string;
  queue: "sqlite" | "redis";
  processes: number;
  slots: number;
}

const ALL_VARIANTS: Variant[] = [
  { key: "sqlite-1", label: "SQLite, 1 process × 1 slot", queue: "sqlite", processes: 1, slots: 1 },
  { key: "sqlite-2", label: "SQLite, 1 process × 2 slots", queue: "sqlite", processes: 1, slots: 2 },
  { key: "sqlite-4", label: "SQLite, 1 process × 4 slots", queue: "sqlite", processes: 1, slots: 4 },
  { key: "redis-2x1", label: "Redis, 2 worker processes × 1 slot", queue: "redis", processes: 2, slots: 1 },
  { key: "redis-2x2", label: "Redis, 2 worker processes × 2 slots", queue: "redis", processes: 2, slots: 2 },
];
const ONLY = (process.env.BENCH_SCALE_VARIANTS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const VARIANTS = ALL_VARIANTS.filter((v) => ONLY.length === 0 || ONLY.includes(v.key) || v.key === "sqlite-1");

interface Measured {
  variant: Variant;
  totalSlots: number;
  makespanS: number;
  jobsPerMin: number;
  slotMsPerJob: number;
  busyMs: { p50: number; p95: number };
  codexOwnMs: number;
  outsideAgentMs: number;
  phases: { queue: number; checkout: number; agent: number; publish: number };
  cpuSPerJob: number;
  counts: Counts;
  publishP50Ms: number;
  ackP95Ms: number;
}

interface Counts {
  jobs: number;
  reviewed: number;
  lost: number;
  twice: number;
  checkRunsNot1: number;
  runRecordsNot1: number;
  retried: number;
  failed: number;
  modelRequests: number;
}

/**
 * CPU seconds of the app's processes and every child they reaped (git, bwrap, codex): utime, stime,
 * cutime and cstime from /proc/<pid>/stat, so other work on the shared machine is not counted.
 */
function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / 100;
}

function origins(): PrOrigin[] {
  const dir = benchDir("scale-origins");
  // PR 1 of every repository is the warm-up; the measured PRs are 100.. spread round-robin.
  const out: PrOrigin[] = [];
  for (let i = 0; i < INSTALLATIONS; i++) {
    const prs = [1];
    for (let j = i; j < JOBS; j += INSTALLATIONS) prs.push(100 + j);
    out.push(prOrigin(dir, `org${i + 1}`, "service", prs));
  }
  return out;
}

/** Every PR of `prs` has a completed review check run and a review on the stand-in. */
function finished(fleet: Fleet, prs: { origin: PrOrigin; pr: number }[]): boolean {
  const completed = new Set([...fleet.gh.checkRuns.values()].filter((c) => c.status === "completed").map((c) => `${c.repo}@${c.head_sha}`));
  return prs.every(({ origin, pr }) => completed.has(`${origin.owner}/${origin.name}@${origin.heads.get(pr)!}`));
}

function count(fleet: Fleet, prs: { origin: PrOrigin; pr: number }[], runs: RunRow[], modelRequests: number): Counts {
  const reviews = new Map<string, number>();
  for (const c of fleet.gh.calls) {
    if (c.route !== "POST /repos/:o/:r/pulls/:n/reviews") continue;
    const m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)\/reviews$/.exec(c.path.replace(/^\/api\/v3/, ""));
    if (m) reviews.set(`${m[1]}/${m[2]}#${m[3]}`, (reviews.get(`${m[1]}/${m[2]}#${m[3]}`) ?? 0) + 1);
  }
  const checks = new Map<string, number>();
  for (const c of fleet.gh.checkRuns.values()) checks.set(`${c.repo}@${c.head_sha}`, (checks.get(`${c.repo}@${c.head_sha}`) ?? 0) + 1);
  const records = new Map<string, RunRow[]>();
  for (const r of runs) records.set(`${r.repo}#${r.pr_number}`, [...(records.get(`${r.repo}#${r.pr_number}`) ?? []), r]);
  let lost = 0;
  let twice = 0;
  let checkRunsNot1 = 0;
  let runRecordsNot1 = 0;
  let retried = 0;
  let failed = 0;
  for (const { origin, pr } of prs) {
    const key = `${origin.owner}/${origin.name}#${pr}`;
    const n = reviews.get(key) ?? 0;
    if (n === 0) lost++;
    if (n > 1) twice++;
    if ((checks.get(`${origin.owner}/${origin.name}@${origin.heads.get(pr)!}`) ?? 0) !== 1) checkRunsNot1++;
    const rec = records.get(key) ?? [];
    if (rec.length !== 1) runRecordsNot1++;
    if (rec.some((r) => r.attempts > 1)) retried++;
    if (rec.some((r) => r.status !== "succeeded")) failed++;
  }
  return { jobs: prs.length, reviewed: prs.length - lost, lost, twice, checkRunsNot1, runRecordsNot1, retried, failed, modelRequests };
}

async function measure(variant: Variant, all: PrOrigin[]): Promise<Measured> {
  const fleet = await startFleet({
    name: `scale-${variant.key}`,
    queue: variant.queue,
    processes: variant.processes,
    slots: variant.slots,
    answer: () => reviewJson([FEATURE_FINDING]),
    modelDelayMs: AGENT_MS,
  });
  try {
    // Warm-up: one review per repository (mirror cloned, codex and the jail paged in).
    const warm = all.map((origin, i) => ({ origin, pr: 1, installation: FIRST_INSTALLATION + i }));
    await Promise.all(warm.map((w) => fleet.openPr(w.origin, w.pr, w.installation)));
    await waitFor("the warm-up reviews", () => (finished(fleet, warm) ? true : undefined), 300_000, 100);
    // GitHub's write pacing (1 s per installation) starts afresh.
    await sleep(3_000);
    const warmRequests = fleet.mock.requests.length;
    const callMark = fleet.gh.calls.length;

    const prs: { origin: PrOrigin; pr: number; installation: number }[] = [];
    for (let j = 0; j < JOBS; j++) prs.push({ origin: all[j % INSTALLATIONS]!, pr: 100 + j, installation: FIRST_INSTALLATION + (j % INSTALLATIONS) });
    const cpuBefore = cpuSeconds(fleet.pids());
    const start = wallMs();
    const acks: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: SEND_CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= prs.length) return;
          const p = prs[i]!;
          acks.push((await fleet.openPr(p.origin, p.pr, p.installation)).ackMs);
        }
      }),
    );
    const totalSlots = variant.queue === "redis" ? variant.processes * variant.slots : variant.slots;
    const budget = 120_000 + (JOBS * (AGENT_MS + 8_000)) / totalSlots;
    await waitFor(`${JOBS} reviews (${variant.label})`, () => (finished(fleet, prs) ? true : undefined), budget, 100);
    const cpuS = cpuSeconds(fleet.pids()) - cpuBefore;
    // The last job's end: its check run completed (the last request a review job makes).
    const patches = fleet.gh.since(callMark).filter((c) => c.route === "PATCH /repos/:o/:r/check-runs/:id").map((c) => c.at);
    const lastEnd = patches.length > 0 ? Math.max(...patches) : wallMs();
    // A job run twice would post its second review after the first completed check run: wait a little.
    await sleep(3_000);
    const keys = new Set(prs.map((p) => `${p.origin.owner}/${p.origin.name}#${p.pr}`));
    const runs = fleet.runs().filter((r) => keys.has(`${r.repo}#${r.pr_number}`));
    const makespanS = (lastEnd - start) / 1000;
    const busy = runs.filter((r) => r.started_at !== null && r.finished_at !== null).map((r) => r.finished_at! - r.started_at!);
    const med = (f: (r: RunRow) => number | null): number => percentile(runs.map(f).filter((v): v is number => v !== null), 50);
    const agent = med((r) => r.agent_ms);
    const busyP50 = percentile(busy, 50);
    return {
      variant,
      totalSlots,
      makespanS,
      jobsPerMin: (JOBS / makespanS) * 60,
      slotMsPerJob: (makespanS * 1000 * totalSlots) / JOBS,
      busyMs: { p50: busyP50, p95: percentile(busy, 95) },
      codexOwnMs: agent - AGENT_MS,
      outsideAgentMs: busyP50 - agent,
      phases: { queue: med((r) => r.queue_ms), checkout: med((r) => r.checkout_ms), agent, publish: med((r) => r.publish_ms) },
      cpuSPerJob: cpuS / JOBS,
      counts: count(fleet, prs, runs, fleet.mock.requests.length - warmRequests),
      publishP50Ms: med((r) => r.publish_ms),
      ackP95Ms: percentile(acks, 95),
    };
  } finally {
    await fleet.close();
  }
}

export async function main(): Promise<void> {
  await runBench("scale", "3. Scale-out", async () => {
    const cores = os.availableParallelism();
    console.log(
      `${JOBS} reviews per variant${JOBS < 200 ? ` (scaled down from the issue's 200: BENCH_SCALE_JOBS=200 for the full run)` : ""}, agent ${AGENT_MS} ms each (real codex, scripted model), over ${INSTALLATIONS} installation(s); ${cores} cores`,
    );
    const all = origins();
    const results: Measured[] = [];
    for (const v of VARIANTS) {
      console.log(`  ${v.label}…`);
      const m = await measure(v, all);
      console.log(`    ${round(m.jobsPerMin, 1)} jobs/min, ${round(m.makespanS, 1)} s, lost ${m.counts.lost}, twice ${m.counts.twice}`);
      results.push(m);
    }
    const base = results.find((r) => r.variant.key === "sqlite-1")!;
    const ideal = (m: Measured): number => base.jobsPerMin * m.totalSlots;
    const table: Row[] = results.map((m) => ({
      variant: m.variant.label,
      slots: m.totalSlots,
      "jobs/min": round(m.jobsPerMin, 1),
      "ideal jobs/min": round(ideal(m), 1),
      "ratio vs linear": round(m.jobsPerMin / ideal(m), 2),
      "slot s per job": round(m.slotMsPerJob / 1000, 2),
      "overhead s per job": round((m.slotMsPerJob - AGENT_MS) / 1000, 2),
      "job p50 / p95 s": `${round(m.busyMs.p50 / 1000, 2)} / ${round(m.busyMs.p95 / 1000, 2)}`,
      "codex own s": round(m.codexOwnMs / 1000, 2),
      "bot outside agent s": round(m.outsideAgentMs / 1000, 2),
      "publish p50 s": round(m.publishP50Ms / 1000, 2),
      "CPU s per job": round(m.cpuSPerJob, 2),
      reviewed: `${m.counts.reviewed}/${m.counts.jobs}`,
      lost: m.counts.lost,
      "run twice": m.counts.twice,
      failed: m.counts.failed,
      "model requests": m.counts.modelRequests,
    }));
    // "Cores available" for an I/O-bound agent: slots scale until the machine's CPU is spent, i.e.
    // cores / (CPU seconds per job) jobs per second; the 2 s the agent waits on the model costs none.
    const cpuPerJob = percentile(results.map((m) => m.cpuSPerJob), 50);
    const cpuCeilingPerMin = (cores / cpuPerJob) * 60;
    const slotsBeforeCpu = cpuCeilingPerMin / base.jobsPerMin;
    const honest = results;
    const within = honest.filter((m) => m.totalSlots > 1 && m.totalSlots <= Math.max(cores, 2));
    const beyond = honest.filter((m) => m.totalSlots > Math.max(cores, 2));
    const minRatio = Math.min(...within.map((m) => m.jobsPerMin / ideal(m)));
    const wrong = (m: Measured): number =>
      m.counts.lost + m.counts.twice + m.counts.checkRunsNot1 + m.counts.runRecordsNot1 + Math.abs(m.counts.modelRequests - m.counts.jobs);
    const describe = (m: Measured): string =>
      `${m.variant.key}: ${m.counts.reviewed}/${m.counts.jobs} reviewed, ${m.counts.twice} twice, ${m.counts.failed} failed, ${m.counts.checkRunsNot1} PRs without exactly 1 check run, ${m.counts.runRecordsNot1} without exactly 1 run record, ${m.counts.modelRequests} model requests`;
    const ratio = (m: Measured): string => `${m.variant.key} ${round(m.jobsPerMin / ideal(m), 2)}×`;
    const targets: BenchTarget[] = [
      {
        target: `scaling >= ${TARGET_RATIO}× linear up to the ${cores} cores (${within.map((m) => m.variant.key).join(", ")})`,
        measured: `${within.map(ratio).join(", ")}; beyond the cores: ${beyond.map(ratio).join(", ")}`,
        met: minRatio >= TARGET_RATIO,
        value: round(minRatio, 2),
        floor: TARGET_RATIO,
        unit: "× linear",
        note: `1 slot: ${round(base.jobsPerMin, 1)} jobs/min; CPU ${round(cpuPerJob, 2)} s/job → the ${cores} cores saturate near ${round(cpuCeilingPerMin, 0)} jobs/min (~${round(slotsBeforeCpu, 1)} slots)`,
      },
      {
        target: "bot overhead per job (slot time minus the agent's 2 s), 1 slot",
        measured: `${round((base.slotMsPerJob - AGENT_MS) / 1000, 2)} s (codex's own start/parse ${round(base.codexOwnMs / 1000, 2)} s, the bot outside the agent ${round(base.outsideAgentMs / 1000, 2)} s, of which publishing ${round(base.publishP50Ms / 1000, 2)} s)`,
        met: true,
        value: round((base.slotMsPerJob - AGENT_MS) / 1000, 2),
        floor: 0,
        unit: "s",
        note: "reported, no target",
      },
      {
        target: "zero jobs lost or run twice (one review, one check run, one run record, one model request per PR)",
        measured: honest.map(describe).join("; "),
        met: honest.every((m) => wrong(m) === 0),
        // The value counts PRs without exactly one review; met also asks one check run, run record and model request each.
        value: honest.reduce((a, m) => a + m.counts.lost + m.counts.twice, 0),
        floor: 0,
        unit: "jobs",
      },
    ];
    return {
      sizes: { jobs: JOBS, fullSize: 200, agentMs: AGENT_MS, installations: INSTALLATIONS, cores, quick: QUICK },
      table,
      targets,
      details: Object.fromEntries(results.map((m) => [m.variant.key, m])),
    };
  });
}

if (isEntry(import.meta.url)) await main();
