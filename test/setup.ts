import nock from "nock";
import { afterAll, afterEach } from "vitest";
import { takeViolations } from "./helpers/openapi-contract.js";
import { removeTempDirs } from "./helpers/tmp.js";

// Tests may only talk to loopback: anything else is a bug in the test.
nock.disableNetConnect();
nock.enableNetConnect((host) => /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host));

afterEach(() => {
  // Every request the stand-in GitHub saw must be one GitHub's own API description allows.
  const violations = takeViolations();
  if (violations.length > 0) throw new Error(`Requests GitHub's API description rejects:\n${[...new Set(violations)].join("\n")}`);
  const pending = nock.pendingMocks();
  nock.cleanAll();
  if (pending.length > 0) {
    throw new Error(`Unused GitHub API mocks: ${pending.join(", ")}`);
  }
});

afterAll(() => {
  removeTempDirs();
});
