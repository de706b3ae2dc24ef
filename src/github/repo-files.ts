import { httpStatus, type Octokit, type RepoCoords } from "./client.js";

/** A file's text at `ref`, or null when it doesn't exist there. */
export async function readRepoFile(octokit: Octokit, coords: RepoCoords, path: string, ref: string): Promise<string | null> {
  try {
    const { data } = await octokit.rest.repos.getContent({ ...coords, path, ref });
    if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return null;
    return Buffer.from(data.content, "base64").toString("utf8");
  } catch (err) {
    if (httpStatus(err) === 404) return null;
    throw err;
  }
}
