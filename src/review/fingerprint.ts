import { createHash } from "node:crypto";
import type { Finding } from "../types.js";

/**
 * Identity of a finding across pushes. Line numbers move whenever code above changes, so they are
 * left out; the path, the gist of the title and the quoted code are what stays put.
 */

const MARKER_PREFIX = "<!-- codex-pr-bot:fp:";
const MARKER_SUFFIX = " -->";
const MARKER_PATTERN = /<!-- codex-pr-bot:fp:([0-9a-f]+) -->/g;

export function fingerprint(f: Pick<Finding, "path" | "title" | "anchor">): string {
  const input = `${f.path}\0${normalizeTitle(f.title)}\0${normalizeAnchor(f.anchor)}`;
  return createHash("sha256").update(input, "utf8").digest("hex").slice(0, 16);
}

/** Case, punctuation and a leading "[P1]" tag vary between runs of the same model on the same issue. */
export function normalizeTitle(title: string): string {
  return title
    .toLowerCase()
    .replace(/^\s*\[p[0-3]\]/, "")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** Re-indenting or re-wrapping the quoted code must not make it a new finding. */
export function normalizeAnchor(anchor: string): string {
  return anchor.replace(/\s+/g, " ").trim();
}

export function fingerprintMarker(fp: string): string {
  return `${MARKER_PREFIX}${fp}${MARKER_SUFFIX}`;
}

/** Fingerprints in a posted body, in order of appearance, without repeats. */
export function extractFingerprints(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(MARKER_PATTERN)) found.add(m[1] as string);
  return [...found];
}
