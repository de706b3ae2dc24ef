import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default is one worker on 2 cores (cores - 1): 1,075 s serially. The integration tests
    // mostly wait on child processes (codex, the app, git), so two files at a time fit 2 cores: 652 s,
    // green under CI=true.
    maxWorkers: 2,
  },
});
