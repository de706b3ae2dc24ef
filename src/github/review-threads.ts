import type { WriteOptions } from "./policy.js";
import type { Octokit, RepoCoords } from "./client.js";

/**
 * Review threads through GitHub's GraphQL API: the REST API lists review comments but says nothing
 * about whether their thread is resolved, and cannot resolve one. `pullRequest.reviewThreads` gives
 * each thread's node id, resolution and outdatedness with its comments; `resolveReviewThread` closes
 * one. Replies still go through REST (threads.ts), which takes the first comment's database id.
 *
 * Every document here is checked against GitHub's published schema in the tests
 * (test/helpers/graphql-contract.ts).
 */

export interface ThreadComment {
  /** REST id of the comment (the one replies and reactions take). */
  id: number;
  body: string;
  author: string | null;
  /** True when the author is an app (`Bot`), false for a person (or a deleted account). */
  isBot: boolean;
}

export interface ReviewThread {
  /** GraphQL node id (what resolveReviewThread takes). */
  id: string;
  isResolved: boolean;
  /** GitHub's own verdict: the lines the thread was on have changed since. */
  isOutdated: boolean;
  path: string;
  /** Current line on the head side, or null when outdated. */
  line: number | null;
  startLine: number | null;
  /** Who resolved it, when GitHub says (a person's login; null for an app or when unresolved). */
  resolvedBy: string | null;
  /** Oldest first; the first one opened the thread. */
  comments: ThreadComment[];
}

export const REVIEW_THREADS_QUERY = /* GraphQL */ `
  query ReviewThreads($owner: String!, $repo: String!, $number: Int!, $cursor: String) {
    repository(owner: $owner, name: $repo) {
      pullRequest(number: $number) {
        reviewThreads(first: 100, after: $cursor) {
          pageInfo {
            hasNextPage
            endCursor
          }
          nodes {
            id
            isResolved
            isOutdated
            path
            line
            startLine
            resolvedBy {
              login
            }
            comments(first: 50) {
              nodes {
                databaseId
                body
                author {
                  __typename
                  login
                }
              }
            }
          }
        }
      }
    }
  }
`;

export const RESOLVE_THREAD_MUTATION = /* GraphQL */ `
  mutation ResolveReviewThread($threadId: ID!) {
    resolveReviewThread(input: { threadId: $threadId }) {
      thread {
        id
        isResolved
      }
    }
  }
`;

interface ThreadsPage {
  repository: {
    pullRequest: {
      reviewThreads: {
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        nodes: ({
          id: string;
          isResolved: boolean;
          isOutdated: boolean;
          path: string;
          line: number | null;
          startLine: number | null;
          resolvedBy: { login: string } | null;
          comments: { nodes: ({ databaseId: number | null; body: string; author: { __typename: string; login: string } | null } | null)[] | null };
        } | null)[] | null;
      };
    } | null;
  } | null;
}

/** At most this many pages of 100 threads: a PR with more has bigger problems than its bot's threads. */
const MAX_PAGES = 10;

/** Every review thread of a pull request, oldest first. */
export async function listReviewThreads(octokit: Octokit, coords: RepoCoords, pullNumber: number): Promise<ReviewThread[]> {
  const threads: ReviewThread[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data: ThreadsPage = await octokit.graphql<ThreadsPage>(REVIEW_THREADS_QUERY, { owner: coords.owner, repo: coords.repo, number: pullNumber, cursor });
    const connection = data.repository?.pullRequest?.reviewThreads;
    if (!connection) break;
    for (const node of connection.nodes ?? []) {
      if (!node) continue;
      threads.push({
        id: node.id,
        isResolved: node.isResolved,
        isOutdated: node.isOutdated,
        path: node.path,
        line: node.line ?? null,
        startLine: node.startLine ?? null,
        resolvedBy: node.resolvedBy?.login ?? null,
        comments: (node.comments.nodes ?? []).flatMap((c) =>
          c && c.databaseId !== null ? [{ id: c.databaseId, body: c.body, author: c.author?.login ?? null, isBot: c.author?.__typename === "Bot" }] : [],
        ),
      });
    }
    if (!connection.pageInfo.hasNextPage || !connection.pageInfo.endCursor) break;
    cursor = connection.pageInfo.endCursor;
  }
  return threads;
}

/** Resolves a thread (idempotent on GitHub's side: resolving a resolved thread changes nothing). */
export async function resolveReviewThread(octokit: Octokit, threadId: string): Promise<void> {
  // Resolving a resolved thread changes nothing: the write policy may repeat it (github/policy.ts).
  await octokit.graphql(RESOLVE_THREAD_MUTATION, { threadId, request: { idempotent: true } satisfies WriteOptions });
}
