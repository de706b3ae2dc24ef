import { describe, expect, it } from "vitest";
import { handlesCheck, webhookCheck } from "../../../src/cli/doctor.js";

/** doctor's first answer to "why did nothing happen?": can GitHub's webhooks reach the app at all. */

const missing = (): string => {
  throw new Error("Cannot find module 'smee-client'");
};

describe("doctor: webhooks", () => {
  it("passes with a smee.io channel and smee-client installed (a dev dependency, so npm ci brings it)", () => {
    const result = webhookCheck({ WEBHOOK_PROXY_URL: "https://smee.io/abc123" });
    expect(result).toMatchObject({ status: "ok" });
    expect(result.detail).toContain("https://smee.io");
    expect(result.detail).not.toContain("abc123");
  });

  it("fails when Probot would forward nothing: smee-client missing, or a channel that is not a URL", () => {
    expect(webhookCheck({ WEBHOOK_PROXY_URL: "https://smee.io/abc123" }, missing)).toMatchObject({
      status: "fail",
      detail: "WEBHOOK_PROXY_URL is set but smee-client is not installed: Probot forwards nothing",
      fix: expect.stringContaining("npm ci"),
    });
    expect(webhookCheck({ WEBHOOK_PROXY_URL: "smee.io/abc" })).toMatchObject({ status: "fail", detail: "WEBHOOK_PROXY_URL is not a URL" });
  });

  it("without a channel, says GitHub must reach the server and how to try it on a laptop", () => {
    expect(webhookCheck({})).toMatchObject({ status: "note", fix: expect.stringContaining("https://smee.io/new") });
    expect(webhookCheck({ NODE_ENV: "production" })).toMatchObject({ status: "ok" });
  });
});

describe("doctor: handles", () => {
  it("names the live handles, and warns when Claude is set up but @claude would get no answer", () => {
    expect(handlesCheck(["codex", "claude"], true)).toMatchObject({ status: "ok", detail: "@codex, @claude answer commands" });
    expect(handlesCheck(["codex"], false)).toMatchObject({ status: "ok", detail: "@codex answer commands (@claude once Claude is set up)" });
    expect(handlesCheck(["codex"], true)).toMatchObject({ status: "warn", fix: expect.stringContaining("BOT_HANDLES") });
  });
});
