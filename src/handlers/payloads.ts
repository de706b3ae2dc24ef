/**
 * The webhook fields each handler reads, as zod schemas. Probot checks the signature, not the
 * shape: a payload GitHub changed, a hand-crafted redelivery or a replay from a proxy can lack any
 * field. Handlers parse first and, when a field they need is missing or of the wrong type, log one
 * warning (paths and codes only, never the untrusted values) and return: Probot answers 2xx, no job
 * is queued and nothing throws. Objects are loose (extra fields pass through untouched) so GitHub
 * adding fields never breaks a delivery.
 */
import type { Logger } from "pino";
import { z } from "zod";

const login = z.string().min(1).max(200);
const user = z.looseObject({ login, type: z.string().optional() });

const repository = z.looseObject({
  owner: z.looseObject({ login }),
  name: z.string().min(1),
  default_branch: z.string().min(1),
  clone_url: z.string().min(1),
  html_url: z.string().min(1),
});

const installation = z.looseObject({ id: z.number().int().positive() }).nullish();
const sender = z.looseObject({ login, type: z.string() });
const positiveInt = z.number().int().positive();

const prRepo = z.looseObject({ full_name: z.string().min(1) });

export const pullRequestPayload = z.looseObject({
  action: z.string(),
  pull_request: z.looseObject({
    number: positiveInt,
    state: z.string(),
    draft: z.boolean().optional(),
    title: z.string(),
    body: z.string().nullable().optional(),
    user: user.nullable(),
    author_association: z.string().optional(),
    head: z.looseObject({ sha: z.string().regex(/^[0-9a-f]{40,64}$/), ref: z.string().min(1), repo: prRepo.nullable() }),
    base: z.looseObject({ sha: z.string().regex(/^[0-9a-f]{40,64}$/), ref: z.string().min(1), repo: prRepo }),
  }),
  repository,
  installation,
  sender,
});
export type PullRequestPayload = z.output<typeof pullRequestPayload>;

export const issueCommentPayload = z.looseObject({
  issue: z.looseObject({ number: positiveInt, pull_request: z.looseObject({}).nullish() }),
  comment: z.looseObject({ id: positiveInt, body: z.string(), user: user.nullable(), html_url: z.string() }),
  repository,
  installation,
  sender,
});
export type IssueCommentPayload = z.output<typeof issueCommentPayload>;

export const checkRunActionPayload = z.looseObject({
  requested_action: z.looseObject({ identifier: z.string().min(1).max(20) }),
  check_run: z.looseObject({
    id: positiveInt,
    name: z.string(),
    head_sha: z.string().regex(/^[0-9a-f]{40,64}$/),
    html_url: z.string().nullish(),
    external_id: z.string().nullish(),
    // Empty for a fork's pull request (GitHub lists only same-repository PRs here).
    pull_requests: z.array(z.looseObject({ number: positiveInt })).default([]),
  }),
  repository,
  installation,
  sender,
});
export type CheckRunActionPayload = z.output<typeof checkRunActionPayload>;

export const reviewCommentPayload = z.looseObject({
  // The head keys the duplicate window; optional so a payload without it still gets its command run.
  pull_request: z.looseObject({ number: positiveInt, head: z.looseObject({ sha: z.string().min(1) }).optional() }),
  comment: z.looseObject({
    id: positiveInt,
    body: z.string(),
    user: user.nullable(),
    html_url: z.string(),
    in_reply_to_id: positiveInt.nullish(),
  }),
  repository,
  installation,
  sender,
});
export type ReviewCommentPayload = z.output<typeof reviewCommentPayload>;

/**
 * The payload as `schema` describes it, or null after logging which fields were wrong. Only paths
 * and issue codes are logged: the values are attacker-controlled text.
 */
export function parsePayload<S extends z.ZodType>(
  schema: S,
  payload: unknown,
  log: Pick<Logger, "warn">,
  meta: { event: string; deliveryId: string },
): z.output<S> | null {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 10).map((i) => `${i.path.join(".") || "(root)"}: ${i.code}`);
  log.warn({ event: meta.event, deliveryId: meta.deliveryId, problems }, "malformed webhook payload ignored");
  return null;
}
