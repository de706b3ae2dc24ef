import { agentsLabel } from "../local/format.js";
import { formatDuration } from "../review/format.js";
import type { Progress } from "../types.js";
import type { CliIO } from "./io.js";

/**
 * The live progress line on a terminal (stderr, rewritten in place once a second). Off when stderr
 * is not a TTY, so logs, pipes and CI output stay clean. With two agents it shows both side by side.
 * An agent's notice (e.g. it cannot reach its model API) is printed as a line of its own at once,
 * TTY or not: it is what a person waiting needs to know.
 */
export class ProgressLine {
  private readonly latest = new Map<string, Progress>();
  private readonly noticed = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();

  constructor(
    private readonly io: CliIO,
    private readonly verb: string,
    private readonly agents: readonly string[] = ["codex"],
  ) {
    if (!io.stderr.isTTY) return;
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
    this.draw();
  }

  update(p: Progress, agent: string = this.agents[0] ?? "codex"): void {
    this.latest.set(agent, p);
    if (p.notice && this.noticed.get(agent) !== p.notice) {
      this.noticed.set(agent, p.notice);
      this.io.stderr.write(`${this.timer ? "\r\x1b[K" : ""}codex-pr-bot: ${p.notice}\n`);
    }
    if (this.timer) this.draw();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.io.stderr.write("\r\x1b[K");
  }

  private draw(): void {
    const several = this.agents.length > 1;
    const parts = [`${agentsLabel(this.agents)} ${several ? "are" : "is"} ${this.verb}… ${formatDuration(Date.now() - this.started)}`];
    for (const agent of this.agents) {
      const p = this.latest.get(agent);
      if (!p) continue;
      const done = p.plan.filter((s) => s.completed).length;
      const own: string[] = [];
      if (p.plan.length > 0) own.push(`plan ${done}/${p.plan.length}`);
      own.push(`${p.commandsCompleted} command(s)`);
      if (p.currentCommand) own.push(`running: ${p.currentCommand.replace(/\s+/g, " ")}`);
      else if (p.lastNote) own.push(p.lastNote.replace(/\s+/g, " "));
      parts.push(several ? `${agent}: ${own.join(", ")}` : own.join(" · "));
    }
    const width = Math.max(20, (this.io.stderr.columns ?? 80) - 1);
    let line = parts.join(" · ");
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    this.io.stderr.write(`\r\x1b[K${line}`);
  }
}
