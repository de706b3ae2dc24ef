import { describe, expect, it } from "vitest";
import { filterPaths, isIgnoredAuthor, matchesBranch } from "../../../src/config/paths.js";
import { DEFAULT_CONFIG, repoConfigSchema, type RepoConfig } from "../../../src/config/schema.js";

const paths = (input: object): RepoConfig["paths"] => repoConfigSchema.parse({ paths: input }).paths;
const files = (...names: string[]) => names.map((path) => ({ path }));
const kept = (names: string[], cfg: RepoConfig["paths"]) => filterPaths(files(...names), cfg).kept.map((f) => f.path);

describe("filterPaths with the built-in ignore list", () => {
  const cfg = DEFAULT_CONFIG.paths;

  it.each([
    "package-lock.json",
    "web/package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "crates/x/Cargo.lock",
    "poetry.lock",
    "go.sum",
    "composer.lock",
    "Gemfile.lock",
    "flake.lock",
    "dist/index.js",
    "packages/ui/dist/index.js",
    "build/out.js",
    "vendor/github.com/x/y.go",
    "php/vendor/autoload.php",
    "node_modules/left-pad/index.js",
    "third_party/zlib/inflate.c",
    "static/app.min.js",
    "static/app.min.css",
    "static/app.js.map",
    "src/api.generated.ts",
    "src/schema_generated.rs",
    "proto/user.pb.go",
    "proto/user_pb2.py",
    "src/__generated__/graphql.ts",
    "src/__snapshots__/app.test.ts.snap",
    "tests/snapshots/x.snap",
    "docs/logo.png",
    "assets/photo.jpeg",
    "fonts/inter.woff2",
    "release.tar.gz",
    "lib/native.so",
  ])("skips %s", (path) => {
    expect(filterPaths(files(path), cfg)).toEqual({ kept: [], skipped: [{ path, reason: "ignored" }] });
  });

  it.each([
    "src/index.ts",
    "README.md",
    "package.json",
    ".github/workflows/ci.yml",
    "src/build/config.ts",
    "tools/build/run.sh",
    "src/distance.ts",
    "assets/icon.svg",
    "src/lockfile.ts",
    "src/mapper.ts",
    "docs/vendor-notes.md",
    "Dockerfile",
  ])("keeps %s", (path) => {
    expect(filterPaths(files(path), cfg)).toEqual({ kept: [{ path }], skipped: [] });
  });
});

describe("filterPaths semantics", () => {
  it("keeps the caller's objects and order", () => {
    const input = [
      { path: "b.ts", status: "modified" },
      { path: "yarn.lock", status: "modified" },
      { path: "a.ts", status: "added" },
    ];
    const result = filterPaths(input, DEFAULT_CONFIG.paths);
    expect(result.kept).toEqual([input[0], input[2]]);
    expect(result.kept[0]).toBe(input[0]);
  });

  it("keeps everything with empty lists", () => {
    expect(kept(["yarn.lock", "a/b/c.png"], paths({ ignore: [] }))).toEqual(["yarn.lock", "a/b/c.png"]);
  });

  it("extra_ignore adds to the built-in list", () => {
    const cfg = paths({ extra_ignore: ["*.csv", "docs/generated/"] });
    expect(kept(["data/x.csv", "docs/generated/api.md", "docs/guide.md", "yarn.lock"], cfg)).toEqual(["docs/guide.md"]);
  });

  it("ignore replaces the built-in list", () => {
    const cfg = paths({ ignore: ["*.csv"] });
    expect(kept(["data/x.csv", "yarn.lock", "dist/a.js"], cfg)).toEqual(["yarn.lock", "dist/a.js"]);
  });

  it("include limits the review, and ignore still wins inside it", () => {
    const cfg = paths({ include: ["src/**"], extra_ignore: ["src/legacy/"] });
    const result = filterPaths(files("src/a.ts", "src/legacy/b.ts", "src/dist/c.js", "lib/d.ts"), cfg);
    expect(result.kept.map((f) => f.path)).toEqual(["src/a.ts"]);
    expect(result.skipped).toEqual([
      { path: "src/legacy/b.ts", reason: "ignored" },
      { path: "src/dist/c.js", reason: "ignored" },
      { path: "lib/d.ts", reason: "not-included" },
    ]);
  });

  it("reports not-included before ignored", () => {
    expect(filterPaths(files("lib/yarn.lock"), paths({ include: ["src/**"] })).skipped).toEqual([
      { path: "lib/yarn.lock", reason: "not-included" },
    ]);
  });

  it("matches slash-free patterns against the name at any depth", () => {
    const cfg = paths({ ignore: ["*.md", "Makefile"] });
    expect(kept(["README.md", "docs/deep/x.md", "Makefile", "sub/Makefile", "Makefile.am"], cfg)).toEqual(["Makefile.am"]);
  });

  it("anchors patterns that contain a slash to the root", () => {
    const cfg = paths({ ignore: ["docs/*.md"] });
    expect(kept(["docs/a.md", "docs/sub/b.md", "x/docs/c.md"], cfg)).toEqual(["docs/sub/b.md", "x/docs/c.md"]);
  });

  it("anchors a leading slash to the root", () => {
    const cfg = paths({ ignore: ["/build/", "/TODO"] });
    expect(kept(["build/a.js", "src/build/b.js", "TODO", "src/TODO"], cfg)).toEqual(["src/build/b.js", "src/TODO"]);
  });

  it("matches everything under a matched directory", () => {
    const cfg = paths({ ignore: ["vendor", "docs/api"] });
    expect(kept(["vendor/a.go", "x/vendor/y/b.go", "vendor", "docs/api/x.md", "docs/apiary.md"], cfg)).toEqual([
      "docs/apiary.md",
    ]);
  });

  it("matches directories only with a trailing slash", () => {
    const cfg = paths({ ignore: ["dist/"] });
    expect(kept(["dist", "dist/a.js", "a/dist/b.js"], cfg)).toEqual(["dist"]);
  });

  it("supports ** and braces, and treats dotfiles like other files", () => {
    const cfg = paths({ include: ["src/**/*.{ts,tsx}", ".github/**"] });
    expect(kept(["src/a.ts", "src/x/y/b.tsx", "src/c.js", ".github/workflows/ci.yml", "src/.hidden/d.ts"], cfg)).toEqual([
      "src/a.ts",
      "src/x/y/b.tsx",
      ".github/workflows/ci.yml",
      "src/.hidden/d.ts",
    ]);
  });

  it("include with a bare directory name includes everything under it", () => {
    expect(kept(["src/a.ts", "lib/b.ts", "pkg/src/c.ts"], paths({ include: ["/src"] }))).toEqual(["src/a.ts"]);
  });

  it("is case-sensitive, like git", () => {
    expect(kept(["logo.PNG", "logo.png"], DEFAULT_CONFIG.paths)).toEqual(["logo.PNG"]);
  });
});

describe("matchesBranch", () => {
  it("matches every branch when the list is empty", () => {
    expect(matchesBranch("anything/at-all", [])).toBe(true);
  });

  it("matches exact names and globs", () => {
    const globs = ["main", "release/*", "hotfix/**"];
    expect(matchesBranch("main", globs)).toBe(true);
    expect(matchesBranch("release/1.2", globs)).toBe(true);
    expect(matchesBranch("release/1.2/x", globs)).toBe(false);
    expect(matchesBranch("hotfix/a/b", globs)).toBe(true);
    expect(matchesBranch("develop", globs)).toBe(false);
    expect(matchesBranch("mainline", globs)).toBe(false);
  });
});

describe("isIgnoredAuthor", () => {
  it("compares logins exactly, ignoring case, without glob syntax", () => {
    const list = ["dependabot[bot]", "Renovate[bot]"];
    expect(isIgnoredAuthor("dependabot[bot]", list)).toBe(true);
    expect(isIgnoredAuthor("renovate[bot]", list)).toBe(true);
    expect(isIgnoredAuthor("dependabotb", list)).toBe(false);
    expect(isIgnoredAuthor("octocat", [])).toBe(false);
  });
});
