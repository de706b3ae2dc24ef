/**
 * What the bot refuses to publish, whatever the agent (or a prompt injection steering it) did.
 * Pure: takes the changes as git reports them and the repository's `fix:` settings, returns every
 * violation with a reason people can read. An empty list means the change may be committed.
 */
import path from "node:path";
import { redactSecrets } from "../review/sanitize.js";
import type { DiffFile } from "../types.js";
import { MODE_GITLINK, MODE_SYMLINK, type FileChange } from "./collect.js";

export interface FixPolicy {
  /** Allow changes under `.github/workflows/`. */
  allowWorkflowChanges: boolean;
  /** Allow binary files to be added or changed. */
  allowBinaries: boolean;
  /** Largest new or changed file, in bytes. */
  maxFileBytes: number;
}

export type ViolationKind = "workflow" | "symlink-outside" | "too-large" | "binary" | "submodule" | "unsafe-path" | "secret";

export interface Violation {
  path: string;
  kind: ViolationKind;
  reason: string;
}

/** The config key that lifts a violation, or null when nothing can. */
export const VIOLATION_SETTING: Record<ViolationKind, string | null> = {
  workflow: "fix.allow_workflow_changes",
  binary: "fix.allow_binaries",
  "too-large": "fix.max_file_bytes",
  "symlink-outside": null,
  submodule: null,
  "unsafe-path": null,
  secret: null,
};

/** `.github/workflows/**`, compared without case: on a case-insensitive checkout they are the same directory. */
export function isWorkflowPath(file: string): boolean {
  return /^\.github\/workflows\//i.test(file);
}

/** True when a path could reach outside the worktree or into git's own directory. */
export function isUnsafePath(file: string): boolean {
  if (file === "" || file.startsWith("/") || file.includes("\0") || file.includes("\\")) return true;
  return file.split("/").some((part) => part === "" || part === "." || part === ".." || part.toLowerCase() === ".git");
}

/**
 * Whether a symlink at `linkPath` with `target` stays inside the repository (and out of `.git`).
 * Resolved lexically, as git stores it: the bot never follows links on disk.
 */
export function symlinkStaysInside(linkPath: string, target: string): boolean {
  if (target === "" || target.includes("\0") || path.posix.isAbsolute(target) || target.includes("\\")) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  if (resolved === ".") return true;
  if (resolved === ".." || resolved.startsWith("../")) return false;
  return !resolved.split("/").some((part) => part.toLowerCase() === ".git");
}

export function checkChanges(changes: readonly FileChange[], policy: FixPolicy): Violation[] {
  const out: Violation[] = [];
  for (const c of changes) {
    if (isUnsafePath(c.path)) {
      out.push({ path: c.path, kind: "unsafe-path", reason: "the path is not a plain file path inside the repository" });
      continue;
    }
    if (!policy.allowWorkflowChanges && isWorkflowPath(c.path)) {
      out.push({ path: c.path, kind: "workflow", reason: `${verb(c)} a GitHub Actions workflow` });
    }
    if (c.newMode === MODE_GITLINK) {
      out.push({ path: c.path, kind: "submodule", reason: "adds or changes a nested repository (submodule)" });
      continue;
    }
    if (c.newMode === MODE_SYMLINK) {
      const target = c.linkTarget ?? "";
      if (!symlinkStaysInside(c.path, target)) {
        out.push({ path: c.path, kind: "symlink-outside", reason: `symlink to ${JSON.stringify(target.slice(0, 200))}, outside the repository` });
      }
      continue;
    }
    if (c.newObject === null) continue; // a deletion: nothing new to check
    if (c.size !== null && c.size > policy.maxFileBytes) {
      out.push({ path: c.path, kind: "too-large", reason: `${formatBytes(c.size)}, over the ${formatBytes(policy.maxFileBytes)} limit` });
    }
    if (!policy.allowBinaries && c.binary) {
      out.push({ path: c.path, kind: "binary", reason: `${c.status === "added" ? "adds" : "changes"} a binary file` });
    }
  }
  return out;
}

function verb(c: FileChange): string {
  return c.status === "added" ? "adds" : c.status === "deleted" ? "deletes" : "changes";
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Number((n / (1024 * 1024)).toFixed(1))} MiB`;
  if (n >= 1024) return `${Number((n / 1024).toFixed(1))} KiB`;
  return `${n} bytes`;
}

/**
 * Lines the change adds that hold one of the app's secrets or something shaped like a credential
 * (`redactSecrets` patterns): a prompt-injected agent could otherwise publish what it read.
 */
export function secretViolations(files: readonly DiffFile[], known: readonly string[]): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const hit = file.hunks.some((h) => h.lines.some((l) => l.kind === "add" && redactSecrets(l.text, known) !== l.text));
    if (hit) out.push({ path: file.path, kind: "secret", reason: "adds something that looks like a credential" });
  }
  return out;
}
