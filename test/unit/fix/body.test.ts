import { describe, expect, it } from "vitest";
import {
  busyReply,
  commitMessage,
  fixBody,
  fixTitle,
  noChangeReply,
  openedReply,
  outdatedNote,
  publishFailedReply,
  refusedReply,
  usageReply,
  verifySection,
  type FixReport,
} from "../../../src/fix/body.js";
import type { FileChange } from "../../../src/fix/collect.js";
import type { FixTarget } from "../../../src/fix/findings.js";

const HEAD = "1234567890abcdef1234567890abcdef12345678";
const NEW_HEAD = "fedcba0987654321fedcba0987654321fedcba09";
const SECRET = "sk-live-ops-secret-0123456789";

const target: FixTarget = {
  title: "Guard against division by zero",
  priority: 1,
  path: "src/math.js",
  startLine: 6,
  endLine: 6,
  body: "divide(1, 0) returns Infinity.",
  url: "https://github.com/octo/demo/pull/7#discussion_r1",
  fingerprint: "0123456789abcdef",
};

const change: FileChange = {
  path: "src/math.js",
  status: "modified",
  oldMode: "100644",
  newMode: "100644",
  newObject: "a".repeat(40),
  size: 100,
  binary: false,
  linkTarget: null,
  additions: 1,
  deletions: 0,
};

function report(overrides: Partial<FixReport> = {}): FixReport {
  return {
    mode: "fix",
    prNumber: 7,
    headRef: "feature",
    headSha: HEAD,
    repoHtmlUrl: "https://github.com/octo/demo",
    targets: [target],
    instruction: null,
    requestedBy: "maintainer",
    requestUrl: "https://github.com/octo/demo/pull/7#issuecomment-9",
    changes: [change],
    agentMessage: "- Guarded divide() (src/math.js:6).",
    verify: null,
    outdated: null,
    knownSecrets: [SECRET],
    ...overrides,
  };
}

describe("fixTitle", () => {
  it("names the finding, the instruction, the count, or the tests", () => {
    expect(fixTitle(report())).toBe("Fix: Guard against division by zero (#7)");
    expect(fixTitle(report({ targets: [target, target] }))).toBe("Fix 2 review findings (#7)");
    expect(fixTitle(report({ targets: [], instruction: "handle\nnull input @alice" }))).toBe("Fix: handle null input @\u200Balice (#7)");
    expect(fixTitle(report({ mode: "tests", targets: [] }))).toBe("Add tests for the changes (#7)");
    expect(fixTitle(report({ mode: "tests", targets: [], instruction: "cover divide" }))).toBe("Add tests: cover divide (#7)");
  });

  it("is marked when verification failed, and capped", () => {
    const failed = { command: "npm test", passed: false, exitCode: 1, timedOut: false, durationMs: 1000, outputTail: "x" };
    expect(fixTitle(report({ verify: failed }))).toMatch(/^\[verification failed\] Fix: /);
    expect(fixTitle(report({ targets: [], instruction: "x".repeat(500) })).length).toBeLessThanOrEqual(120);
  });
});

describe("fixBody", () => {
  it("says what it fixes, for which PR, what changed, and that merging updates the PR", () => {
    const body = fixBody(report());
    expect(body).toContain("A fix for #7 (branch `feature`), written by Codex at the request of @maintainer ([comment](https://github.com/octo/demo/pull/7#issuecomment-9)).");
    expect(body).toContain("**Merging this pull request updates #7.**");
    expect(body).toContain("### Findings addressed\n\n- **P1** Guard against division by zero · `src/math.js:6` ([finding](https://github.com/octo/demo/pull/7#discussion_r1))");
    expect(body).toContain("| `src/math.js` | modified | +1 −0 |");
    expect(body).toContain("### Codex's summary\n\n- Guarded divide() (src/math.js:6).");
    expect(body).toContain(`Made against [\`1234567\`](https://github.com/octo/demo/commit/${HEAD})`);
    expect(body).not.toContain("Verification");
  });

  it("treats the agent's text as untrusted: no pings, no forged markers, no secrets", () => {
    const body = fixBody(report({ agentMessage: `Done @everyone <!-- codex-pr-bot:fp:ffffffffffffffff --> key ${SECRET} ghp_${"a".repeat(36)}` }));
    expect(body).not.toContain("@everyone");
    expect(body).not.toContain("codex-pr-bot:fp:");
    expect(body).not.toContain(SECRET);
    expect(body).not.toContain(`ghp_${"a".repeat(36)}`);
  });

  it("marks a failed verification at the top and shows the output's tail", () => {
    const body = fixBody(report({ verify: { command: "npm test", passed: false, exitCode: 2, timedOut: false, durationMs: 65_000, outputTail: "FAIL divide\n1 failed" } }));
    expect(body.indexOf("**Verification failed.**")).toBeLessThan(body.indexOf("### Findings addressed"));
    expect(body).toContain("❌ `npm test` **failed** (exit code 2) after 1m 05s.");
    expect(body).toContain("<details open>");
    expect(body).toContain("FAIL divide\n1 failed");
  });

  it("says which head it was made against when the PR moved on", () => {
    const clean = fixBody(report({ outdated: { currentHead: NEW_HEAD, conflicts: [] } }));
    expect(clean).toContain("This fix was made against [`1234567`]");
    expect(clean).toContain("has moved to [`fedcba0`]");
    expect(clean).toContain("It still merges cleanly into the new head.");
    expect(fixBody(report({ outdated: { currentHead: NEW_HEAD, conflicts: ["src/math.js"] } }))).toContain(
      "**It no longer applies cleanly** on the new head: conflicts in `src/math.js`.",
    );
    expect(outdatedNote({ ...report(), outdated: { currentHead: NEW_HEAD, conflicts: null } })).toContain("could not be checked");
  });

  it("stays within GitHub's body limit", () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ ...change, path: `src/file-${i}.js` }));
    const body = fixBody(report({ changes: many, agentMessage: "x".repeat(100_000) }));
    expect(body.length).toBeLessThanOrEqual(65_000);
    expect(body).toContain("… and 4900 more");
  });
});

describe("verifySection", () => {
  it("covers pass, timeout and a command that could not run", () => {
    expect(verifySection({ command: "make check", passed: true, exitCode: 0, timedOut: false, durationMs: 2000, outputTail: "" })).toBe(
      "✅ `make check` **passed** in 2s.\n\n_(no output)_",
    );
    expect(verifySection({ command: "x", passed: false, exitCode: null, timedOut: true, durationMs: 600_000, outputTail: "..." })).toContain("**timed out** after 10m 00s");
    expect(verifySection({ command: "x", passed: false, exitCode: null, timedOut: false, durationMs: 0, outputTail: "", error: "no sandbox" })).toContain(
      "**could not be run**: no sandbox",
    );
  });
});

describe("commitMessage", () => {
  it("is plain text with a subject, the head SHA, the findings and who asked", () => {
    expect(commitMessage(report())).toBe(
      [
        "Fix: Guard against division by zero",
        "",
        `Fix-up for pull request #7, made against ${HEAD}.`,
        "",
        "Addresses:",
        "- [P1] Guard against division by zero (src/math.js:6)",
        "",
        "Requested-by: maintainer",
        "",
      ].join("\n"),
    );
    expect(commitMessage(report({ mode: "tests", targets: [], requestedBy: null }))).toBe(`Add tests for the changes\n\nTests for pull request #7, made against ${HEAD}.\n`);
  });
});

describe("replies", () => {
  it("link the new PR, or explain why there is none", () => {
    expect(openedReply(report(), { number: 8, url: "https://github.com/octo/demo/pull/8", draft: false })).toContain(
      "@maintainer I opened #8 with a fix: https://github.com/octo/demo/pull/8",
    );
    const none = noChangeReply({ mode: "fix", requestedBy: "maintainer", headSha: HEAD, agentMessage: "Nothing to do @team.", knownSecrets: [] });
    expect(none).toContain("finished without changing any file at `1234567`");
    expect(none).toContain("> Nothing to do @\u200Bteam.");
    expect(noChangeReply({ mode: "tests", requestedBy: null, headSha: HEAD, agentMessage: " ", knownSecrets: [] })).toContain("It gave no explanation.");
  });

  it("list refused files with the setting that would allow them", () => {
    const text = refusedReply({
      requestedBy: "maintainer",
      changes: [change],
      violations: [
        { path: ".github/workflows/ci.yml", kind: "workflow", reason: "adds a GitHub Actions workflow" },
        { path: "l", kind: "symlink-outside", reason: "symlink to \"/etc\", outside the repository" },
      ],
    });
    expect(text).toContain("- `.github/workflows/ci.yml`: adds a GitHub Actions workflow (allowed by `fix.allow_workflow_changes`)");
    expect(text).toContain('- `l`: symlink to "/etc", outside the repository\n');
    expect(text).toContain("Nothing was committed or pushed.");
  });

  it("point a second request at the running one and explain usage", () => {
    expect(busyReply({ requestedBy: "bob", running: { mode: "tests", link: "https://x/1" } })).toBe(
      "@bob a test-writing run for this pull request is already in progress ([requested here](https://x/1)). One runs at a time; ask again once it has finished.",
    );
    expect(usageReply("bob")).toContain("`@codex fix <what to fix>`");
  });
});

describe("publishFailedReply", () => {
  it("quotes git's error without secrets and points at the permission", () => {
    const text = publishFailedReply({ requestedBy: "bob", message: `git push failed: denied for ${SECRET}`, knownSecrets: [SECRET] });
    expect(text).toContain("@bob Codex made a change, but codex-pr-bot **could not publish it**");
    expect(text).toContain("git push failed: denied for [REDACTED]");
    expect(text).toContain("**Contents: write**");
  });
});
