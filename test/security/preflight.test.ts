import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAgentUser } from "../../src/security/agent-user.js";
import { agentIsolationWarnings, canUserExecute, canUserRead } from "../../src/security/preflight.js";
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

describe("preflight: can AGENT_USER start the agents?", () => {
  it("checks the codex/claude binaries and node: execute bits, directories on the way (a link's target's too), missing files", async () => {
    const root = makeTempDir("preflight-bin");
    chmodSync(root, 0o755);
    const program = (dir: string, name: string, mode: number, dirMode = 0o755): string => {
      const full = path.join(root, dir);
      mkdirSync(full, { recursive: true });
      chmodSync(full, dirMode);
      writeFileSync(path.join(full, name), "#!/bin/sh\n", { mode });
      chmodSync(path.join(full, name), mode);
      return path.join(full, name);
    };
    const ok = program("open", "claude", 0o755);
    const ownerOnly = program("open", "codex", 0o700);
    const hidden = program("closed", "node", 0o755, 0o700);
    mkdirSync(path.join(root, "bin"));
    chmodSync(path.join(root, "bin"), 0o755);
    const link = path.join(root, "bin", "claude");
    symlinkSync(hidden, link); // like node_modules/.bin/claude, but into a directory the agent cannot search

    expect(await canUserExecute(ok, agent)).toEqual({ execute: true, unknown: false });
    expect(await canUserExecute(ownerOnly, agent)).toEqual({ execute: false, unknown: false });
    expect(await canUserExecute(hidden, agent)).toEqual({ execute: false, unknown: false });
    expect(await canUserExecute(link, agent)).toEqual({ execute: false, unknown: false });
    expect(await canUserExecute(path.join(root, "missing"), agent)).toEqual({ execute: false, unknown: true });

    const dataDir = path.join(root, "data");
    const warnings = await agentIsolationWarnings({
      privateKeyPath: null,
      agentUser: agent,
      dataDir,
      appUid: 0,
      agentPrograms: [ok, ownerOnly, link, path.join(root, "missing"), ok],
    });
    expect(warnings.map((w) => [w.code, w.message.match(/\/(open|closed|bin|missing)\S*/)?.[0]])).toEqual([
      ["program-not-executable", "/open/codex"],
      ["program-not-executable", "/bin/claude"],
      ["program-not-executable", "/missing"],
    ]);
    expect(warnings[0]!.message).toMatch(/AGENT_USER agent cannot run .*chmod o\+x/);
    expect(warnings[2]!.message).toMatch(/does not exist/);
    // Without AGENT_USER the programs run as the app: nothing to check.
    const same = await agentIsolationWarnings({ privateKeyPath: null, agentUser: null, dataDir, agentPrograms: [ownerOnly] });
    expect(same.map((w) => w.code)).toEqual(["same-user"]);
  });
});
