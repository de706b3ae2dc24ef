import { describe, expect, it } from "vitest";
import { alternativeLine, fixBody, noCandidateReply, openedReply, type FixReport, type VerifyOutcome } from "../../../src/fix/body.js";
import type { FileChange } from "../../../src/fix/collect.js";
import { patchComment } from "../../../src/fix/patch-comment.js";

const HEAD = "1234567890abcdef1234567890abcdef12345678";
const BRANCH = "codex-pr-bot/fix/7-1234567-alt";

const change: FileChange = {
  path: "src/math.js",
  status: "modified",
  oldMode: "100644",
  newMode: "100644",
  newObject: "a".repeat(40),
  size: 100,
  binary: false,
  linkTarget: null,
  additions: 2,
  deletions: 1,
};

const failedVerify: VerifyOutcome = { command: "npm test", passed: false, exitCode: 1, timedOut: false, durationMs: 10, outputTail: "FAIL" };
const passedVerify: VerifyOutcome = { ...failedVerify, passed: true, exitCode: 0, outputTail: "ok" };

function report(overrides: Partial<FixReport> = {}): FixReport {
  return {
    mode: "fix",
    prNumber: 7,
    headRef: "feature",
    headSha: HEAD,
    repoHtmlUrl: "https://github.com/octo/demo",
    targets: [],
    instruction: "guard divide()",
    requestedBy: null,
    requestUrl: null,
    changes: [change],
    agentMessage: "Guarded divide().",
    verify: passedVerify,
    outdated: null,
    knownSecrets: [],
    ...overrides,
  };
}

describe("best-of-two wording", () => {
  it("names the agent that wrote the fix; Codex when none is given (the single-agent wording)", () => {
    expect(fixBody(report())).toContain("written by Codex automatically");
    expect(fixBody(report())).toContain("### Codex's summary");
    expect(fixBody(report())).not.toContain("Best of two");
    const claude = fixBody(report({ agent: "claude" }));
    expect(claude).toContain("written by Claude automatically");
    expect(claude).toContain("### Claude's summary");
  });

  it("links the alternative's branch and compare view, with its verification and size", () => {
    expect(alternativeLine(report(), { agent: "codex", branch: BRANCH, verify: failedVerify, changes: [change] })).toBe(
      `**Alternative from codex**: branch [\`${BRANCH}\`](https://github.com/octo/demo/tree/${BRANCH}) ` +
        `([compare](https://github.com/octo/demo/compare/feature...${BRANCH})), verification failed, 3 lines changed (+2 −1).`,
    );
    expect(alternativeLine(report(), { agent: "claude", branch: null, verify: null, changes: [{ ...change, additions: 1, deletions: 0 }] })).toBe(
      "**Alternative from claude**: not pushed, not verified, 1 line changed (+1 −0).",
    );
  });

  it("explains the choice in the PR body and the reply, with notes about a candidate that could not be used", () => {
    const r = report({
      agent: "claude",
      bestOfTwo: {
        reason: "its verification passed and codex's failed",
        alternative: { agent: "codex", branch: BRANCH, verify: failedVerify, changes: [change] },
        notes: [],
      },
    });
    const body = fixBody(r);
    expect(body).toContain("### Best of two\n\nCodex and Claude each wrote a candidate; this pull request is **claude's**: its verification passed and codex's failed.");
    expect(body).toContain(`- **Alternative from codex**: branch [\`${BRANCH}\`]`);
    const reply = openedReply(r, { number: 8, url: "https://github.com/octo/demo/pull/8", draft: false });
    expect(reply).toContain("this is claude's change (its verification passed and codex's failed)");
    expect(reply).toContain("**Alternative from codex**");

    const alone = fixBody(report({ bestOfTwo: { reason: null, alternative: null, notes: ["**claude** did not finish (boom); this fix is from codex alone."] } }));
    expect(alone).toContain("only **codex's** could be used");
    expect(alone).toContain("- **claude** did not finish (boom); this fix is from codex alone.");
    expect(alone).not.toContain("To use the alternative");
  });

  it("a fork's patch comment says whose patch it is and that the alternative was not pushed", () => {
    const comment = patchComment(
      report({ agent: "claude", bestOfTwo: { reason: "it is the smaller change (3 lines against 5)", alternative: { agent: "codex", branch: null, verify: null, changes: [change] }, notes: [] } }),
      "diff --git a/src/math.js b/src/math.js\n",
    );
    expect(comment).toContain("Claude wrote a fix for this pull request");
    expect(comment).toContain("**Best of two**");
    expect(comment).toContain("**Alternative from codex**: not pushed");
  });

  it("when neither candidate can be published, says what became of each", () => {
    const text = noCandidateReply({
      mode: "fix",
      requestedBy: "maintainer",
      headSha: HEAD,
      knownSecrets: ["sk-secret-value-123"],
      candidates: [
        { agent: "codex", kind: "unchanged", message: "Nothing to change: divide() is already guarded." },
        {
          agent: "claude",
          kind: "refused",
          changes: [change],
          violations: [{ path: ".github/workflows/ci.yml", kind: "workflow", reason: "adds a GitHub Actions workflow" }],
        },
      ],
    });
    expect(text).toMatch(/^@maintainer Codex and Claude were both asked, but neither produced a change .* at `1234567`, so there is no fix pull request\./);
    expect(text).toContain("**codex** finished without changing any file. Its final message:\n\n> Nothing to change");
    expect(text).toContain("**claude** made a change (1 file changed, +2 −1) that breaks the safety rules for fix-ups:");
    expect(text).toContain("- `.github/workflows/ci.yml`: adds a GitHub Actions workflow (allowed by `fix.allow_workflow_changes`)");
    expect(text).toContain("Nothing was committed or pushed.");
    const failed = noCandidateReply({ mode: "tests", requestedBy: null, headSha: HEAD, knownSecrets: ["sk-secret-value-123"], candidates: [{ agent: "claude", kind: "failed", error: "leaked sk-secret-value-123" }] });
    expect(failed).toContain("no test pull request");
    expect(failed).not.toContain("sk-secret-value-123");
  });
});
