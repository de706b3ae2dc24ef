import { LOCAL_ASK_REFUSAL } from "../engine/doors.js";
import { errorMessage, EXIT, packageVersion, UsageError, type CliIO } from "./io.js";

/**
 * Dispatches `codex-pr-bot <command>`. Each command module is imported only when used, so
 * `codex-pr-bot review` never loads Probot or BullMQ, and `worker` never loads the MCP SDK.
 */

export const HELP = `Usage: codex-pr-bot <command> [options]

Commands:
  review    Review the local change (base...HEAD, optionally uncommitted work) and print findings
  fix       Let the agent fix something (or write tests) on a scratch worktree; get a patch or --apply it
  action    Review the pull request of a GitHub Actions run and post the review (used by action.yml)
  doctor    Check the set-up (codex, credentials, sandbox, GitHub App env, database, Redis)
  worker    Run queued jobs from the shared queue (QUEUE_URL) without serving HTTP
  mcp       Serve the review tools over MCP (stdio)
  runs      List recent runs from the run store (DATABASE_PATH)
  help      Show this help

Run "codex-pr-bot <command> --help" for a command's options. Docs: docs/cli.md
`;

type Command = (args: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  review: async () => (await import("./review.js")).reviewCommand,
  fix: async () => (await import("./fix.js")).fixCommand,
  action: async () => (await import("./action.js")).actionCommand,
  doctor: async () => (await import("./doctor.js")).doctorCommand,
  worker: async () => (await import("./worker.js")).workerCommand,
  mcp: async () => (await import("./mcp.js")).mcpCommand,
  runs: async () => (await import("./runs.js")).runsCommand,
};

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout.write(HELP);
    return name === undefined ? EXIT.error : EXIT.ok;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  // Not a command, but a question people ask: say where it is answered (engine/doors.ts).
  if (name === "ask") {
    io.stderr.write(`codex-pr-bot ask: ${LOCAL_ASK_REFUSAL}\n`);
    return EXIT.error;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`codex-pr-bot: unknown command "${name}"\n\n${HELP}`);
    return EXIT.error;
  }
  try {
    return await (await load())(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.stderr.write(`codex-pr-bot ${name}: ${errorMessage(err)}\nRun "codex-pr-bot ${name} --help" for usage.\n`);
      return EXIT.error;
    }
    io.stderr.write(`codex-pr-bot ${name}: ${errorMessage(err)}\n`);
    return EXIT.error;
  }
}
