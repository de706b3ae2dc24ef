/**
 * Hostile repositories (issue 6): pull requests shaped to exhaust or escape the bot. Real app over
 * HTTP, real git (repositories written with `git fast-import`, which is fast enough for a 50 MB blob
 * and 5,000 files), the pinned codex against a scripted model, and, for the symlink case, the agent
 * as AGENT_USER, as in production.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENT_UMASK } from "../../src/security/agent-user.js";
import { execCommand, inputText, message, type MockRequest, type Turn } from "../helpers/mock-responses.js";
import { deliver, pullRequestPayload } from "../helpers/webhooks.js";
import { BASE_FILE, HEAD_FILE, reviewJson, scenario, type Scenario } from "../integration/helpers.js";
import { ensureAgentUser, startWithAgentUser } from "./fixture.js";

type Entry = { content: string | Buffer; mode?: "100644" | "120000" };

/**
 * A bare repository with `main` (base) and PR #7 (head, also `feature`), written in one
 * `git fast-import` run: no working tree, no per-file process.
 */
function fastImportOrigin(dir: string, base: Record<string, Entry>, head: Record<string, Entry>): { bare: string; baseSha: string; headSha: string } {
  const bare = path.join(dir, "hostile.git");
  mkdirSync(bare, { recursive: true });
  execFileSync("git", ["init", "--bare", "-q", "--initial-branch=main", bare]);
  const chunks: Buffer[] = [];
  const text = (s: string) => chunks.push(Buffer.from(s, "utf8"));
  const data = (content: string | Buffer) => {
    const buf = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    text(`data ${buf.length}\n`);
    chunks.push(buf);
    text("\n");
  };
  const commit = (ref: string, mark: number, msg: string, files: Record<string, Entry>, from?: number) => {
    text(`commit ${ref}\nmark :${mark}\nauthor Hostile <h@example.com> 1700000000 +0000\ncommitter Hostile <h@example.com> 1700000000 +0000\n`);
    data(msg);
    if (from !== undefined) text(`from :${from}\n`);
    for (const [file, entry] of Object.entries(files)) {
      text(`M ${entry.mode ?? "100644"} inline ${file}\n`);
      data(entry.content);
    }
  };
  commit("refs/heads/main", 1, "base", base);
  commit("refs/heads/feature", 2, "hostile change", head, 1);
  text("reset refs/pull/7/head\nfrom :2\n\n");
  execFileSync("git", ["fast-import", "--quiet"], { cwd: bare, input: Buffer.concat(chunks), maxBuffer: 16 * 1024 * 1024 });
  const sha = (ref: string) => execFileSync("git", ["rev-parse", ref], { cwd: bare, encoding: "utf8" }).trim();
  return { bare, baseSha: sha("main"), headSha: sha("feature") };
}

/** Points the scenario at a fast-import repository; GET /pulls/7 answers with its SHAs. */
function useHostileRepo(sc: Scenario, base: Record<string, Entry>, head: Record<string, Entry>): void {
  const origin = fastImportOrigin(path.dirname(sc.dataDir), base, head);
  sc.repo.cloneUrl = origin.bare;
  sc.baseSha = origin.baseSha;
  sc.headSha = origin.headSha;
  sc.gh.on("GET", sc.gh.repoPath("/pulls/7"), () => [200, pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }).pull_request]);
}

const BASE: Record<string, Entry> = { "src/math.js": { content: BASE_FILE }, "README.md": { content: "# demo\n" } };

async function openPull(sc: Scenario): Promise<void> {
  const res = await deliver(sc.app!.url, "pull_request", pullRequestPayload("opened", sc.repo, { number: 7, headSha: sc.headSha, baseSha: sc.baseSha }));
  expect(res.status).toBe(200);
  await sc.app!.queue.idle();
}

type CheckPatch = { conclusion?: string; output?: { title: string; summary: string } };
const finalCheck = (sc: Scenario): CheckPatch => sc.gh.bodies<CheckPatch>("PATCH", /check-runs\/\d+$/).filter((b) => b.conclusion).at(-1)!;

describe("hostile repositories", () => {
  let sc: Scenario;
  beforeEach(() => {
    sc = scenario("hostile-repo");
  });
  afterEach(async () => {
    await sc.close();
  });

  it("a 50 MB file: the review completes, the file is skipped as over the diff limit, memory stays bounded", async () => {
    const line = "INSERT INTO audit_log VALUES (1, 'x', 'yyyyyyyyyyyyyyyyyyyyyyyy');\n"; // 68 bytes
    const big = Buffer.from(line.repeat(Math.ceil((50 * 1024 * 1024) / line.length)));
    useHostileRepo(sc, BASE, { "src/math.js": { content: HEAD_FILE }, "db/dump.sql": { content: big } });
    sc.gh.defaults();
    await sc.start((req) => (req.hasToolOutput ? message(reviewJson(null)) : execCommand("ls -la db && wc -c db/dump.sql")));

    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      await openPull(sc);
    } finally {
      clearInterval(sampler);
    }

    expect(sc.gh.unexpected).toEqual([]);
    const check = finalCheck(sc);
    expect(check.conclusion).toBe("neutral"); // completed, with the P1 finding
    expect(check.output!.summary).toContain("db/dump.sql (over the diff size limit)");
    // The agent was told about the file but never handed its contents.
    const prompt = JSON.stringify(sc.mock!.requests[0]!.body.input);
    expect(prompt.length).toBeLessThan(200_000);
    expect(prompt).not.toContain("INSERT INTO audit_log");
    expect(sc.mock!.requests[1]!.toolOutputs.join("\n")).toMatch(/\b5242\d{4} db\/dump\.sql/);
    // Findings are the model's three, nothing invented from the big file.
    const reviews = sc.gh.bodies<{ body: string; comments: { path: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.comments.map((c) => c.path)).toEqual(["src/math.js"]);
    expect(reviews[0]!.body).not.toContain("INSERT INTO");
    // The 50 MB diff is parsed once, in one process: a generous bound that catches copies per file or per hunk.
    console.log(`hostile-repo: RSS grew by ${Math.round((peak - rssBefore) / 1048576)} MB`);
    expect(peak - rssBefore).toBeLessThan(512 * 1024 * 1024);
  });

  // A diff over the git output cap (64 MiB) must fail loudly: reading only its tail would hide every
  // file sorted before a padding file from the review.
  it("a file hidden in front of 65 MiB of padding is reviewed or listed, never silently dropped", async () => {
    const pad = Buffer.from("-- padding padding padding padding padding padding padding padding\n".repeat(Math.ceil((65 * 1024 * 1024) / 68)));
    useHostileRepo(sc, BASE, {
      "a-backdoor.js": { content: "export const open = () => require('child_process').exec(process.env.CMD);\n" },
      "src/math.js": { content: HEAD_FILE },
      "b-padding.sql": { content: pad },
    });
    sc.gh.defaults();
    await sc.start([message(reviewJson(null))]);
    await openPull(sc);
    const check = finalCheck(sc);
    const seen = `${inputText(sc.mock!.requests[0]?.body ?? {})}\n${check.output?.summary ?? ""}`;
    expect(check.conclusion === "failure" || seen.includes("a-backdoor.js")).toBe(true);
  });

  it("a 5,000-file PR: reviewed on a prioritised subset of at most MAX_FILES files, the rest listed in the check run", async () => {
    const head: Record<string, Entry> = { "src/math.js": { content: HEAD_FILE } };
    for (let i = 0; i < 5000; i++) head[`gen/part${String(i).padStart(4, "0")}.js`] = { content: `export const v${i} = ${i};\n` };
    useHostileRepo(sc, BASE, head);
    sc.gh.defaults();
    const maxFiles = 50;
    await sc.start([message(reviewJson(null))], { maxFiles });
    await openPull(sc);

    expect(sc.gh.unexpected).toEqual([]);
    const prompt = inputText(sc.mock!.requests[0]!.body);
    const check = finalCheck(sc);
    expect(check.conclusion).toBe("neutral");
    const summary = check.output!.summary;
    expect(summary).toMatch(/over the file limit/);
    expect(summary.length).toBeLessThanOrEqual(65_535);
    const reviews = sc.gh.bodies<{ body: string; comments: { path: string }[] }>("POST", /\/pulls\/7\/reviews$/);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.body).toMatch(/over the review size limits: 4951 lower-priority files were not reviewed/);
    expect(reviews[0]!.comments.map((c) => c.path)).toEqual(["src/math.js"]);
    // The agent was handed at most MAX_FILES changed files.
    const changed = changedFilesInPrompt(prompt);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(maxFiles);
    expect(changed).toContain("src/math.js");
  });

  it("a symlink pointing outside the tree: checked out as a link, the agent's cat cannot read the planted secret, the review completes", async () => {
    const agent = ensureAgentUser();
    const secretDir = path.join(path.dirname(sc.dataDir), "outside");
    mkdirSync(secretDir, { recursive: true });
    const secretFile = path.join(secretDir, "secret.txt");
    const SECRET = "PLANTED-OUTSIDE-SECRET-7f3a9c";
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    useHostileRepo(sc, BASE, {
      "src/math.js": { content: HEAD_FILE },
      "leak-abs": { content: secretFile, mode: "120000" },
      "leak-rel": { content: `${"../".repeat(12)}${secretFile.slice(1)}`, mode: "120000" },
    });
    sc.gh.defaults();
    // As the operator must (SECURITY.md): directories above DATA_DIR searchable by the agent, umask 077.
    chmodSync(path.dirname(sc.dataDir), 0o711);
    const commands = [
      "ls -la leak-abs leak-rel; readlink leak-abs",
      "cat leak-abs; echo cat-abs-exit=$?; cat leak-rel; echo cat-rel-exit=$?",
    ];
    const script = (req: MockRequest): Turn =>
      req.toolOutputs.length < commands.length
        ? execCommand(commands[req.toolOutputs.length]!)
        : message(
            reviewJson(null, {
              findings: [
                {
                  title: "[P1] Symlink escapes the repository",
                  body: "`leak-abs` points outside the tree.",
                  priority: 1,
                  confidence_score: 0.9,
                  code_location: { file_path: "leak-abs", line_range: { start: 1, end: 1 } },
                  anchor_code: secretFile,
                  suggestion: null,
                },
              ],
            }),
          );
    const umask = process.umask(AGENT_UMASK);
    try {
      await startWithAgentUser(sc, script, agent, null);
      await openPull(sc);
    } finally {
      process.umask(umask);
    }

    expect(sc.gh.unexpected).toEqual([]);
    const outputs = sc.mock!.requests.flatMap((r) => r.toolOutputs).join("\n");
    // Checked out as links (git never follows them), and the link target is not readable by the
    // agent: outside the jail it does not exist (inside AGENT_USER alone it would be "Permission denied").
    expect(outputs).toMatch(/leak-abs -> /);
    expect(outputs).toMatch(/No such file or directory/);
    expect(outputs).toMatch(/cat-abs-exit=1/);
    expect(outputs).toMatch(/cat-rel-exit=1/);
    expect(outputs).not.toContain(SECRET);
    // The review completed, and nothing the app posted carries the secret.
    expect(finalCheck(sc).conclusion).toBe("neutral");
    expect(sc.gh.find("POST", /\/pulls\/7\/reviews$/)).toHaveLength(1);
    expect(JSON.stringify(sc.gh.calls)).not.toContain(SECRET);
  });
});

/** The changed files the prompt hands the agent: the list under "Changed files to consider". */
function changedFilesInPrompt(prompt: string): string[] {
  const section = prompt.replace(/\\n/g, "\n").split("Changed files to consider")[1]?.split("Files excluded by the repository configuration")[0] ?? "";
  return [...section.matchAll(/^- \w+ `([^`]+)`$/gm)].map((m) => m[1]!);
}
