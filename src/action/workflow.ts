import { randomUUID } from "node:crypto";
import { appendFile } from "node:fs/promises";

/**
 * The runner's file and stdout protocols (https://docs.github.com/actions/reference/workflow-commands-for-github-actions):
 * step outputs in GITHUB_OUTPUT, the job summary in GITHUB_STEP_SUMMARY, and `::warning::`-style
 * commands on stdout. The builders are pure; agent text that reaches a command is escaped so it can
 * never start a command of its own.
 */

export type CommandLevel = "notice" | "warning" | "error";

export interface AnnotationProps {
  title?: string;
  file?: string;
  line?: number;
  endLine?: number;
}

function escapeData(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

/** One workflow command line, e.g. `::warning file=a.c,line=4::message`. */
export function workflowCommand(level: CommandLevel, message: string, props: AnnotationProps = {}): string {
  const entries = Object.entries(props).filter(([, v]) => v !== undefined && v !== "");
  const head = entries.length === 0 ? `::${level}` : `::${level} ${entries.map(([k, v]) => `${k}=${escapeProperty(String(v))}`).join(",")}`;
  return `${head}::${escapeData(message)}\n`;
}

/**
 * Step outputs in the multi-line form (`name<<delimiter`), which holds any value; the delimiter is
 * random so no value can end the block early.
 */
export function outputBlock(values: Record<string, string>, delimiter = `ghadelimiter_${randomUUID()}`): string {
  return Object.entries(values)
    .map(([name, value]) => {
      if (value.includes(delimiter)) throw new Error(`the value of output ${name} contains the delimiter`);
      return `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
    })
    .join("");
}

export async function writeOutputs(file: string | null, values: Record<string, string>): Promise<void> {
  if (file !== null) await appendFile(file, outputBlock(values));
}

export async function appendSummary(file: string | null, markdown: string): Promise<void> {
  if (file !== null) await appendFile(file, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
}
