/**
 * Runs one codex review exactly as the app's executor does, with nothing but defaults (no jail
 * passed, no AGENT_USER): started by jail.test.ts as an ordinary (non-root) user, to show the jail
 * holds when the app itself is not root. Prints the run's commands as JSON on stdout.
 */
import { CodexExecutor } from "../../src/executors/codex.js";
import { codexMockConfig } from "../helpers/mock-responses.js";

const [worktree, homesRoot, bin, mockUrl] = process.argv.slice(2) as [string, string, string, string];
const executor = new CodexExecutor({
  bin,
  homesRoot,
  homeTemplate: null,
  apiKey: "sk-child-run-key-0123456789",
  passEnv: [],
  defaultModel: null,
  configOverrides: codexMockConfig(mockUrl),
});
try {
  const result = await executor.run({ worktree, mode: "review", prompt: "review", model: null, reasoningEffort: null, timeoutMs: 120_000 });
  process.stdout.write(`${JSON.stringify({ ok: true, uid: process.getuid?.(), commands: result.commands })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`);
  process.exitCode = 1;
}
