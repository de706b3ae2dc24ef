import { execFileSync } from "node:child_process";
import path from "node:path";
import { CodexExecutor } from "../../src/executors/codex.js";
import type { Jail } from "../../src/jail/jail.js";
import { parseAgentUser, type AgentUser } from "../../src/security/agent-user.js";
import { basicAuth } from "../../src/workspace/git.js";
import { PRIVATE_KEY, startApp, testSettings, type RunningApp } from "../helpers/app-server.js";
import { INSTALLATION_TOKEN } from "../helpers/fake-github.js";
import { WEBHOOK_SECRET } from "../helpers/webhooks.js";
import { startMockResponses, type Script } from "../helpers/mock-responses.js";
import { writeCodexTemplate, type Scenario } from "../integration/helpers.js";

/** The unprivileged user the adversarial suite runs the agent as (created on demand; CI runs as root). */
export const AGENT_TEST_USER = "cprbot-agent-test";

/**
 * Returns the test agent user, creating it when missing. Fails (never skips) when that is
 * impossible: a suite that silently skips the one defence that holds would prove nothing.
 */
export function ensureAgentUser(): AgentUser {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the security suite must run as root: it creates the unprivileged user ${AGENT_TEST_USER} and starts codex as it ` +
        `(AGENT_USER). Running as uid ${process.getuid?.()}; run the tests as root (CI does) or in a container.`,
    );
  }
  try {
    return parseAgentUser(AGENT_TEST_USER);
  } catch {
    // Not there yet.
  }
  try {
    execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", AGENT_TEST_USER], { stdio: "pipe" });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    // 9: created meanwhile by a parallel test file.
    if ((err as { status?: number }).status !== 9) {
      throw new Error(`could not create the unprivileged user ${AGENT_TEST_USER} with useradd: ${stderr.trim()}`);
    }
  }
  return parseAgentUser(AGENT_TEST_USER);
}

/**
 * Scenario.start, but with the executor built exactly as src/app.ts builds it plus `runAs`, so the
 * agent can run as AGENT_USER before app.ts wires the setting itself.
 */
export async function startWithAgentUser(
  sc: Scenario,
  script: Script,
  agentUser: AgentUser | null,
  apiKey: string | null,
  /** Default: the default jail, with AGENT_USER inside it. unjailed() tests the AGENT_USER layer alone. */
  jail?: Jail,
): Promise<RunningApp> {
  sc.mock = await startMockResponses(script);
  writeCodexTemplate(path.join(sc.dataDir, "codex-template"), sc.mock.url);
  const settings = testSettings(sc.dataDir, { codexApiKey: apiKey, agentUser });
  const executor = new CodexExecutor({
    bin: settings.codexBin,
    homesRoot: path.join(settings.dataDir, "codex-homes"),
    homeTemplate: settings.codexHomeTemplate,
    apiKey: settings.codexApiKey,
    passEnv: settings.codexPassEnv,
    defaultModel: settings.codexModel,
    runAs: agentUser ? { user: agentUser, dataDir: settings.dataDir } : null,
    ...(jail ? { jail } : {}),
  });
  sc.app = await startApp(settings, { executor });
  return sc.app;
}

/** The model API key the hunting suites put in the app's environment. */
export const HUNT_API_KEY = "sk-test-CodexApiKeySecret-0123456789abcdef";
/** A line from the middle of the PEM: present wherever the key leaks, whole or cut. */
export const KEY_LINE = PRIVATE_KEY.split("\n")[5]!;
/** What a hunting agent must never see, by name (secrets.test.ts, jail.test.ts). */
export const HUNTED_SECRETS: Record<string, string> = {
  "installation token": INSTALLATION_TOKEN,
  "installation token as git's Basic auth": basicAuth(INSTALLATION_TOKEN),
  "webhook secret": WEBHOOK_SECRET,
  "private key": KEY_LINE,
  "model API key": HUNT_API_KEY,
};
