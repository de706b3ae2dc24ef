import { spawn } from "node:child_process";
import { ROOT, TSX } from "../unit/cli/fixture.js";

/**
 * Runs `count` copies of a TypeScript fixture (under tsx, from the project root) with the same
 * arguments and waits for all of them; rejects with the fixture's stderr tail if one fails. The
 * cross-process race tests start their copies at one instant this way.
 */
export async function runSiblings(fixture: string, args: string[], count: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(TSX, [fixture, ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
          let stderr = "";
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${fixture} exited ${String(code)}: ${stderr.slice(-1_000)}`))));
        }),
    ),
  );
}
