import { describe, expect, it } from "vitest";
import { describePostingError } from "../../../src/action/publish.js";
import { publishSummary } from "../../../src/action/report.js";
import { outputBlock, workflowCommand } from "../../../src/action/workflow.js";

describe("workflowCommand", () => {
  it("escapes data and properties so agent text stays one command", () => {
    expect(workflowCommand("warning", "50% done\nnext line\r\n::set-output name=x::1")).toBe(
      "::warning::50%25 done%0Anext line%0D%0A::set-output name=x::1\n",
    );
    expect(workflowCommand("error", "m", { title: "[P1] a, b: c", file: "src/a.c", line: 4, endLine: 5 })).toBe(
      "::error title=[P1] a%2C b%3A c,file=src/a.c,line=4,endLine=5::m\n",
    );
  });
});

describe("outputBlock", () => {
  it("writes multi-line-safe outputs and refuses a value that holds the delimiter", () => {
    expect(outputBlock({ sarif: "/r/review.sarif", "worst-severity": "" }, "EOF_1")).toBe("sarif<<EOF_1\n/r/review.sarif\nEOF_1\nworst-severity<<EOF_1\n\nEOF_1\n");
    expect(() => outputBlock({ x: "a\nEOF_1\nb" }, "EOF_1")).toThrow(/contains the delimiter/);
    expect(outputBlock({ a: "1" })).toMatch(/^a<<ghadelimiter_[0-9a-f-]{36}\n1\nghadelimiter_[0-9a-f-]{36}\n$/);
  });
});

describe("describePostingError", () => {
  const err = (status: number, message: string, headers: Record<string, string> = {}) => Object.assign(new Error(message), { status, response: { headers } });

  it("tells a rate limit, a missing permission and a missing repository apart, without the token", () => {
    const token = "ghs_secretsecretsecret";
    expect(describePostingError(err(403, "API rate limit exceeded", { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1893456000" }), [])).toEqual({
      reason: "rate-limit",
      message: "GitHub's API rate limit for this token was reached (HTTP 403: API rate limit exceeded). It resets at 2030-01-01T00:00:00Z.",
    });
    expect(describePostingError(err(429, "You have exceeded a secondary rate limit"), []).reason).toBe("rate-limit");
    const forbidden = describePostingError(err(403, `Resource not accessible by integration ${token}`), [token]);
    expect(forbidden.reason).toBe("forbidden");
    expect(forbidden.message).toContain("`permissions: pull-requests: write`");
    expect(forbidden.message).not.toContain(token);
    expect(describePostingError(err(404, "Not Found"), []).reason).toBe("not-found");
    expect(describePostingError(new Error("socket hang up"), [])).toEqual({ reason: "error", message: "socket hang up" });
  });
});

describe("publishSummary", () => {
  it("says what happened to the review in one line", () => {
    expect(publishSummary({ kind: "posted", url: "https://x/r", inline: 2, outside: 1, duplicatesSkipped: 1, inlineRejected: false })).toBe(
      "> Posted [the review](https://x/r) on the pull request: 2 inline comments, 1 in the review body; 1 already posted earlier was not repeated.",
    );
    expect(publishSummary({ kind: "nothing-new", duplicatesSkipped: 0 })).toBe("> No review posted: there are no findings.");
    expect(publishSummary({ kind: "moved", to: "c".repeat(40) })).toContain("moved on to `cccccccccccc`");
    expect(publishSummary({ kind: "disabled" })).toContain("`post-review: false`");
  });
});
