import { createHmac, randomUUID } from "node:crypto";

export const WEBHOOK_SECRET = "test-webhook-secret-0123456789";

export interface Delivery {
  status: number;
  deliveryId: string;
  ms: number;
}

/** A delivery as GitHub signs it: the raw JSON body and the headers that go with it. */
export interface SignedDelivery {
  body: string;
  deliveryId: string;
  headers: Record<string, string>;
}

/** Builds a delivery the way GitHub does: raw JSON body, HMAC-SHA256 signature, event and delivery headers. */
export function signDelivery(event: string, payload: unknown, options: { deliveryId?: string; secret?: string } = {}): SignedDelivery {
  const body = JSON.stringify(payload);
  const deliveryId = options.deliveryId ?? randomUUID();
  const signature = `sha256=${createHmac("sha256", options.secret ?? WEBHOOK_SECRET).update(body).digest("hex")}`;
  return {
    body,
    deliveryId,
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": signature,
      "user-agent": "GitHub-Hookshot/test",
    },
  };
}

/** Sends a webhook the way GitHub does (signDelivery). */
export async function deliver(
  baseUrl: string,
  event: string,
  payload: unknown,
  options: { deliveryId?: string; secret?: string; path?: string } = {},
): Promise<Delivery> {
  const { body, deliveryId, headers } = signDelivery(event, payload, options);
  const started = performance.now();
  const res = await fetch(`${baseUrl}${options.path ?? "/api/github/webhooks"}`, { method: "POST", headers, body });
  await res.text();
  return { status: res.status, deliveryId, ms: performance.now() - started };
}

export interface RepoFixture {
  owner: string;
  name: string;
  cloneUrl: string;
  defaultBranch?: string;
}

export function repositoryPayload(r: RepoFixture) {
  return {
    id: 4242,
    name: r.name,
    full_name: `${r.owner}/${r.name}`,
    owner: { login: r.owner, type: "Organization" },
    private: false,
    default_branch: r.defaultBranch ?? "main",
    clone_url: r.cloneUrl,
    html_url: `https://github.com/${r.owner}/${r.name}`,
  };
}

export interface PullFixture {
  number: number;
  headSha: string;
  baseSha: string;
  headRef?: string;
  baseRef?: string;
  draft?: boolean;
  author?: string;
  title?: string;
  body?: string;
  fork?: boolean;
}

export function pullRequestPayload(action: string, repo: RepoFixture, pr: PullFixture, installationId = 77) {
  const repository = repositoryPayload(repo);
  const headRepo = pr.fork ? { ...repository, full_name: `someone/${repo.name}` } : repository;
  return {
    action,
    number: pr.number,
    pull_request: {
      number: pr.number,
      state: "open",
      draft: pr.draft ?? false,
      title: pr.title ?? "Add a feature",
      body: pr.body ?? "This PR adds a feature.",
      user: { login: pr.author ?? "alice", type: "User" },
      head: { sha: pr.headSha, ref: pr.headRef ?? "feature", repo: headRepo },
      base: { sha: pr.baseSha, ref: pr.baseRef ?? "main", repo: repository },
      html_url: `https://github.com/${repo.owner}/${repo.name}/pull/${pr.number}`,
    },
    repository,
    installation: { id: installationId },
    sender: { login: pr.author ?? "alice", type: "User" },
  };
}

export function issueCommentPayload(
  repo: RepoFixture,
  input: { number: number; body: string; user?: string; userType?: "User" | "Bot"; commentId?: number; onPull?: boolean; action?: string },
  installationId = 77,
) {
  const user = { login: input.user ?? "maintainer", type: input.userType ?? "User" };
  return {
    action: input.action ?? "created",
    issue: {
      number: input.number,
      title: "Add a feature",
      body: "",
      user: { login: "alice" },
      ...(input.onPull === false ? {} : { pull_request: { url: `https://api.github.com/repos/${repo.owner}/${repo.name}/pulls/${input.number}` } }),
    },
    comment: {
      id: input.commentId ?? 9001,
      body: input.body,
      user,
      html_url: `https://github.com/${repo.owner}/${repo.name}/pull/${input.number}#issuecomment-${input.commentId ?? 9001}`,
    },
    repository: repositoryPayload(repo),
    installation: { id: installationId },
    sender: user,
  };
}
