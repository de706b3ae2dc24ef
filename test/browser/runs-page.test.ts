import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RunStore } from "../../src/store/runs.js";
import type { Job } from "../../src/types.js";
import { startApp, testSettings, type RunningApp } from "../helpers/app-server.js";
import { makeJob } from "../helpers/queue-fixtures.js";
import { CHROMIUM as CHROMIUM_SERVICE, CHROMIUM_PATH, skipWithout } from "../helpers/services.js";
import { makeTempDir, TEST_ROOT } from "../helpers/tmp.js";

/**
 * The runs pages as a person sees them: the real app on a loopback port, runs recorded through the
 * RunStore API, and Debian's Chromium (headless) driven by playwright-core, which never downloads a
 * browser of its own. CI installs chromium (.ci/run); without it this file is skipped, saying so
 * (and fails with CI=true).
 */

const CHROMIUM = CHROMIUM_PATH;
const skip = skipWithout(CHROMIUM_SERVICE, "the runs-page browser tests (test/browser/runs-page.test.ts)");
const TOKEN = "runs-token-for-the-browser-test-0123456789abcdef";
const HOSTILE_TITLE = "<img src=x onerror=alert(1)>";
const HOSTILE_EVENT = "<script>alert(3)</script> said the agent";
/** Kept after the run (tmp dirs are removed), so a person can look at them. */
const SCREENSHOTS = path.join(TEST_ROOT, "screenshots");

let app: RunningApp;
let context: BrowserContext;
let page: Page;
const dialogs: string[] = [];
const pageErrors: string[] = [];
const seeded: Record<"succeeded" | "hostile" | "running" | "queued" | "timedOut", string> = {
  succeeded: "",
  hostile: "",
  running: "",
  queued: "",
  timedOut: "",
};

function job(repo: string, pr: number, title: string, spec: Parameters<typeof makeJob>[0] = {}): Job {
  const [owner, name] = repo.split("/") as [string, string];
  const j = makeJob({ pr, head: "c0ffee".padEnd(40, "0"), ...spec });
  return {
    ...j,
    repo: { ...j.repo, owner, name, htmlUrl: `https://github.com/${repo}` },
    pull: j.pull ? { ...j.pull, title } : null,
  };
}

/**
 * What the worker records for a run, through the same RunStore calls, on a clock set back an hour
 * so queue waits, phases and durations read like real ones.
 */
function seed(runs: RunStore): void {
  const base = Date.now() - 60 * 60_000;
  const at = (ms: number) => vi.setSystemTime(base + ms);
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    at(0);
    const ok = runs.create(job("acme/widgets", 12, "Add a cache for the pricing API"), { executors: ["codex"] });
    at(1_200);
    runs.start(ok);
    runs.phase(ok, "checkout", 3_400);
    runs.phase(ok, "agent", 65_000);
    runs.phase(ok, "publish", 800);
    runs.appendEvents(ok, [
      '{"type":"thread.started","thread_id":"t-1"}',
      '{"type":"item.completed","item":{"type":"command_execution","command":"npm test","exit_code":0}}',
      '{"type":"turn.completed","usage":{"input_tokens":12000,"output_tokens":900}}',
    ]);
    at(70_400);
    runs.finish(ok, {
      status: "succeeded",
      findings: 3,
      usage: { inputTokens: 12_000, cachedInputTokens: 4_000, outputTokens: 900, reasoningOutputTokens: 300 },
      costUsd: 0.0421,
      links: { review: "https://github.com/acme/widgets/pull/12#pullrequestreview-1", checkRun: "https://github.com/acme/widgets/runs/9" },
    });
    seeded.succeeded = ok;

    at(10 * 60_000);
    const bad = runs.create(job("acme/widgets", 13, HOSTILE_TITLE), { executors: ["codex"] });
    at(10 * 60_000 + 500);
    runs.start(bad);
    runs.phase(bad, "checkout", 2_100);
    runs.appendEvents(bad, ['{"type":"thread.started","thread_id":"t-2"}', HOSTILE_EVENT]);
    at(10 * 60_000 + 2_700);
    runs.finish(bad, { status: "failed", error: "codex exited with code 1: <b>boom</b>" });
    seeded.hostile = bad;

    at(20 * 60_000);
    const slow = runs.create(job("acme/gadgets", 4, "Bump dependencies"), { executors: ["codex"] });
    at(20 * 60_000 + 2_000);
    runs.start(slow);
    at(50 * 60_000 + 2_000);
    runs.finish(slow, { status: "timed_out", error: "the agent ran longer than 30 min" });
    seeded.timedOut = slow;

    at(55 * 60_000);
    const running = runs.create(job("other/repo", 7, "", { command: true, mode: "audit" }), { executors: ["codex"] });
    at(55 * 60_000 + 3_000);
    runs.start(running);
    runs.phase(running, "checkout", 900);
    seeded.running = running;

    at(58 * 60_000);
    seeded.queued = runs.create(job("other/repo", 8, "Fix the flaky login test"));
  } finally {
    vi.useRealTimers();
  }
}

beforeAll(async () => {
  if (skip) return;
  if (!CHROMIUM_SERVICE.available()) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`${CHROMIUM_SERVICE.install}\` (.ci/run does)`);
  }
  app = await startApp(testSettings(makeTempDir("browser")), { runsToken: TOKEN });
  seed(app.runs);
  mkdirSync(SCREENSHOTS, { recursive: true });
  // A fresh, empty profile per run; no background traffic (this machine's network is closed).
  context = await chromium.launchPersistentContext(makeTempDir("chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 800 },
    timeout: 20_000,
  });
  context.setDefaultTimeout(10_000);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (err) => pageErrors.push(err.message));
  // The "no dialog" checks below mean something only if a dialog would be seen: prove it once.
  await page.evaluate(() => (globalThis as unknown as { alert(m: string): void }).alert("listener check"));
  expect(dialogs.splice(0)).toEqual(["alert: listener check"]);
}, 30_000);

afterAll(async () => {
  await context?.close();
  await app?.close();
});

/** The list's rows as a person reads them: one object per run, keyed by column heading. */
async function rows(p: Page): Promise<Record<string, string>[]> {
  return p.locator("table").first().evaluate((table) => {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent?.trim() ?? "");
    return [...table.querySelectorAll("tbody tr")].map((tr) =>
      Object.fromEntries([...tr.querySelectorAll("td")].map((td, i) => [heads[i] ?? String(i), td.textContent?.trim() ?? ""])),
    );
  });
}

describe.skipIf(skip)("the runs pages in Chromium", () => {
  it("refuses a visitor without the token and shows nothing of the runs", async () => {
    for (const url of [`${app.url}/runs`, `${app.url}/runs?token=wrong`, `${app.url}/runs/${seeded.succeeded}`]) {
      const res = await page.goto(url);
      expect(res?.status(), url).toBe(401);
      const text = await page.locator("body").innerText();
      expect(text).not.toContain("acme/widgets");
    }
    expect(await context.cookies()).toEqual([]);
  });

  it("trades the token for a cookie and lists the runs with repository, status and title", async () => {
    const res = await page.goto(`${app.url}/runs?token=${TOKEN}`);
    expect(res?.status()).toBe(200);
    expect(res?.request().redirectedFrom()?.url()).toContain("token=");
    // The address bar no longer holds the token; the cookie does, out of reach of scripts.
    expect(page.url()).toBe(`${app.url}/runs`);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/runs" });

    await expect.poll(() => page.title()).toBe("Runs · codex-pr-bot");
    expect(await page.getByRole("heading", { level: 1 }).innerText()).toBe("Runs");
    const list = await rows(page);
    // Newest first.
    expect(list.map((r) => [r["Pull request"], r.Status])).toEqual([
      ["other/repo#8", "queued"],
      ["other/repo#7", "running"],
      ["acme/gadgets#4", "timed_out"],
      ["acme/widgets#13", "failed"],
      ["acme/widgets#12", "succeeded"],
    ]);
    // Time from queued to finished; blank while a run is not over.
    expect(list.map((r) => r.Duration)).toEqual(["", "", "30 min 2 s", "2.7 s", "70.4 s"]);
    const ok = list.find((r) => r.Run === seeded.succeeded)!;
    expect(ok).toMatchObject({ Title: "Add a cache for the pricing API", Mode: "review", Findings: "3" });
    expect(ok.Trigger).toBe("pull_request.synchronize by s");
    expect(list.find((r) => r.Run === seeded.running)?.Trigger).toBe("@codex command by s");
    // Status is colour-coded as well as written out.
    const failedCell = page.locator("td.s-failed");
    expect(await failedCell.innerText()).toBe("failed");
    expect(await colorOf(failedCell)).toBe("rgb(207, 34, 46)");
    expect(await colorOf(page.locator("td.s-succeeded"))).toBe("rgb(26, 127, 55)");

    await page.screenshot({ path: path.join(SCREENSHOTS, "runs-list.png"), fullPage: true });
  });

  it("shows a hostile PR title as text: no markup, no script, no dialog", async () => {
    await page.goto(`${app.url}/runs`);
    const row = page.locator("tr", { has: page.locator(`a[href="/runs/${seeded.hostile}"]`) });
    expect(await row.locator("td").nth(2).innerText()).toBe(HOSTILE_TITLE);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(0);
    await page.waitForTimeout(200);
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("filters by status and by repository with the form", async () => {
    await page.goto(`${app.url}/runs`);
    await page.locator('select[name="status"]').selectOption("failed");
    await Promise.all([page.waitForURL(/status=failed/), page.getByRole("button", { name: "Filter" }).click()]);
    expect(new URL(page.url()).searchParams.get("status")).toBe("failed");
    expect((await rows(page)).map((r) => r.Run)).toEqual([seeded.hostile]);
    // The form keeps the chosen filter.
    expect(await page.locator('select[name="status"]').inputValue()).toBe("failed");
    await page.screenshot({ path: path.join(SCREENSHOTS, "runs-filtered.png"), fullPage: true });

    await page.locator('select[name="status"]').selectOption("");
    await page.locator('input[name="repo"]').fill("other/repo");
    await Promise.all([page.waitForURL(/repo=other%2Frepo/), page.locator('input[name="repo"]').press("Enter")]);
    expect((await rows(page)).map((r) => r["Pull request"])).toEqual(["other/repo#8", "other/repo#7"]);
    // The pull request cell links to it on GitHub.
    expect(await page.getByRole("link", { name: "other/repo#8" }).getAttribute("href")).toBe("https://github.com/other/repo/pull/8");

    await page.locator('select[name="status"]').selectOption("succeeded");
    await Promise.all([page.waitForURL(/status=succeeded/), page.getByRole("button", { name: "Filter" }).click()]);
    expect(await page.locator("tbody").innerText()).toBe("No runs.");
  });

  it("opens a run from the list: facts, phase timings, links and the event log", async () => {
    await page.goto(`${app.url}/runs`);
    await Promise.all([page.waitForURL(`**/runs/${seeded.succeeded}`), page.getByRole("link", { name: seeded.succeeded }).click()]);
    expect(await page.getByRole("heading", { level: 1 }).innerText()).toBe(`Run ${seeded.succeeded}`);

    expect(await factRows(page)).toMatchObject({
      Repository: "acme/widgets#12",
      Title: "Add a cache for the pricing API",
      Status: "succeeded",
      Executors: "codex",
      Attempts: "1",
      Duration: "70.4 s",
      Findings: "3",
      Usage: "12000 in (4000 cached), 900 out (300 reasoning)",
      Cost: "$0.0421",
    });

    expect(await phaseRows(page)).toEqual([
      ["queue", "1.2 s"],
      ["checkout", "3.4 s"],
      ["agent", "65.0 s"],
      ["publish", "800 ms"],
    ]);

    const links = page.locator("h2", { hasText: "Links" }).locator("xpath=following-sibling::ul[1]");
    expect(await links.getByRole("link").evaluateAll((as) => as.map((a) => [a.getAttribute("href"), a.getAttribute("rel")]))).toEqual([
      ["https://github.com/acme/widgets/pull/12", "noreferrer noopener"],
      ["https://github.com/acme/widgets/pull/12#pullrequestreview-1", "noreferrer noopener"],
      ["https://github.com/acme/widgets/runs/9", "noreferrer noopener"],
    ]);

    const log = await page.locator("h2", { hasText: "Events" }).locator("xpath=following-sibling::pre[1]").innerText();
    expect(log.split("\n")).toEqual([
      '{"type":"thread.started","thread_id":"t-1"}',
      '{"type":"item.completed","item":{"type":"command_execution","command":"npm test","exit_code":0}}',
      '{"type":"turn.completed","usage":{"input_tokens":12000,"output_tokens":900}}',
    ]);
    await page.screenshot({ path: path.join(SCREENSHOTS, "run-detail.png"), fullPage: true });

    await Promise.all([page.waitForURL(`${app.url}/runs`), page.getByRole("link", { name: "All runs" }).click()]);
    expect((await rows(page)).length).toBe(5);
  });

  it("shows the failed run's hostile title, error and log lines as text", async () => {
    await page.goto(`${app.url}/runs/${seeded.hostile}`);
    expect(await factRows(page)).toMatchObject({
      Title: HOSTILE_TITLE,
      Status: "failed",
      Error: "codex exited with code 1: <b>boom</b>",
    });
    expect(await page.locator("b").count()).toBe(0);
    const log = await page.locator("pre").first().innerText();
    expect(log).toContain(HOSTILE_EVENT);
    expect(await page.locator("img, script").count()).toBe(0);
    // Phases the run never reached are left blank, not shown as zero.
    const phases = await phaseRows(page);
    expect(phases.slice(1)).toEqual([
      ["checkout", "2.1 s"],
      ["agent", ""],
      ["publish", ""],
    ]);
    // The queue wait is what start() measured.
    expect(phases[0]).toEqual(["queue", "500 ms"]);
    await page.waitForTimeout(200);
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: path.join(SCREENSHOTS, "run-hostile.png"), fullPage: true });
  });

  it("answers 404 for an unknown run", async () => {
    const res = await page.goto(`${app.url}/runs/zzzzzzzzzzzzzzzzzzzzzz`);
    expect(res?.status()).toBe(404);
    expect(await page.getByRole("heading", { level: 1 }).innerText()).toBe("Run not found");
  });
});

/** The colour the browser paints an element's text in. */
function colorOf(locator: Locator): Promise<string> {
  // Runs in the page; tsconfig has no DOM lib, hence the cast.
  type Window = { getComputedStyle(element: unknown): { color: string } };
  return locator.evaluate((element) => (globalThis as unknown as Window).getComputedStyle(element).color);
}

/** The detail page's facts table: heading to value. */
function factRows(p: Page): Promise<Record<string, string>> {
  return p
    .locator("table")
    .first()
    .evaluate((t) =>
      Object.fromEntries([...t.querySelectorAll("tr")].map((tr) => [tr.querySelector("th")?.textContent ?? "", tr.querySelector("td")?.textContent ?? ""])),
    );
}

function phaseRows(p: Page): Promise<[string, string][]> {
  return p
    .locator("h2", { hasText: "Phases" })
    .locator("xpath=following-sibling::table[1]")
    .evaluate((t) =>
      [...t.querySelectorAll("tr")].map((tr) => [tr.querySelector("th")?.textContent ?? "", tr.querySelector("td")?.textContent ?? ""] as [string, string]),
    );
}
