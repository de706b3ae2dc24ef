import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { GitHubStandIn } from "../../bench/lib/github-stand-in.js";
import { codexConfigToml } from "../../bench/lib/responses.js";

/**
 * Set-up shared by the tests that run the real app in its own process (bench/lib/app-process.ts)
 * against the GitHub stand-in and the scripted model: crash-takeover, crash-fix, github-faults,
 * first-signal.
 */

/** A started stand-in with no repository config, closed with the test's other servers. */
export async function startStandIn(opened: { close(): Promise<void> }[]): Promise<GitHubStandIn> {
  const gh = new GitHubStandIn({ config: null });
  await gh.start();
  opened.push(gh);
  return gh;
}

/** `<dataDir>/codex-template` with a config.toml pointing codex at the scripted model; returns its path. */
export function codexTemplate(dataDir: string, modelUrl: string): string {
  const template = path.join(dataDir, "codex-template");
  mkdirSync(template, { recursive: true });
  writeFileSync(path.join(template, "config.toml"), codexConfigToml(modelUrl));
  return template;
}

/** The embedded queue's record of the job a delivery made, read from the app's SQLite file. */
export function readQueueJob(file: string, deliveryId: string): { id: string; status: string } | undefined {
  const db = new Database(file, { fileMustExist: true });
  try {
    return db.prepare("SELECT id, status FROM queue_jobs WHERE delivery_id = ?").get(deliveryId) as { id: string; status: string } | undefined;
  } finally {
    db.close();
  }
}
