import { describe, expect, it } from "vitest";
import { repoConfigSchema } from "../../../src/config/schema.js";
import { contributorSkipReason, isAllowedBot, isFirstTimeContributor, needsContributorPolicy } from "../../../src/handlers/policy.js";

const config = (raw: unknown) => repoConfigSchema.parse(raw);

describe("isAllowedBot", () => {
  it("is false for every bot by default", () => {
    expect(isAllowedBot(config({}), "renovate[bot]")).toBe(false);
  });
  it("matches listed logins ignoring case and the [bot] suffix, and nothing else", () => {
    const c = config({ commands: { allow_bots: ["Renovate[bot]", "ci-helper"] } });
    expect(isAllowedBot(c, "renovate[bot]")).toBe(true);
    expect(isAllowedBot(c, "ci-helper[bot]")).toBe(true);
    expect(isAllowedBot(c, "renovate-evil[bot]")).toBe(false);
    expect(isAllowedBot(c, "dependabot[bot]")).toBe(false);
  });
});

describe("contributor policy", () => {
  it.each([
    ["FIRST_TIME_CONTRIBUTOR", true],
    ["FIRST_TIMER", true],
    ["NONE", true],
    ["CONTRIBUTOR", false],
    ["MEMBER", false],
    ["OWNER", false],
    ["COLLABORATOR", false],
  ])("%s is a first-time contributor: %s", (association, expected) => {
    expect(isFirstTimeContributor({ fromFork: false, authorAssociation: association })).toBe(expected);
  });

  it("only forks and newcomers need the configuration", () => {
    expect(needsContributorPolicy({ fromFork: false, authorAssociation: "MEMBER" })).toBe(false);
    expect(needsContributorPolicy({ fromFork: false, authorAssociation: undefined })).toBe(false);
    expect(needsContributorPolicy({ fromFork: true, authorAssociation: "MEMBER" })).toBe(true);
    expect(needsContributorPolicy({ fromFork: false, authorAssociation: "NONE" })).toBe(true);
  });

  it("reviews both by default and skips each only when configured", () => {
    const fork = { fromFork: true, authorAssociation: "CONTRIBUTOR" };
    const newcomer = { fromFork: false, authorAssociation: "FIRST_TIMER" };
    expect(contributorSkipReason(config({}), fork)).toBeNull();
    expect(contributorSkipReason(config({}), newcomer)).toBeNull();
    const forksSkipped = config({ auto_review: { forks: "skip" } });
    expect(contributorSkipReason(forksSkipped, fork)).toMatch(/forks/);
    expect(contributorSkipReason(forksSkipped, newcomer)).toBeNull();
    const newcomersSkipped = config({ auto_review: { first_time_contributors: "skip" } });
    expect(contributorSkipReason(newcomersSkipped, newcomer)).toMatch(/first-time/);
    expect(contributorSkipReason(newcomersSkipped, fork)).toBeNull();
  });
});
