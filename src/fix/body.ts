/**
 * The words of a fix: the fix PR's title and description, the commit message, and the replies on
 * the comment that asked for it. Pure. Agent text (its final message, finding titles that an
 * earlier agent wrote) passes through sanitize.ts on its way in; everything is size-capped for
 * GitHub (65,536 characters per body).
 */
import { PRIORITY_LABEL, formatDuration } from "../review/format.js";
import { codeFence, codeSpan, neutralizeMentions, redactSecrets, sanitizeAgentMarkdown, stripHtmlComments, truncate } from "../review/sanitize.js";
import { changedLines, type AgentName, type Candidate } from "./best-of-two.js";
import { summarizeChanges, type FileChange } from "./collect.js";
import type { FixTarget } from "./findings.js";
import { VIOLATION_SETTING, type Violation } from "./policy.js";
import { OUTPUT_TAIL_CAP, type VerifyOutcome } from "./verify.js";

export type { VerifyOutcome };

export type FixMode = "fix" | "tests";

export interface Outdated {
  /** The PR head when the fix was published (the fix was made against an older one). */
  currentHead: string;
  /** Paths that conflict when merging the fix into the new head; [] = merges cleanly; null = not checked. */
  conflicts: string[] | null;
}

export interface FixReport {
  mode: FixMode;
  prNumber: number;
  headRef: string;
  /** The head the fix was made against. */
  headSha: string;
  repoHtmlUrl: string;
  targets: readonly FixTarget[];
  instruction: string | null;
  /** Login of who asked, null for an automatic fix. */
  requestedBy: string | null;
  /** Who dispatched the fix through the MCP server (a label, not a login); then requestedBy is null. */
  dispatchedBy?: string;
  /** The comment that asked, when there is one. */
  requestUrl: string | null;
  changes: readonly FileChange[];
  agentMessage: string;
  verify: VerifyOutcome | null;
  outdated: Outdated | null;
  knownSecrets: readonly string[];
  /** The agent that wrote the change; Codex when absent. */
  agent?: AgentName;
  /** Set when two agents were asked for a candidate each (best of two). */
  bestOfTwo?: BestOfTwoReport;
}

/** The candidate that lost, offered as a branch of its own. */
export interface AlternativeReport {
  agent: AgentName;
  /** The branch it was pushed to; null when it was not pushed (fork PRs, or the push failed). */
  branch: string | null;
  verify: VerifyOutcome | null;
  changes: readonly FileChange[];
}

export interface BestOfTwoReport {
  /** Why this candidate won, as a sentence fragment; null when it was the only one. */
  reason: string | null;
  alternative: AlternativeReport | null;
  /** What became of a candidate that could not be used (one Markdown line each). */
  notes: readonly string[];
}

const BODY_CAP = 65_000;
const TITLE_CAP = 120;
const AGENT_MESSAGE_CAP = 15_000;
const INSTRUCTION_CAP = 2_000;
const TARGET_TITLE_CAP = 150;
const FILES_LISTED = 100;

/** Agent- or user-written text that must stay on one line. */
export function oneLine(text: string, known: readonly string[], max: number): string {
  const flat = stripHtmlComments(redactSecrets(text, known)).replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim();
  const safe = neutralizeMentions(flat);
  return safe.length <= max ? safe : `${safe.slice(0, max - 1).trimEnd()}…`;
}

/** "Codex" or "Claude", for prose. */
export function agentLabel(agent: AgentName | undefined): string {
  return agent === "claude" ? "Claude" : "Codex";
}

function sha7(sha: string): string {
  return sha.slice(0, 7);
}

function commitLink(r: Pick<FixReport, "repoHtmlUrl">, sha: string): string {
  return `[\`${sha7(sha)}\`](${r.repoHtmlUrl}/commit/${sha})`;
}

type SubjectInput = Pick<FixReport, "mode" | "prNumber" | "targets" | "instruction" | "knownSecrets">;

/** What the PR is about, in a few words: the finding, the instruction, or a count. */
function subject(r: SubjectInput): string {
  if (r.mode === "tests") {
    return r.instruction ? `Add tests: ${oneLine(r.instruction, r.knownSecrets, 80)}` : "Add tests for the changes";
  }
  if (r.instruction) return `Fix: ${oneLine(r.instruction, r.knownSecrets, 80)}`;
  const [only] = r.targets;
  if (r.targets.length === 1 && only) return `Fix: ${oneLine(only.title, r.knownSecrets, 80)}`;
  if (r.targets.length > 1) return `Fix ${r.targets.length} review findings`;
  return "Fix-up";
}

export function verificationFailed(r: Pick<FixReport, "verify">): boolean {
  return r.verify !== null && !r.verify.passed;
}

export function fixTitle(r: FixReport): string {
  const base = `${subject(r)} (#${r.prNumber})`;
  const title = verificationFailed(r) ? `[verification failed] ${base}` : base;
  return title.length <= TITLE_CAP ? title : `${title.slice(0, TITLE_CAP - 1)}…`;
}

function targetLine(t: FixTarget, known: readonly string[]): string {
  const badge = t.priority === null ? "" : `**${PRIORITY_LABEL[t.priority]}** `;
  const where =
    t.path === null ? "" : ` · ${codeSpan(t.endLine === null ? t.path : t.startLine !== null && t.startLine !== t.endLine ? `${t.path}:${t.startLine}-${t.endLine}` : `${t.path}:${t.endLine}`)}`;
  const link = t.url ? ` ([finding](${t.url}))` : "";
  return `- ${badge}${oneLine(t.title, known, TARGET_TITLE_CAP)}${where}${link}`;
}

function changeLine(c: FileChange): string {
  const what = { added: "added", modified: "modified", deleted: "deleted", "type-changed": "type changed" }[c.status];
  const stat = c.binary ? "binary" : `+${c.additions} −${c.deletions}`;
  return `| ${codeSpan(c.path)} | ${what} | ${stat} |`;
}

export function changesTable(changes: readonly FileChange[]): string {
  const rows = changes.slice(0, FILES_LISTED).map(changeLine);
  if (changes.length > FILES_LISTED) rows.push(`| … and ${changes.length - FILES_LISTED} more | | |`);
  return ["| File | Change | Lines |", "| --- | --- | --- |", ...rows].join("\n");
}

function quote(text: string, known: readonly string[], max: number): string {
  return sanitizeAgentMarkdown(text, { maxLength: max, known })
    .split("\n")
    .map((l) => `> ${l}`)
    .join("\n");
}

export function verifySection(v: VerifyOutcome): string {
  const cmd = codeSpan(v.command);
  const status = v.passed
    ? `✅ ${cmd} **passed** in ${formatDuration(v.durationMs)}.`
    : v.error !== undefined
      ? `❌ ${cmd} **could not be run**: ${oneLine(v.error, [], 300)}`
      : v.timedOut
        ? `❌ ${cmd} **timed out** after ${formatDuration(v.durationMs)}.`
        : `❌ ${cmd} **failed** (exit code ${v.exitCode ?? "none"}) after ${formatDuration(v.durationMs)}.`;
  const withLimit = v.limit ? `${status} ${v.limit}` : status;
  const tail = v.outputTail.trim();
  if (tail === "") return `${withLimit}\n\n_(no output)_`;
  return `${withLimit}\n\n<details${v.passed ? "" : " open"}>\n<summary>Last lines of its output</summary>\n\n${codeFence(truncate(tail, OUTPUT_TAIL_CAP), "text")}\n\n</details>`;
}

export function outdatedNote(r: Pick<FixReport, "outdated" | "headSha" | "prNumber" | "repoHtmlUrl">): string | null {
  const o = r.outdated;
  if (!o) return null;
  const head = `> **Made against an older head.** This fix was made against ${commitLink(r, r.headSha)}; #${r.prNumber} has moved to ${commitLink(r, o.currentHead)} since.`;
  if (o.conflicts === null) return `${head} Whether it still applies could not be checked.`;
  if (o.conflicts.length === 0) return `${head} It still merges cleanly into the new head.`;
  const files = o.conflicts.slice(0, 20).map(codeSpan).join(", ");
  return `${head} **It no longer applies cleanly** on the new head: conflicts in ${files}${o.conflicts.length > 20 ? " …" : ""}.`;
}

function verifyWord(v: VerifyOutcome | null): string {
  if (v === null) return "not verified";
  if (v.passed) return "verification passed";
  return v.timedOut ? "verification timed out" : v.error !== undefined ? "verification could not run" : "verification failed";
}

/** A link to a branch of the repository (its tree) and to its comparison with the PR's head branch. */
function branchLinks(r: Pick<FixReport, "repoHtmlUrl" | "headRef">, branch: string): string {
  const enc = (ref: string): string => ref.split("/").map(encodeURIComponent).join("/");
  return `branch [${codeSpan(branch)}](${r.repoHtmlUrl}/tree/${enc(branch)}) ([compare](${r.repoHtmlUrl}/compare/${enc(r.headRef)}...${enc(branch)}))`;
}

/** "Alternative from claude: branch X, verification failed, 3 lines changed (+2 −1)." */
export function alternativeLine(r: Pick<FixReport, "repoHtmlUrl" | "headRef">, alt: AlternativeReport): string {
  const lines = changedLines(alt.changes);
  const where = alt.branch === null ? "not pushed" : branchLinks(r, alt.branch);
  const add = alt.changes.reduce((n, c) => n + c.additions, 0);
  const del = alt.changes.reduce((n, c) => n + c.deletions, 0);
  return `**Alternative from ${alt.agent}**: ${where}, ${verifyWord(alt.verify)}, ${lines} ${lines === 1 ? "line" : "lines"} changed (+${add} −${del}).`;
}

/** The "Best of two" section: who won and why, the other candidate's branch, and what went wrong. */
export function bestOfTwoSection(r: FixReport): string | null {
  const b = r.bestOfTwo;
  if (!b) return null;
  const who = r.agent ?? "codex";
  const lines: string[] = [];
  if (b.reason !== null) {
    lines.push(`Codex and Claude each wrote a candidate; this pull request is **${who}'s**: ${b.reason}.`);
  } else {
    lines.push(`Codex and Claude were both asked for a candidate; only **${who}'s** could be used.`);
  }
  const items = [...(b.alternative ? [alternativeLine(r, b.alternative)] : []), ...b.notes];
  if (items.length > 0) lines.push("", ...items.map((i) => `- ${i}`));
  if (b.alternative?.branch) lines.push("", "To use the alternative instead, open a pull request from its branch into the same base branch.");
  return lines.join("\n");
}

function requester(r: FixReport): string {
  if (r.dispatchedBy !== undefined) return `at the request of ${codeSpan(r.dispatchedBy)} (through the MCP server)`;
  if (r.requestedBy === null) return "automatically, after a review with findings";
  const who = `@${r.requestedBy}`;
  return r.requestUrl ? `at the request of ${who} ([comment](${r.requestUrl}))` : `at the request of ${who}`;
}

export function fixBody(r: FixReport): string {
  const known = r.knownSecrets;
  const parts: string[] = [];
  const kind = r.mode === "tests" ? "Tests" : "A fix";
  parts.push(
    `${kind} for #${r.prNumber} (branch ${codeSpan(r.headRef)}), written by ${agentLabel(r.agent)} ${requester(r)}. ` +
      `**Merging this pull request updates #${r.prNumber}.**`,
  );
  if (verificationFailed(r)) {
    parts.push("> [!WARNING]\n> **Verification failed.** This pull request was opened as a draft; see _Verification_ below before merging.");
  }
  const note = outdatedNote(r);
  if (note) parts.push(note);

  if (r.targets.length > 0) {
    parts.push(`### Findings addressed\n\n${r.targets.map((t) => targetLine(t, known)).join("\n")}`);
  }
  if (r.instruction) {
    parts.push(`### Request\n\n${quote(r.instruction, known, INSTRUCTION_CAP)}`);
  }
  parts.push(`### What changed\n\n${summarizeChanges(r.changes)}.\n\n${changesTable(r.changes)}`);
  if (r.verify) parts.push(`### Verification\n\n${verifySection(r.verify)}`);
  const best = bestOfTwoSection(r);
  if (best) parts.push(`### Best of two\n\n${best}`);

  const message = sanitizeAgentMarkdown(r.agentMessage, { maxLength: AGENT_MESSAGE_CAP, known }).trim();
  if (message !== "") parts.push(`### ${agentLabel(r.agent)}'s summary\n\n${message}`);

  parts.push(
    `<sub>Made against ${commitLink(r, r.headSha)}. The agent only edited files in a sandbox without credentials; ` +
      "codex-pr-bot checked the change against its safety rules, committed and pushed it. Review it like any other change.</sub>",
  );
  return truncate(parts.join("\n\n"), BODY_CAP);
}

/** Plain text for git: subject line, then what it addresses. Made from our data and titles only. */
export function commitMessage(r: SubjectInput & Pick<FixReport, "headSha" | "requestedBy">): string {
  // Commit messages are not Markdown: no zero-width characters from mention neutralising.
  const plain = (s: string, max: number): string => oneLine(s, r.knownSecrets, max).replace(/\u200B/g, "");
  const lines = [subject(r).replace(/\u200B/g, ""), ""];
  lines.push(`${r.mode === "tests" ? "Tests" : "Fix-up"} for pull request #${r.prNumber}, made against ${r.headSha}.`);
  if (r.targets.length > 0) {
    lines.push("", "Addresses:");
    for (const t of r.targets) {
      const tag = t.priority === null ? "" : `[${PRIORITY_LABEL[t.priority]}] `;
      const where = t.path ? ` (${t.path}${t.endLine !== null ? `:${t.endLine}` : ""})` : "";
      lines.push(`- ${tag}${plain(t.title, TARGET_TITLE_CAP)}${where}`);
    }
  }
  if (r.requestedBy) lines.push("", `Requested-by: ${r.requestedBy}`);
  return `${lines.join("\n")}\n`;
}

/** The reply on the triggering comment once the PR is open. */
export function openedReply(r: FixReport, pull: { number: number; url: string; draft: boolean }): string {
  const who = r.requestedBy ? `@${r.requestedBy} ` : "";
  const what = r.mode === "tests" ? "tests" : "a fix";
  const lines = [
    `${who}I opened #${pull.number} with ${what}: ${pull.url}`,
    "",
    `${summarizeChanges(r.changes)}. Merging it updates this pull request (branch ${codeSpan(r.headRef)}).`,
  ];
  if (r.verify) lines.push("", r.verify.passed ? `Verification ${codeSpan(r.verify.command)} passed.` : `⚠️ Verification ${codeSpan(r.verify.command)} failed, so the pull request is a draft.`);
  if (r.bestOfTwo) {
    lines.push("", `Codex and Claude were both asked; this is ${r.agent ?? "codex"}'s change${r.bestOfTwo.reason ? ` (${r.bestOfTwo.reason})` : ""}.`);
    if (r.bestOfTwo.alternative) lines.push(alternativeLine(r, r.bestOfTwo.alternative));
  }
  const note = outdatedNote(r);
  if (note) lines.push("", note);
  return lines.join("\n");
}

/** The reply when the agent finished without changing anything. */
export function noChangeReply(input: { mode: FixMode; requestedBy: string | null; headSha: string; agentMessage: string; knownSecrets: readonly string[] }): string {
  const who = input.requestedBy ? `@${input.requestedBy} ` : "";
  const message = input.agentMessage.trim();
  const why = message === "" ? "It gave no explanation." : `Its final message:\n\n${quote(message, input.knownSecrets, AGENT_MESSAGE_CAP)}`;
  return `${who}Codex finished without changing any file at \`${sha7(input.headSha)}\`, so there is no ${input.mode === "tests" ? "test" : "fix"} pull request. ${why}`;
}

/** The reply when the change breaks a safety rule: what and why, and nothing published. */
export function refusedReply(input: { requestedBy: string | null; violations: readonly Violation[]; changes: readonly FileChange[] }): string {
  const who = input.requestedBy ? `@${input.requestedBy} ` : "";
  const rows = input.violations.slice(0, 50).map((v) => {
    const setting = VIOLATION_SETTING[v.kind];
    return `- ${codeSpan(v.path)}: ${v.reason}${setting ? ` (allowed by ${codeSpan(setting)})` : ""}`;
  });
  if (input.violations.length > 50) rows.push(`- … and ${input.violations.length - 50} more`);
  return [
    `${who}Codex produced a change (${summarizeChanges(input.changes)}), but codex-pr-bot **did not publish it**: it breaks the safety rules for fix-ups.`,
    "",
    ...rows,
    "",
    "Nothing was committed or pushed. Maintainers can allow some of these in `.github/codex-pr-bot.yml` on the default branch (`fix:` section); the others are never allowed.",
  ].join("\n");
}

/**
 * Best of two, when neither candidate can be published: what became of each (no change, a broken
 * safety rule, a failed run). Nothing was committed or pushed.
 */
export function noCandidateReply(input: {
  mode: FixMode;
  requestedBy: string | null;
  headSha: string;
  candidates: readonly Candidate<unknown>[];
  knownSecrets: readonly string[];
}): string {
  const who = input.requestedBy ? `@${input.requestedBy} ` : "";
  const kind = input.mode === "tests" ? "test" : "fix";
  const parts = [`${who}Codex and Claude were both asked, but neither produced a change codex-pr-bot could publish at \`${sha7(input.headSha)}\`, so there is no ${kind} pull request.`];
  for (const c of input.candidates) {
    if (c.kind === "failed") parts.push(`**${c.agent}** did not finish: ${oneLine(c.error, input.knownSecrets, 300)}`);
    else if (c.kind === "unchanged") {
      const message = c.message.trim();
      parts.push(`**${c.agent}** finished without changing any file.${message === "" ? "" : ` Its final message:\n\n${quote(message, input.knownSecrets, 4_000)}`}`);
    } else if (c.kind === "refused") {
      const rows = c.violations.slice(0, 20).map((v) => {
        const setting = VIOLATION_SETTING[v.kind];
        return `- ${codeSpan(v.path)}: ${v.reason}${setting ? ` (allowed by ${codeSpan(setting)})` : ""}`;
      });
      if (c.violations.length > 20) rows.push(`- … and ${c.violations.length - 20} more`);
      parts.push([`**${c.agent}** made a change (${summarizeChanges(c.changes)}) that breaks the safety rules for fix-ups:`, "", ...rows].join("\n"));
    }
  }
  parts.push("Nothing was committed or pushed.");
  return parts.join("\n\n");
}

/** The reply when committing or pushing failed (for example the app lacks Contents: write). */
export function publishFailedReply(input: { requestedBy: string | null; message: string; knownSecrets: readonly string[] }): string {
  const who = input.requestedBy ? `@${input.requestedBy} ` : "";
  return [
    `${who}Codex made a change, but codex-pr-bot **could not publish it**:`,
    "",
    codeFence(redactSecrets(input.message, input.knownSecrets).slice(0, 2000)),
    "",
    "No pull request was opened. If the error mentions permissions, check that the app has **Contents: write** on this repository.",
  ].join("\n");
}

/** The reply to a second fix request while one is running. */
export function busyReply(input: { requestedBy: string; running: { mode: FixMode; link: string } }): string {
  return `@${input.requestedBy} a ${input.running.mode === "tests" ? "test-writing" : "fix"} run for this pull request is already in progress ([requested here](${input.running.link})). One runs at a time; ask again once it has finished.`;
}

export function usageReply(requestedBy: string): string {
  return [
    `@${requestedBy} there are no open findings of mine on this pull request to fix. Tell me what to fix instead:`,
    "",
    "- `@codex fix <what to fix>` on the pull request, or",
    "- `@codex fix` as a reply to one of my review comments, to fix that finding.",
  ].join("\n");
}
