import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { buildEnv, run } from "../../../src/util/exec.js";
import { makeTempDir } from "../../helpers/tmp.js";

/**
 * A local "GitHub": a bare origin repository with a main branch and pull-request refs, built with
 * plain git (not the code under test) in an environment of its own.
 */

const ENV = buildEnv(["PATH"], {
  HOME: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Octo Cat",
  GIT_AUTHOR_EMAIL: "octo@example.com",
  GIT_COMMITTER_NAME: "Octo Cat",
  GIT_COMMITTER_EMAIL: "octo@example.com",
});

/** Plain git for test set-up and for checks from the outside. */
export async function sh(args: string[], cwd: string, env: Record<string, string> = ENV): Promise<string> {
  const result = await run("git", args, { cwd, env });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout.trim();
}

export class Origin {
  private constructor(
    /** The bare repository, used as the clone URL. */
    readonly url: string,
    /** A clone where commits are made before being pushed. */
    readonly work: string,
  ) {}

  static async create(prefix = "origin"): Promise<Origin> {
    const root = makeTempDir(prefix);
    const url = path.join(root, "origin.git");
    const work = path.join(root, "work");
    await sh(["init", "-q", "--bare", "-b", "main", url], root);
    await sh(["init", "-q", "-b", "main", work], root);
    await sh(["remote", "add", "origin", url], work);
    return new Origin(url, work);
  }

  /** Writes (string) or deletes (null) files, commits everything, returns the new commit's SHA. */
  async commit(files: Record<string, string | null>, message = "change"): Promise<string> {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(this.work, name);
      if (content === null) {
        rmSync(file, { force: true });
      } else {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
      }
    }
    await sh(["add", "-A"], this.work);
    await sh(["commit", "-q", "--allow-empty", "-m", message], this.work);
    return sh(["rev-parse", "HEAD"], this.work);
  }

  async push(ref: string): Promise<void> {
    await sh(["push", "-q", "--force", "origin", `HEAD:${ref}`], this.work);
  }

  async switchTo(commit: string): Promise<void> {
    await sh(["checkout", "-q", "--detach", commit], this.work);
  }
}

export interface PrHistory {
  origin: Origin;
  /** First commit on main; the PR branches from here. */
  forkPoint: string;
  /** Head of refs/pull/7/head. */
  head: string;
  /** Tip of main, one commit past the fork point (the PR's base SHA). */
  base: string;
}

/**
 * main: forkPoint ─ base (adds main-only.txt after the PR branched)
 *                 └ head (refs/pull/7/head: changes a.txt, adds new.txt)
 */
export async function prHistory(extraHeadFiles: Record<string, string> = {}): Promise<PrHistory> {
  const origin = await Origin.create();
  const forkPoint = await origin.commit(
    { "a.txt": "one\n", "keep.txt": "keep me\n", ".gitignore": "*.log\nbuild/\n" },
    "initial",
  );
  await origin.push("refs/heads/main");
  const head = await origin.commit({ "a.txt": "one\ntwo\n", "new.txt": "new\n", ...extraHeadFiles }, "pr change");
  await origin.push("refs/pull/7/head");
  await origin.switchTo(forkPoint);
  const base = await origin.commit({ "main-only.txt": "main\n" }, "main moves on");
  await origin.push("refs/heads/main");
  await origin.switchTo(head);
  return { origin, forkPoint, head, base };
}

export interface FakeGitHost {
  url: string;
  /** Authorization headers of every request received. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** An HTTP server on loopback that records requests and answers each with `respond` (or never). */
export async function fakeGitHost(respond: ((res: ServerResponse) => void) | "hang"): Promise<FakeGitHost> {
  const authorizations: (string | undefined)[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    if (respond === "hang") held.push(res);
    else respond(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/octo/repo.git`,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
