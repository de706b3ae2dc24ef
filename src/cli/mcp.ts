import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createMcpServer } from "../mcp/server.js";
import { EXIT, packageVersion, UsageError, type CliIO } from "./io.js";

export const MCP_HELP = `Usage: codex-pr-bot mcp

Serves the tools over the Model Context Protocol on stdin/stdout: review_local, fix_local, and get_run
when a GitHub App is configured (APP_ID) and its run database exists. With the app's APP_ID and
PRIVATE_KEY (or PRIVATE_KEY_PATH) also review_pr and fix_pr, which queue work for the app's workers
(MCP_REQUESTED_BY names who asks). See docs/cli.md.
`;

export async function mcpCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    io.stdout.write(MCP_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const server = createMcpServer({ env: io.env, cwd: io.cwd, version: packageVersion() });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once("end", () => resolve());
    io.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  await server.connect(transport);
  await closed;
  await server.close();
  return EXIT.ok;
}
