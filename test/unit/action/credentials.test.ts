import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutCredentials, fetchToken, refuseUnjailed } from "../../../src/action/credentials.js";
import { ActionError } from "../../../src/action/environment.js";
import { makeTempDir } from "../../helpers/tmp.js";
import { gitIn } from "../cli/fixture.js";

/** What action/credentials.ts finds in real git configs laid out as actions/checkout leaves them. */

const TOKEN = "ghs_CheckoutToken0123456789abcdefghijklmn";
const HEADER = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`;

async function checkout(): Promise<{ dir: string; temp: string }> {
  const base = makeTempDir("credentials");
  const dir = path.join(base, "ws");
  await gitIn(base, "init", "-q", dir);
  await gitIn(dir, "remote", "add", "origin", "https://github.com/octo/demo");
  return { dir, temp: base };
}

describe("checkoutCredentials", () => {
  it("finds nothing in a clean checkout (and ignores workspace/git.ts's own hardening, credential.helper=)", async () => {
    const { dir } = await checkout();
    expect(await checkoutCredentials(dir)).toEqual({ keys: [], values: [] });
  });

  it("finds checkout v4's extraheader in .git/config and decodes the token from it", async () => {
    const { dir } = await checkout();
    await gitIn(dir, "config", "--local", "http.https://github.com/.extraheader", HEADER);
    const found = await checkoutCredentials(dir);
    expect(found.keys).toEqual(["http.https://github.com/.extraheader"]);
    expect(found.values).toContain(TOKEN);
  });

  it("follows checkout v6's includeIf into its credentials file under RUNNER_TEMP", async () => {
    const { dir, temp } = await checkout();
    const file = path.join(temp, "git-credentials-0f1e.config");
    writeFileSync(file, `[http "https://github.com/"]\n\textraheader = ${HEADER}\n`);
    await gitIn(dir, "config", "--local", `includeIf.gitdir:${dir}/.git.path`, file);
    const found = await checkoutCredentials(dir);
    expect(found.keys).toEqual(["http.https://github.com/.extraheader"]);
    expect(found.values).toContain(TOKEN);
  });

  it("finds a password in a remote URL and a credential section", async () => {
    const { dir } = await checkout();
    await gitIn(dir, "remote", "set-url", "origin", `https://x-access-token:${TOKEN}@github.com/octo/demo`);
    await gitIn(dir, "config", "--local", "credential.helper", "store");
    const found = await checkoutCredentials(dir);
    expect(found.keys.sort()).toEqual(["credential.helper", "remote.origin.url"]);
    expect(found.values).toEqual([TOKEN]);
  });
});

describe("refuseUnjailed and fetchToken", () => {
  const creds = { keys: ["http.https://github.com/.extraheader"], values: [TOKEN] };

  it("refuses only unjailed runs on a checkout with credentials", () => {
    expect(() => refuseUnjailed({ AGENT_ISOLATION: "none" }, creds)).toThrow(ActionError);
    expect(() => refuseUnjailed({ AGENT_ISOLATION: "none" }, creds)).toThrow(/persist-credentials: false/);
    expect(() => refuseUnjailed({}, creds)).not.toThrow();
    expect(() => refuseUnjailed({ AGENT_ISOLATION: "none" }, { keys: [], values: [] })).not.toThrow();
  });

  it("lends the token for fetching only to the workflow's own server, and only when the checkout has no credentials", async () => {
    const { dir } = await checkout();
    const none = { keys: [], values: [] };
    expect(await fetchToken(dir, TOKEN, "https://github.com", none)).toBe(TOKEN);
    expect(await fetchToken(dir, TOKEN, "https://github.example.com", none)).toBeNull();
    expect(await fetchToken(dir, TOKEN, "https://github.com", creds)).toBeNull();
    expect(await fetchToken(dir, null, "https://github.com", none)).toBeNull();
  });
});
