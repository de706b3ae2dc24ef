import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CodexEventState } from "../../../src/executors/codex-events.js";
import { ConnectionWatch, modelApiHost, readRetryEvent } from "../../../src/executors/connection.js";
import { makeTempDir } from "../../helpers/tmp.js";

// codex 0.169.0's own words, as recorded against a closed port and a failing mock (shared/research/codex.md).
const WAITING = "Reconnecting... waiting for network (Connection failed: error sending request)";
const OVERLOADED = "Reconnecting... 1/5 (We’re currently experiencing high demand, which may cause temporary errors.)";
const STREAM = "stream error: error sending request for url (https://api.openai.com/v1/responses); retrying 1/5 in 210ms…";

describe("readRetryEvent", () => {
  it("recognises codex's retry events and their cause", () => {
    expect(readRetryEvent(WAITING)).toEqual({ cause: "Connection failed: error sending request", unreachable: true });
    expect(readRetryEvent(OVERLOADED)).toMatchObject({ cause: expect.stringContaining("high demand"), unreachable: false });
    expect(readRetryEvent(STREAM)).toMatchObject({ unreachable: true });
    expect(readRetryEvent("unexpected status 401 Unauthorized")).toBeNull();
  });
});

describe("ConnectionWatch", () => {
  it("words each retry up to the limit, then gives up once with the cause and what to check", () => {
    let stopped = 0;
    const watch = new ConnectionWatch({ modelApi: "api.openai.com", maxRetries: 2, onGiveUp: () => (stopped += 1) });
    expect(watch.push(WAITING)).toBe("codex cannot reach the model API at api.openai.com (Connection failed: error sending request): retrying 1/2");
    expect(watch.push(WAITING)).toMatch(/retrying 2\/2$/);
    expect(watch.gaveUp).toBeNull();
    expect(watch.push(WAITING)).toBeNull();
    expect(watch.push(WAITING)).toBeNull();
    expect(stopped).toBe(1);
    expect(watch.gaveUp).toBe(
      "codex cannot reach the model API at api.openai.com (Connection failed: error sending request); stopped after 2 retries. " +
        "Check the network, an HTTPS proxy, and the provider's base_url in codex's config.toml.",
    );
  });

  it("defaults to 5 retries and names a failure codex gave up on itself", () => {
    const watch = new ConnectionWatch({ modelApi: "gw.example:8443" });
    expect(watch.push(OVERLOADED)).toMatch(/^the model API keeps failing at gw\.example:8443 \(.*high demand.*\): retrying 1\/5$/);
    expect(watch.failure("stream disconnected before completion")).toMatch(/keeps failing .*\(stream disconnected before completion\); codex gave up after 1 retry\. The provider may be overloaded/);
  });

  it("says nothing about a failure that was not a retry", () => {
    const watch = new ConnectionWatch({ modelApi: "x" });
    watch.push(WAITING);
    watch.push("unexpected status 400 Bad Request: model not found");
    expect(watch.failure("model not found")).toBeNull();
  });
});

describe("CodexEventState notices", () => {
  it("reports the first retry as a notice at once and clears it when the model answers", () => {
    const state = new CodexEventState({ modelApi: "127.0.0.1:9", maxRetries: 5 });
    state.push(JSON.stringify({ type: "turn.started" }));
    state.push(JSON.stringify({ type: "error", message: WAITING }));
    expect(state.changed).toBe(true);
    expect(state.progress().notice).toBe("codex cannot reach the model API at 127.0.0.1:9 (Connection failed: error sending request): retrying 1/5");
    state.changed = false;
    state.push(JSON.stringify({ type: "item.started", item: { id: "c1", type: "command_execution", command: "ls", status: "in_progress" } }));
    expect(state.progress().notice).toBeUndefined();
  });
});

describe("modelApiHost", () => {
  const template = (toml: string): string => {
    const dir = makeTempDir("model-api-host");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "config.toml"), toml);
    return dir;
  };

  it("reads the active provider's base_url from a table, dotted keys or -c overrides", () => {
    expect(modelApiHost(template('model_provider = "gw"\n\n[model_providers.gw]\nname = "GW"\nbase_url = "https://gw.example:8443/v1"\n'))).toBe("gw.example:8443");
    expect(modelApiHost(template('model_provider="mock"\nmodel_providers.mock.base_url="http://127.0.0.1:5/v1"\n'))).toBe("127.0.0.1:5");
    expect(modelApiHost(null, ['model_provider="m"', 'model_providers.m.base_url="http://10.0.0.1:81/v1"'])).toBe("10.0.0.1:81");
  });

  it("falls back to OpenAI's API, or openai_base_url", () => {
    expect(modelApiHost(null)).toBe("api.openai.com");
    expect(modelApiHost(template('openai_base_url = "https://proxy.corp/v1"\n'))).toBe("proxy.corp");
  });
});
