#!/usr/bin/env node
// A stand-in for `codex exec --json` for failure modes the real CLI cannot be made to show on demand.
// It reads the prompt from stdin; the first line "scenario: NAME" picks the behaviour:
//   echo        prints a valid run whose final message is JSON {argv, env} (what the CLI was given)
//   exit-1      prints the start of a run, an error on stderr (including CODEX_API_KEY), exits 1
//   hang        starts a grandchild `sleep`, writes both pids to ./pids.json (cwd), never finishes
//   no-turn     prints thread.started and exits 0 without turn.completed
//   silent      completes the turn without any agent message
//   noisy       valid run with non-JSON lines and unknown event types mixed in, final message "ok"
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const usage = { input_tokens: 10, cached_input_tokens: 0, cache_write_input_tokens: 0, output_tokens: 5, reasoning_output_tokens: 0 };

let prompt = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (prompt += chunk));
process.stdin.on("end", () => {
  const scenario = /^scenario: *(\S+)/.exec(prompt)?.[1] ?? "echo";
  out({ type: "thread.started", thread_id: "fake-thread" });
  out({ type: "turn.started" });
  switch (scenario) {
    case "echo": {
      const text = JSON.stringify({ argv: process.argv.slice(2), env: process.env, prompt });
      out({ type: "item.completed", item: { id: "item_0", type: "agent_message", text } });
      out({ type: "turn.completed", usage });
      break;
    }
    case "exit-1":
      process.stderr.write("starting up\n");
      process.stderr.write(`Error: provider rejected key ${process.env.CODEX_API_KEY ?? "(none)"}: account disabled\n`);
      process.exit(1);
      break;
    case "hang": {
      const child = spawn("sleep", ["60"], { stdio: "ignore" });
      writeFileSync("pids.json", JSON.stringify({ cli: process.pid, grandchild: child.pid }));
      setInterval(() => undefined, 1000);
      break;
    }
    case "no-turn":
      break;
    case "silent":
      out({ type: "turn.completed", usage });
      break;
    case "noisy":
      process.stdout.write("this is not json\n");
      out({ type: "some.future.event", payload: 1 });
      out({ type: "item.completed", item: { id: "item_9", type: "future_item", data: 1 } });
      out({ type: "item.completed", item: { id: "item_0", type: "agent_message", text: "ok" } });
      out({ type: "turn.completed", usage });
      break;
    default:
      process.stderr.write(`fake-codex: unknown scenario ${scenario}\n`);
      process.exit(2);
  }
});
