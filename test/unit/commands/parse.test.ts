import { describe, expect, it } from "vitest";
import { COMMAND_WORDS, parseCommand } from "../../../src/commands/parse.js";

const codex = ["codex"] as const;
const both = ["codex", "claude"] as const;

describe("parseCommand: words and aliases", () => {
  it.each([
    ["review", "review"],
    ["audit", "audit"],
    ["security", "audit"],
    ["security-review", "audit"],
    ["ask", "ask"],
    ["question", "ask"],
    ["help", "help"],
    ["fix", "fix"],
    ["tests", "tests"],
    ["test", "tests"],
  ] as const)("@codex %s → %s", (word, kind) => {
    expect(parseCommand(`@codex ${word}`, codex)).toEqual({ executor: "codex", kind, text: "" });
  });

  it("every word in COMMAND_WORDS parses to its kind", () => {
    for (const [word, kind] of COMMAND_WORDS) {
      expect(parseCommand(`@codex ${word}`, codex)).toMatchObject({ kind });
    }
  });

  it("is case-insensitive in handle and word", () => {
    expect(parseCommand("@CODEX REVIEW", codex)).toEqual({ executor: "codex", kind: "review", text: "" });
    expect(parseCommand("@Codex Security-Review", codex)).toEqual({ executor: "codex", kind: "audit", text: "" });
  });

  it("ignores trailing punctuation on the word", () => {
    expect(parseCommand("@codex review!", codex)).toMatchObject({ kind: "review" });
    expect(parseCommand("@codex help?", codex)).toMatchObject({ kind: "help" });
    expect(parseCommand("@codex ask: why?", codex)).toEqual({ executor: "codex", kind: "ask", text: "why?" });
  });

  it("reports an unknown word as typed", () => {
    expect(parseCommand("@codex Frobnicate the thing", codex)).toEqual({
      executor: "codex",
      kind: "unknown",
      word: "Frobnicate",
      rest: "Frobnicate the thing",
    });
  });

  it("keeps everything after the handle of an unknown word: a question asked in a review thread", () => {
    expect(parseCommand("@codex why does this return Infinity?\nIt used to throw.", codex)).toMatchObject({
      kind: "unknown",
      word: "why",
      rest: "why does this return Infinity?\nIt used to throw.",
    });
  });

  it("reports a bare mention as unknown with an empty word", () => {
    expect(parseCommand("@codex", codex)).toEqual({ executor: "codex", kind: "unknown", word: "", rest: "" });
    expect(parseCommand("@codex   \n", codex)).toEqual({ executor: "codex", kind: "unknown", word: "", rest: "" });
  });

  it("does not find words on Object.prototype", () => {
    expect(parseCommand("@codex constructor", codex)).toEqual({ executor: "codex", kind: "unknown", word: "constructor", rest: "constructor" });
    expect(parseCommand("@codex __proto__", codex)).toEqual({ executor: "codex", kind: "unknown", word: "__proto__", rest: "__proto__" });
  });
});

describe("parseCommand: text", () => {
  it("takes the rest of the line, trimmed", () => {
    expect(parseCommand("@codex review   focus on the parser  ", codex)).toEqual({
      executor: "codex",
      kind: "review",
      text: "focus on the parser",
    });
  });

  it("takes following lines for a multi-line question", () => {
    const body = "@codex ask why does this loop\nnever terminate when\n\n```ts\nwhile (x) {}\n```\n";
    expect(parseCommand(body, codex)).toEqual({
      executor: "codex",
      kind: "ask",
      text: "why does this loop\nnever terminate when\n\n```ts\nwhile (x) {}\n```",
    });
  });

  it("takes a question that starts on the next line", () => {
    expect(parseCommand("@codex ask\n  what does parse() return?", codex)).toEqual({
      executor: "codex",
      kind: "ask",
      text: "what does parse() return?",
    });
  });

  it("keeps ask with no question as ask with empty text", () => {
    expect(parseCommand("@codex ask", codex)).toEqual({ executor: "codex", kind: "ask", text: "" });
  });

  it("normalises CRLF line endings", () => {
    expect(parseCommand("hi\r\n@codex fix the null check\r\nplease\r\n", codex)).toEqual({
      executor: "codex",
      kind: "fix",
      text: "the null check\nplease",
    });
  });
});

describe("parseCommand: where a command may appear", () => {
  it("allows leading whitespace and text on earlier lines", () => {
    expect(parseCommand("Thanks!\n\n   @codex review", codex)).toMatchObject({ kind: "review" });
    expect(parseCommand("\t@codex audit", codex)).toMatchObject({ kind: "audit" });
  });

  it("ignores mentions that are not at the start of a line", () => {
    expect(parseCommand("Could @codex review this?", codex)).toBeNull();
    expect(parseCommand("mail me at someone@codex.com", codex)).toBeNull();
  });

  it("requires whitespace or end of line after the handle", () => {
    expect(parseCommand("@codexbot review", codex)).toBeNull();
    expect(parseCommand("@codex-foo review", codex)).toBeNull();
    expect(parseCommand("@codex.com review", codex)).toBeNull();
    expect(parseCommand("@codex, review", codex)).toBeNull();
    expect(parseCommand("@codex\treview", codex)).toMatchObject({ kind: "review" });
  });

  it("ignores commands inside backtick and tilde fences", () => {
    expect(parseCommand("```\n@codex review\n```", codex)).toBeNull();
    expect(parseCommand("~~~md\n@codex review\n~~~", codex)).toBeNull();
    expect(parseCommand("  ```\n  @codex review\n  ```", codex)).toBeNull();
  });

  it("finds a command after a fence closes", () => {
    expect(parseCommand("```\n@codex review\n```\n@codex audit", codex)).toMatchObject({ kind: "audit" });
  });

  it("needs a matching fence to close: same character, at least as long, no info string", () => {
    expect(parseCommand("````\n```\n@codex review\n````", codex)).toBeNull();
    expect(parseCommand("```\n~~~\n@codex review\n```", codex)).toBeNull();
    expect(parseCommand("```\n```js\n@codex review\n```", codex)).toBeNull();
  });

  it("treats an unclosed fence as running to the end", () => {
    expect(parseCommand("```\n@codex review", codex)).toBeNull();
  });

  it("does not treat inline code with backticks as a fence", () => {
    expect(parseCommand("```x``` is inline\n@codex review", codex)).toMatchObject({ kind: "review" });
  });

  it("ignores quoted lines, e.g. a reply quoting an earlier command", () => {
    expect(parseCommand("> @codex review\n\nWhy did it say that?", codex)).toBeNull();
    expect(parseCommand("  > @codex fix it", codex)).toBeNull();
    expect(parseCommand(">> @codex review", codex)).toBeNull();
    expect(parseCommand("> @codex review\n@codex help", codex)).toMatchObject({ kind: "help" });
  });

  it("ignores commands hidden in HTML comments", () => {
    expect(parseCommand("<!--\n@codex review\n-->", codex)).toBeNull();
    expect(parseCommand("<!-- template\n@codex review\n-->\n@codex audit", codex)).toMatchObject({ kind: "audit" });
    expect(parseCommand("<!-- one-line comment -->\n@codex review", codex)).toMatchObject({ kind: "review" });
  });

  it("takes the first command when there are several", () => {
    expect(parseCommand("@codex audit\n@codex review", codex)).toEqual({
      executor: "codex",
      kind: "audit",
      text: "@codex review",
    });
    expect(parseCommand("@codex frob\n@codex review", codex)).toMatchObject({ kind: "unknown", word: "frob" });
  });

  it("returns null for bodies without a command", () => {
    expect(parseCommand("", codex)).toBeNull();
    expect(parseCommand("LGTM", codex)).toBeNull();
  });
});

describe("parseCommand: handles", () => {
  it("accepts @claude only when listed", () => {
    expect(parseCommand("@claude review", codex)).toBeNull();
    expect(parseCommand("@claude review", both)).toEqual({ executor: "claude", kind: "review", text: "" });
    expect(parseCommand("@Claude ask why", both)).toEqual({ executor: "claude", kind: "ask", text: "why" });
  });

  it("skips an unlisted handle and finds a later listed one", () => {
    expect(parseCommand("@claude review\n@codex audit", codex)).toEqual({ executor: "codex", kind: "audit", text: "" });
  });

  it("accepts no handle when none are listed", () => {
    expect(parseCommand("@codex review", [])).toBeNull();
  });

  it("ignores other users' mentions", () => {
    expect(parseCommand("@octocat review", both)).toBeNull();
  });
});
