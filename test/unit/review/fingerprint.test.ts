import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { extractFingerprints, fingerprint, fingerprintMarker } from "../../../src/review/fingerprint.js";
import type { Finding } from "../../../src/types.js";

const base: Finding = {
  title: "Check the result of fetch before parsing",
  body: "The body.",
  priority: 1,
  confidence: 0.9,
  path: "src/api.ts",
  startLine: 12,
  endLine: 13,
  anchor: "const res = await fetch(url);\nconst data = await res.json();",
  suggestion: null,
};

describe("fingerprint", () => {
  it("is 16 hex characters: sha256 over path, normalised title and normalised anchor", () => {
    const expected = createHash("sha256")
      .update("src/api.ts\0check the result of fetch before parsing\0const res = await fetch(url); const data = await res.json();")
      .digest("hex")
      .slice(0, 16);
    expect(fingerprint(base)).toBe(expected);
    expect(fingerprint(base)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("survives the finding moving down 10 lines on the next push", () => {
    const moved = { ...base, startLine: 22, endLine: 23, body: "Reworded body.", confidence: 0.5, priority: 2 as const };
    expect(fingerprint(moved)).toBe(fingerprint(base));
  });

  it("ignores case, punctuation, a [Pn] tag and re-indentation", () => {
    const variant = {
      ...base,
      title: "[P1]  Check the result of `fetch` before parsing!",
      anchor: "  const res = await fetch(url);\n\n      const data = await res.json();  ",
    };
    expect(fingerprint(variant)).toBe(fingerprint(base));
  });

  it("changes with the title, the path or the anchor", () => {
    const fp = fingerprint(base);
    expect(fingerprint({ ...base, title: "Handle fetch errors" })).not.toBe(fp);
    expect(fingerprint({ ...base, path: "src/other.ts" })).not.toBe(fp);
    expect(fingerprint({ ...base, anchor: "const res = await fetch(other);" })).not.toBe(fp);
  });

  it("keeps non-Latin titles apart instead of reducing them to nothing", () => {
    expect(fingerprint({ ...base, title: "Проверьте ответ" })).not.toBe(fingerprint({ ...base, title: "Обработайте ошибку" }));
  });

  it("does not let fields run into each other", () => {
    expect(fingerprint({ path: "a", title: "b c", anchor: "" })).not.toBe(fingerprint({ path: "a b", title: "c", anchor: "" }));
  });
});

describe("fingerprint markers", () => {
  it("round-trips through a posted body, in order and without repeats", () => {
    const a = fingerprint(base);
    const b = fingerprint({ ...base, title: "Other" });
    const body = `text ${fingerprintMarker(a)}\nmore\n${fingerprintMarker(b)}\n${fingerprintMarker(a)}`;
    expect(fingerprintMarker(a)).toBe(`<!-- codex-pr-bot:fp:${a} -->`);
    expect(extractFingerprints(body)).toEqual([a, b]);
  });

  it("finds nothing in text without markers or with look-alikes", () => {
    expect(extractFingerprints("no markers <!-- other:fp:abc --> <!-- codex-pr-bot:fp: -->")).toEqual([]);
  });
});
