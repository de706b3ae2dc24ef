import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAgentUser } from "../../src/security/agent-user.js";
import { agentIsolationWarnings, canUserRead } from "../../src/security/preflight.js";
import { makeTempDir } from "../helpers/tmp.js";

const PASSWD = "root:x:0:0::/root:/bin/bash\nagent:x:1500:1600::/nonexistent:/usr/sbin/nologin\n";
const agent = { name: "agent", uid: 1500, gid: 1600 };

describe("AGENT_USER parsing", () => {
  it("resolves a name or uid:gid and refuses root and unknown users", () => {
    expect(parseAgentUser("agent", () => PASSWD)).toEqual(agent);
    expect(parseAgentUser("1500:1600", () => PASSWD)).toEqual({ name: null, uid: 1500, gid: 1600 });
    expect(() => parseAgentUser("root", () => PASSWD)).toThrow(/root/);
    expect(() => parseAgentUser("0:5", () => PASSWD)).toThrow(/root/);
    expect(() => parseAgentUser("nobody-here", () => PASSWD)).toThrow(/not in \/etc\/passwd/);
    expect(() => parseAgentUser("a b", () => PASSWD)).toThrow(/neither/);
  });
});

describe("preflight: can the agent read the key?", () => {
  function fixture(keyMode: number, dirMode = 0o755) {
    const root = makeTempDir("preflight");
    chmodSync(root, 0o755);
    const dir = path.join(root, "secrets");
    mkdirSync(dir, { mode: dirMode });
    chmodSync(dir, dirMode);
    const key = path.join(dir, "key.pem");
    writeFileSync(key, "k", { mode: keyMode });
    chmodSync(key, keyMode);
    return { root, key, dataDir: path.join(root, "data") };
  }

  it("warns when the agent runs as the app's own user and the key file exists", async () => {
    const { key, dataDir } = fixture(0o600);
    const w = await agentIsolationWarnings({ privateKeyPath: key, agentUser: null, dataDir });
    expect(w.map((x) => x.code)).toEqual(["same-user", "key-readable"]);
    expect(w[0]!.message).toMatch(/AGENT_USER/);
  });

  it("under AGENT_USER: quiet for a 0600 key, warns for a world-readable one, honours directory search bits", async () => {
    const appUid = 0;
    const tight = fixture(0o600);
    expect(await agentIsolationWarnings({ privateKeyPath: tight.key, agentUser: agent, dataDir: tight.dataDir, appUid })).toEqual([]);
    const loose = fixture(0o644);
    expect((await agentIsolationWarnings({ privateKeyPath: loose.key, agentUser: agent, dataDir: loose.dataDir, appUid })).map((x) => x.code)).toEqual([
      "key-readable",
    ]);
    const hidden = fixture(0o644, 0o700);
    expect(await canUserRead(hidden.key, agent)).toEqual({ read: false, unknown: false });
  });

  it("flags an AGENT_USER equal to the app's user, and an app that is not root", async () => {
    const { key, dataDir } = fixture(0o600);
    expect((await agentIsolationWarnings({ privateKeyPath: key, agentUser: agent, dataDir, appUid: 1500 })).map((x) => x.code)).toContain("same-user");
    expect((await agentIsolationWarnings({ privateKeyPath: key, agentUser: agent, dataDir, appUid: 1000 })).map((x) => x.code)).toContain("not-root");
  });
});
