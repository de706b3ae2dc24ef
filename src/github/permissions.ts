import { httpStatus, type Octokit, type RepoCoords } from "./client.js";

const WRITE_ROLES = new Set(["admin", "maintain", "write"]);
const CACHE_MS = 60_000;
const cache = new Map<string, { allowed: boolean; at: number }>();

/**
 * Whether `login` may trigger work: write, maintain or admin on the repository. Cached briefly so a
 * burst of commands costs one request, but short enough that a removed collaborator loses access fast.
 */
export async function canTrigger(octokit: Octokit, coords: RepoCoords, login: string, now = Date.now()): Promise<boolean> {
  const key = `${coords.owner}/${coords.repo}:${login}`.toLowerCase();
  const hit = cache.get(key);
  if (hit && now - hit.at < CACHE_MS) return hit.allowed;
  let allowed = false;
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...coords, username: login });
    // `permission` folds maintain into write; `role_name` keeps it (and custom roles based on them).
    allowed = WRITE_ROLES.has(data.permission) || WRITE_ROLES.has(data.role_name);
  } catch (err) {
    if (httpStatus(err) !== 404) throw err;
  }
  cache.set(key, { allowed, at: now });
  return allowed;
}

/** For tests: forget cached answers. */
export function clearPermissionCache(): void {
  cache.clear();
}
