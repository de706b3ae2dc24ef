import { createHash } from "node:crypto";
import { WorkspaceError } from "../errors.js";

/**
 * Names and argument checks. Everything that ends up in a path or on git's command line is checked
 * here first: a value starting with "-" would be read by git as an option.
 */

const MAX_READABLE = 60;

/**
 * A directory name unique per repository key: a readable part for humans, and a hash of the exact
 * key so that keys differing only in replaced characters ("a/b" and "a_b") never share a directory.
 */
export function safeKey(repoKey: string): string {
  const readable = repoKey
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._-]+/, "")
    .slice(0, MAX_READABLE);
  const hash = createHash("sha256").update(repoKey, "utf8").digest("hex").slice(0, 12);
  return readable.length > 0 ? `${readable}-${hash}` : hash;
}

export function checkSha(sha: string, what: string): string {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(sha)) {
    throw new WorkspaceError(`${what} commit "${sha}" is not a full commit SHA`);
  }
  return sha.toLowerCase();
}

export function checkRef(ref: string): string {
  const valid =
    /^refs\/[A-Za-z0-9._/-]+$/.test(ref) &&
    !ref.includes("..") &&
    !ref.includes("//") &&
    !/(?:^|\/)[.-]/.test(ref.slice("refs/".length)) &&
    !ref.endsWith("/") &&
    !ref.endsWith(".lock");
  if (!valid) throw new WorkspaceError(`"${ref}" is not a ref this app fetches`);
  return ref;
}

export function checkCloneUrl(url: string): string {
  // Control characters could smuggle a second header line; a leading "-" would be an option.
  if (url.length === 0 || url.startsWith("-") || hasControlChar(url)) {
    throw new WorkspaceError("the repository clone URL is not usable");
  }
  return url;
}

function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
