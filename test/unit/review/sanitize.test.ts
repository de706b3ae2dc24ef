import { describe, expect, it } from "vitest";
import { extractFingerprints, fingerprintMarker } from "../../../src/review/fingerprint.js";
import {
  closeOpenFences,
  codeFence,
  codeSpan,
  neutralizeMentions,
  redactSecrets,
  secretForms,
  sanitizeAgentMarkdown,
  stripHtmlComments,
  truncate,
} from "../../../src/review/sanitize.js";

const ZWSP = "\u200B";

// Built at run time so no scanner mistakes the test file for a leak.
const fake = (prefix: string, n: number, alphabet = "aB3") =>
  prefix + Array.from({ length: n }, (_, i) => alphabet[i % alphabet.length]).join("");

describe("neutralizeMentions", () => {
  it("breaks user, team, @everyone and @here mentions with a zero-width space", () => {
    const out = neutralizeMentions("cc @octocat, @my-org/core-team (@everyone) and @here.");
    expect(out).toBe(`cc @${ZWSP}octocat, @${ZWSP}my-org/core-team (@${ZWSP}everyone) and @${ZWSP}here.`);
  });

  it("catches mentions at the start of lines, in lists, quotes and links", () => {
    const out = neutralizeMentions("@a\n- @b\n> @c\n[@d](https://example.com)");
    expect(out.match(/@(?!\u200B)/g)).toBeNull();
  });

  it("leaves e-mail addresses alone", () => {
    const text = "Mail first.last@example.com or a@b.com, not user_1@host.io.";
    expect(neutralizeMentions(text)).toBe(text);
  });

  it("leaves mentions inside inline code and fenced blocks alone", () => {
    const text = [
      "Use `@Override` and ``@x ` y`` here, but @real gets neutralised.",
      "```java",
      "@Override",
      "public void run() {}",
      "```",
      "~~~~",
      "@decorator",
      "~~~~",
      "after @fence",
    ].join("\n");
    const out = neutralizeMentions(text);
    expect(out).toContain("`@Override`");
    expect(out).toContain("``@x ` y``");
    expect(out).toContain("\n@Override\n");
    expect(out).toContain("\n@decorator\n");
    expect(out).toContain(`@${ZWSP}real`);
    expect(out).toContain(`after @${ZWSP}fence`);
  });

  it("errs towards neutralising where Markdown is ambiguous", () => {
    // An unmatched backtick is literal, an escaped one starts no span, and a line indented less than
    // its fence is outside a list item's fence on GitHub.
    expect(neutralizeMentions("`@a")).toBe(`\`@${ZWSP}a`);
    expect(neutralizeMentions("\\`@a`")).toBe(`\\\`@${ZWSP}a\``);
    expect(neutralizeMentions("- item\n  ```\n@a\n  ```")).toContain(`@${ZWSP}a`);
    // Not a fence: a backtick info string.
    expect(neutralizeMentions("``` a`b\n@a")).toContain(`@${ZWSP}a`);
  });

  it("is idempotent", () => {
    const once = neutralizeMentions("hi @a");
    expect(neutralizeMentions(once)).toBe(once);
  });
});

describe("stripHtmlComments", () => {
  it("removes a forged fingerprint marker so it cannot be mistaken for ours", () => {
    const forged = `Looks fine. ${fingerprintMarker("0123456789abcdef")} Really.`;
    const out = stripHtmlComments(forged);
    expect(out).toBe("Looks fine.  Really.");
    expect(extractFingerprints(out)).toEqual([]);
  });

  it("handles nested tricks and unterminated comments", () => {
    const nested = "<!<!-- x -->-- codex-pr-bot:fp:0123456789abcdef -->";
    expect(extractFingerprints(stripHtmlComments(nested))).toEqual([]);
    const open = stripHtmlComments("visible <!-- hides the rest");
    expect(open).not.toContain("<!--");
    expect(open).toContain("hides the rest");
  });

  it("removes multi-line comments", () => {
    expect(stripHtmlComments("a<!--\nline\n-->b")).toBe("ab");
  });
});

describe("closeOpenFences", () => {
  it("closes an unbalanced fence with the same character and length", () => {
    expect(closeOpenFences("text\n````ts\ncode")).toBe("text\n````ts\ncode\n````");
    expect(closeOpenFences("~~~\ncode\n")).toBe("~~~\ncode\n~~~");
  });

  it("keeps the opener's indentation so a list item's fence is closed inside the item", () => {
    expect(closeOpenFences("- x\n  ```\n  code")).toBe("- x\n  ```\n  code\n  ```");
  });

  it("leaves balanced text alone, and does not count shorter or different fences as closers", () => {
    const balanced = "```\na\n```\n~~~\nb\n~~~";
    expect(closeOpenFences(balanced)).toBe(balanced);
    expect(closeOpenFences("````\n```\n~~~~")).toBe("````\n```\n~~~~\n````");
  });
});

describe("truncate", () => {
  it("stays within the limit and says it was truncated", () => {
    const out = truncate("x".repeat(1000), 100);
    expect(out).toHaveLength(100);
    expect(out.endsWith("\n\n… (truncated)")).toBe(true);
    expect(truncate("short", 100)).toBe("short");
  });

  it("never splits a surrogate pair", () => {
    const out = truncate("😀".repeat(100), 31);
    expect(out.length).toBeLessThanOrEqual(31);
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe("redactSecrets", () => {
  const cases: [string, string][] = [
    ["GitHub PAT", fake("ghp_", 36)],
    ["GitHub installation token", fake("ghs_", 40)],
    ["GitHub OAuth/user/refresh", fake("gho_", 36) + " " + fake("ghu_", 36) + " " + fake("ghr_", 36)],
    ["fine-grained PAT", fake("github_pat_", 82, "aB_3")],
    ["OpenAI key", fake("sk-", 48)],
    ["OpenAI project key", fake("sk-proj-", 40, "a-B_3")],
    ["Anthropic key", fake("sk-ant-api03-", 40)],
    ["AWS access key id", fake("AKIA", 16, "ABC123")],
    [
      "PEM private key",
      `-----BEGIN RSA PRIVATE KEY-----\n${fake("", 64, "MIIEb+/=")}\n${fake("", 20)}\n-----END RSA PRIVATE KEY-----`,
    ],
  ];

  it.each(cases)("redacts a %s", (_name, secret) => {
    const out = redactSecrets(`before ${secret} after`, []);
    expect(out).toMatch(/^before \[REDACTED\]( \[REDACTED\])* after$/);
  });

  it("redacts a truncated PEM block whose END line is missing", () => {
    const out = redactSecrets(`key:\n-----BEGIN PRIVATE KEY-----\n${fake("", 64)}\n${fake("", 30)}`, []);
    expect(out).toBe("key:\n[REDACTED]");
    const encrypted = `-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n${fake("", 64)}\nab=\n\nThe rest stays.`;
    expect(redactSecrets(encrypted, [])).toBe("[REDACTED]\n\nThe rest stays.");
  });

  it("keeps the URL but removes the token in x-access-token URLs", () => {
    const url = "https://x-access-token:v1.abcdef0123456789@github.com/o/r.git";
    expect(redactSecrets(url, [])).toBe("https://x-access-token:[REDACTED]@github.com/o/r.git");
  });

  it("redacts known values of 8+ characters, longest first, and ignores short or empty ones", () => {
    const out = redactSecrets("tok supersecret-value and supersecret and abc", ["", "abc", "supersecret", "supersecret-value"]);
    expect(out).toBe("tok [REDACTED] and [REDACTED] and abc");
  });

  it("redacts a known token in its base64 (x-access-token:TOKEN and TOKEN alone) and URL-encoded forms", () => {
    const token = "tok-abcdefghijklmnopqrstuvwxyz0123456789"; // no well-known shape; 40 characters, so base64 pads
    const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
    const alone = Buffer.from(token).toString("base64");
    expect(basic).toMatch(/[+/=]/); // so the URL-encoded form differs
    const forms = [token, basic, basic.replace(/=+$/, ""), alone, encodeURIComponent(basic), encodeURIComponent(basic).replace(/%3D/g, "%3d"), encodeURIComponent(`${token}/`)];
    for (const form of forms) {
      const out = redactSecrets(`before ${form} after`, [token]);
      expect(out, form).toMatch(/^before \[REDACTED\]\S* after$/);
      expect(out).not.toContain(token);
      expect(out).not.toContain(basic.slice(0, 20));
      expect(out).not.toContain(alone.slice(0, 20));
    }
    expect(secretForms(token)).toEqual(expect.arrayContaining([token, basic, alone, encodeURIComponent(basic)]));
  });

  it("redacts the credential of an Authorization header line even when the token is unknown", () => {
    const line = "http.https://github.com/.extraheader=AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46c29tZXRoaW5n";
    expect(redactSecrets(line, [])).toBe("http.https://github.com/.extraheader=AUTHORIZATION: basic [REDACTED]");
    expect(redactSecrets("Authorization: Bearer abc.def-ghi_jkl", [])).toBe("Authorization: Bearer [REDACTED]");
  });

  it("does not touch look-alike identifiers", () => {
    const text = "task-queue-worker-configuration disk-usage-monitoring-service xAKIAABCDEFGHIJKLMNOPQ ghp_short";
    expect(redactSecrets(text, [])).toBe(text);
  });
});

describe("sanitizeAgentMarkdown", () => {
  it("redacts, strips comments, neutralises mentions and closes fences", () => {
    const token = fake("ghp_", 36);
    const input = `@boss token ${token} <!-- codex-pr-bot:fp:0123456789abcdef -->\n\`\`\`\ncode @inside`;
    const out = sanitizeAgentMarkdown(input, { maxLength: 1000, known: [] });
    expect(out).toBe(`@${ZWSP}boss token [REDACTED] \n\`\`\`\ncode @inside\n\`\`\``);
  });

  it("redacts a secret before stripping, so a comment cannot smuggle it", () => {
    const out = sanitizeAgentMarkdown("<!-- x --> known-secret-123", { maxLength: 100, known: ["known-secret-123"] });
    expect(out).toBe(" [REDACTED]");
  });

  it("redacts tokens that only appear once a comment inside them is stripped", () => {
    const token = fake("ghp_", 36);
    const split = `${token.slice(0, 10)}<!-- hide -->${token.slice(10)}`;
    expect(sanitizeAgentMarkdown(split, { maxLength: 1000, known: [] })).toBe("[REDACTED]");
    expect(sanitizeAgentMarkdown("my-kn<!---->own-secret", { maxLength: 1000, known: ["my-known-secret"] })).toBe("[REDACTED]");
  });

  it("truncates within the limit and re-closes a fence the cut left open", () => {
    const input = `intro\n\`\`\`\n${"line\n".repeat(500)}\`\`\`\nafter`;
    const out = sanitizeAgentMarkdown(input, { maxLength: 300, known: [] });
    expect(out.length).toBeLessThanOrEqual(300);
    expect(out).toMatch(/\n```\n\n… \(truncated\)$/);
    expect(closeOpenFences(out)).toBe(out);
  });
});

describe("codeFence and codeSpan", () => {
  it("uses a fence longer than any backtick run inside (minimum three)", () => {
    expect(codeFence("plain", "ts")).toBe("```ts\nplain\n```");
    expect(codeFence("a ```` b", "suggestion")).toBe("`````suggestion\na ```` b\n`````");
    expect(codeFence("x\n")).toBe("```\nx\n```");
  });

  it("renders an empty suggestion as zero lines (GitHub then deletes the range)", () => {
    expect(codeFence("", "suggestion")).toBe("```suggestion\n```");
  });

  it("makes inline code that its own backticks cannot end, on one line", () => {
    expect(codeSpan("ls -la")).toBe("`ls -la`");
    expect(codeSpan("echo `date`")).toBe("`` echo `date` ``");
    expect(codeSpan("a\nb")).toBe("`a b`");
    expect(codeSpan("")).toBe("` `");
  });
});
