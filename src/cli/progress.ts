import { formatDuration } from "../review/format.js";
import type { Progress } from "../types.js";
import type { CliIO } from "./io.js";

/**
 * The live progress line on a terminal (stderr, rewritten in place once a second). Off when stderr
 * is not a TTY, so logs, pipes and CI output stay clean.
 */
export class ProgressLine {
  private latest: Progress | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();

  constructor(
    private readonly io: CliIO,
    private readonly verb: string,
  ) {
    if (!io.stderr.isTTY) return;
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
    this.draw();
  }

  update(p: Progress): void {
    this.latest = p;
    if (this.timer) this.draw();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.io.stderr.write("\r\x1b[K");
  }

  private draw(): void {
    const p = this.latest;
    const parts = [`Codex is ${this.verb}… ${formatDuration(Date.now() - this.started)}`];
    if (p) {
      const done = p.plan.filter((s) => s.completed).length;
      if (p.plan.length > 0) parts.push(`plan ${done}/${p.plan.length}`);
      parts.push(`${p.commandsCompleted} command(s)`);
      if (p.currentCommand) parts.push(`running: ${p.currentCommand.replace(/\s+/g, " ")}`);
      else if (p.lastNote) parts.push(p.lastNote.replace(/\s+/g, " "));
    }
    const width = Math.max(20, (this.io.stderr.columns ?? 80) - 1);
    let line = parts.join(" · ");
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    this.io.stderr.write(`\r\x1b[K${line}`);
  }
}
