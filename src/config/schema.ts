/**
 * The repository configuration file (`.github/codex-pr-bot.yml`), as a zod schema.
 *
 * Every object is `.strict()` so a typo ("ignore_author") fails loudly instead of silently doing
 * nothing. Every field has a default, so an absent file, section or key all mean "the documented
 * default"; docs/configuration.md is the user-facing copy of the comments below and a unit test
 * keeps the two in step. Nested sections use `.prefault({})` rather than `.default({})`: in zod 4
 * a default is returned as-is without being parsed, which would skip the defaults of its fields.
 */
import { z } from "zod";
import type { Priority } from "../types.js";

export const CONFIG_PATH = ".github/codex-pr-bot.yml";

/**
 * Files that are rarely worth a reviewer's time: lockfiles, build output, vendored and generated
 * code, snapshots, binaries. Syntax is described in config/paths.ts (gitignore-like, no negation).
 * SVG is deliberately absent: it is markup that can carry script, so it stays reviewable.
 */
export const DEFAULT_IGNORE: readonly string[] = [
  // Lockfiles: machine-written, huge diffs, nothing a reviewer can act on line by line.
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lockb",
  "Cargo.lock",
  "poetry.lock",
  "Pipfile.lock",
  "uv.lock",
  "composer.lock",
  "Gemfile.lock",
  "go.sum",
  "packages.lock.json",
  "*.lock",
  // Build output and dependencies checked into the tree. `build` is root-only because source
  // directories named build/ (build scripts, Bazel packages) are common deeper down.
  "dist/",
  "/build/",
  "node_modules/",
  "vendor/",
  "third_party/",
  "*.min.js",
  "*.min.css",
  "*.map",
  // Generated code.
  "*.generated.*",
  "*_generated.*",
  "*.pb.go",
  "*_pb2.py",
  "*_pb2.pyi",
  "__generated__/",
  // Test snapshots.
  "__snapshots__/",
  "*.snap",
  // Binaries, images, fonts, archives, media.
  "*.png",
  "*.jpg",
  "*.jpeg",
  "*.gif",
  "*.webp",
  "*.ico",
  "*.bmp",
  "*.tiff",
  "*.pdf",
  "*.woff",
  "*.woff2",
  "*.ttf",
  "*.otf",
  "*.eot",
  "*.zip",
  "*.gz",
  "*.tgz",
  "*.jar",
  "*.exe",
  "*.dll",
  "*.so",
  "*.dylib",
  "*.wasm",
  "*.class",
  "*.pyc",
  "*.mp3",
  "*.mp4",
  "*.wav",
];

/**
 * One glob. A leading "!" would turn a picomatch pattern into "everything except", which in an
 * ignore list silently ignores the whole repository, so negation is refused with a hint instead.
 */
const glob = z
  .string()
  .trim()
  .min(1, "A glob must not be empty")
  .max(500)
  .refine((s) => !s.startsWith("!"), {
    message: 'Negated globs ("!…") are not supported: list only what to match, or replace paths.ignore',
  });

const globList = z.array(glob).max(500);

export const severitySchema = z.enum(["P0", "P1", "P2", "P3"]);
export type Severity = z.output<typeof severitySchema>;

export const reasoningEffortSchema = z.enum(["minimal", "low", "medium", "high", "xhigh"]);

/**
 * The model name ends up in the codex argv; restricting it to name-like characters keeps it from
 * ever being read as a flag or carrying anything but a model id.
 */
const modelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/, "Expected a model name such as gpt-5.5 (letters, digits, . _ : / -)");

/** What automatic reviews do for a class of pull request authors. */
const contributorPolicy = z.enum(["review", "skip"]);
export type ContributorPolicy = z.output<typeof contributorPolicy>;

const autoReviewSchema = z
  .object({
    /** Review automatically when a PR is opened, reopened, pushed to or marked ready. Default true. */
    enabled: z.boolean().default(true),
    /** Also review draft PRs automatically. Default false. */
    drafts: z.boolean().default(false),
    /** Globs of base branches whose PRs are reviewed automatically; [] = every branch. Default []. */
    base_branches: globList.default([]),
    /** PR authors (logins, case-insensitive) never reviewed automatically; commands still work. Default []. */
    ignore_authors: z.array(z.string().trim().min(1).max(100)).max(500).default([]),
    /** Pull requests whose head is in a fork: "review" (read-only, never an automatic fix) or "skip". Default "review". */
    forks: contributorPolicy.default("review"),
    /**
     * Pull requests by first-time contributors (author_association FIRST_TIME_CONTRIBUTOR, FIRST_TIMER
     * or NONE): "review" (read-only, never an automatic fix) or "skip". Default "review".
     */
    first_time_contributors: contributorPolicy.default("review"),
  })
  .strict();

const commandsSchema = z
  .object({
    /**
     * Bot accounts (logins, case-insensitive, with or without "[bot]") whose `@codex` commands are
     * accepted; every other bot is ignored. Never list this app's own bot. Default [].
     */
    allow_bots: z.array(z.string().trim().min(1).max(100)).max(100).default([]),
  })
  .strict();

const pathsSchema = z
  .object({
    /** Only files matching one of these are reviewed; [] = every file. Default []. */
    include: globList.default([]),
    /** Files never reviewed. Setting it REPLACES the built-in list. Default: DEFAULT_IGNORE. */
    ignore: globList.default(() => [...DEFAULT_IGNORE]),
    /** Files never reviewed, ADDED to `ignore` (so the built-in list is kept). Default []. */
    extra_ignore: globList.default([]),
  })
  .strict();

const reviewSchema = z
  .object({
    /** Lowest priority that is posted (inline or in the review body). Default "P2". */
    min_severity: severitySchema.default("P2"),
    /** Inline comments per review, 1..50; further findings are listed in the review body. Default 20. */
    max_inline_comments: z.number().int().min(1).max(50).default(20),
    /** Extra instructions for the reviewer. Trusted because it is read from the default branch. Default "". */
    instructions: z.string().max(20_000).default(""),
    /**
     * On a push (`synchronize`), review only what changed since the last head the bot reviewed, with
     * the whole pull request available as context, and re-check the bot's open findings. A force-push
     * that dropped the reviewed head, a changed base or a `@codex review` command reviews everything. Default true.
     */
    incremental: z.boolean().default(true),
  })
  .strict();

const codexSchema = z
  .object({
    /** Model for this repository; null = the operator's default (CODEX_MODEL). Default null. */
    model: modelName.nullable().default(null),
    /** Reasoning effort; null = the model's/operator's default. Default null. */
    reasoning_effort: reasoningEffortSchema.nullable().default(null),
    /** Wall-clock limit for one agent run, 1..60 minutes. Default 20. */
    timeout_minutes: z.number().int().min(1).max(60).default(20),
    /**
     * Stop a Codex run once it has used more tokens than this (input, cached included, plus output,
     * summed over its model requests); null = no ceiling. The operator's CODEX_MAX_TOKENS caps it. Default null.
     */
    max_tokens: z.number().int().min(1).nullable().default(null),
  })
  .strict();

const executorName = z.enum(["codex", "claude"]);
const executorList = z
  .array(executorName)
  .min(1, "Name at least one executor")
  .max(2)
  .refine((list) => new Set(list).size === list.length, "List each executor once");

const routingSchema = z
  .object({
    /** Executors for automatic and `review` runs; null = `executors`. Default null. */
    review: executorList.nullable().default(null),
    /** Executors for security audits; null = `executors`. Default null. */
    audit: executorList.nullable().default(null),
    /** Executors for `ask`; null = `executors`. Default null. */
    ask: executorList.nullable().default(null),
    /** Executors for `fix`; null = `executors` (the first one runs). Default null. */
    fix: executorList.nullable().default(null),
    /** Executors for `tests`; null = `executors` (the first one runs). Default null. */
    tests: executorList.nullable().default(null),
  })
  .strict();

const claudeSchema = z
  .object({
    /** Claude model for this repository; null = the operator's default (CLAUDE_MODEL). Default null. */
    model: modelName.nullable().default(null),
    /** Most agent turns per run (--max-turns), 1..200. Default 40. */
    max_turns: z.number().int().min(1).max(200).default(40),
    /** Stop a run once Claude's cost estimate passes this many US dollars (--max-budget-usd); null = no budget. Default null. */
    max_budget_usd: z.number().positive().max(100).nullable().default(null),
  })
  .strict();

const fallbackSchema = z
  .object({
    /**
     * When one agent of a multi-agent review or audit fails (rate or usage limit, crash, hang, bad
     * output) and the other's review is posted, run the failed one again alone later; what it finds that
     * was not posted yet follows as another review. Default false.
     */
    retry: z.boolean().default(false),
    /** How long the retry waits, 0..1440 minutes (0: as soon as a worker is free). Default 10. */
    retry_after_minutes: z.number().int().min(0).max(1440).default(10),
  })
  .strict();

const fixAutoSchema = z
  .object({
    /** Open a fix PR without a command after an automatic review with findings at or above min_severity. Default false. */
    enabled: z.boolean().default(false),
    /** Lowest finding priority that starts an automatic fix. Default "P1". */
    min_severity: severitySchema.default("P1"),
  })
  .strict();

const fixSchema = z
  .object({
    /** Shell command run in the worktree after the agent (e.g. "npm test"); null = no verification. Default null. */
    verify: z.string().trim().min(1, "Use null (or leave it out) for no verification").max(2000).nullable().default(null),
    /** Wall-clock limit for the verification command, 1..60 minutes. Default 10. */
    verify_timeout_minutes: z.number().int().min(1).max(60).default(10),
    /** Automatic fixes after automatic reviews. Default: off. */
    auto: fixAutoSchema.prefault({}),
    /** Let a fix change files under .github/workflows/. Default false. */
    allow_workflow_changes: z.boolean().default(false),
    /** Let a fix add or change binary files. Default false. */
    allow_binaries: z.boolean().default(false),
    /** Largest file a fix may add or change, in bytes, 1 KiB..100 MiB. Default 1048576 (1 MiB). */
    max_file_bytes: z
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .strict();

export const repoConfigSchema = z
  .object({
    auto_review: autoReviewSchema.prefault({}),
    commands: commandsSchema.prefault({}),
    paths: pathsSchema.prefault({}),
    review: reviewSchema.prefault({}),
    /** Agents that run: [codex], [claude] or [codex, claude] (in parallel, findings merged). Default [codex]. */
    executors: executorList.default(["codex"]),
    /** Per-mode executors, overriding `executors` (e.g. audits by both). Default: none. */
    routing: routingSchema.prefault({}),
    /** What happens to an agent that failed while another finished. */
    fallback: fallbackSchema.prefault({}),
    codex: codexSchema.prefault({}),
    claude: claudeSchema.prefault({}),
    fix: fixSchema.prefault({}),
  })
  .strict();

export type RepoConfig = z.output<typeof repoConfigSchema>;
export type ExecutorName = z.output<typeof executorName>;

/**
 * The configuration of a repository without a config file. Frozen because it is shared by every
 * job: a handler that mutated it would change the defaults of all later runs.
 */
export const DEFAULT_CONFIG: RepoConfig = deepFreeze(repoConfigSchema.parse({}));

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** "P2" → 2. */
export function severityToPriority(severity: Severity): Priority {
  return Number(severity.slice(1)) as Priority;
}
