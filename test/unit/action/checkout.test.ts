import path from "node:path";
import { describe, expect, it } from "vitest";
import { prepareCheckout } from "../../../src/action/checkout.js";
import { run } from "../../../src/util/exec.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { gitIn } from "../cli/fixture.js";

/** action/checkout.ts deepening a real shallow clone until the merge base is there. */

/** n commits touching `file`, in one shell (hundreds of git calls from node would be slow). */
async function commits(dir: string, n: number, file: string | null): Promise<void> {
  const change = file === null ? "" : `echo "$i" > ${file}; git add ${file};`;
  const script = `for i in $(seq ${n}); do ${change} git -c user.name=T -c user.email=t@example.com -c commit.gpgsign=false commit -q --allow-empty -m "commit $i"; done`;
  const r = await run("bash", ["-c", script], { cwd: dir, env: { PATH: process.env.PATH!, HOME: dir, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } });
  if (r.exitCode !== 0) throw new Error(r.stderr);
}

describe("prepareCheckout on a shallow clone", () => {
  it("fetches the base and deepens past the first depth until the merge base is there, then reviews the head", async () => {
    const base = makeTempDir("deepen");
    const origin = path.join(base, "origin");
    await gitIn(base, "init", "-q", "-b", "main", origin);
    // A long history before the fork point, which the deepening must not need to fetch.
    await commits(origin, 300, null);
    const forkPoint = (await gitIn(origin, "rev-parse", "HEAD")).trim();
    await gitIn(origin, "checkout", "-q", "-b", "feature");
    // More commits on the branch than the first fetch's depth (50): the loop has to deepen.
    await commits(origin, 60, "feature.txt");
    const head = (await gitIn(origin, "rev-parse", "HEAD")).trim();
    await gitIn(origin, "checkout", "-q", "main");
    await commits(origin, 3, "main.txt");
    const baseSha = (await gitIn(origin, "rev-parse", "HEAD")).trim();

    const clone = path.join(base, "clone");
    await gitIn(base, "clone", "-q", "--depth", "1", "--branch", "feature", `file://${origin}`, clone);
    const checkout = await prepareCheckout({ dir: clone, headSha: head, baseSha, baseOverride: null, scratchDir: path.join(base, "scratch") });
    expect(checkout).toMatchObject({ dir: clone, base: baseSha });
    expect((await gitIn(clone, "merge-base", baseSha, head)).trim()).toBe(forkPoint);
    // Still shallow: the history down to the merge base (and a little more), not all 363 commits.
    expect((await gitIn(clone, "rev-parse", "--is-shallow-repository")).trim()).toBe("true");
    expect(Number((await gitIn(clone, "rev-list", "--count", "--all")).trim())).toBeLessThan(363);
  });
});
