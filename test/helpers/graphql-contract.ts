import { schema as github } from "@octokit/graphql-schema";
import { buildSchema, getVariableValues, GraphQLError, Kind, parse, validate, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from "graphql";
import { recordViolation } from "./openapi-contract.js";

/**
 * GitHub's published GraphQL schema (@octokit/graphql-schema, pinned) as the oracle for every
 * GraphQL document the app sends in the tests, like openapi-contract.ts is for REST: the stand-in
 * GitHub (fake-github.ts) checks each POST /graphql. A document that does not parse, asks for a field
 * or argument GitHub does not have, or whose variables do not fit their declared types is a contract
 * violation that fails the test (test/setup.ts), whatever the stand-in answered.
 */

let built: GraphQLSchema | null = null;

function schema(): GraphQLSchema {
  built ??= buildSchema(github.idl, { assumeValidSDL: true });
  return built;
}

/** Why GitHub's schema rejects this request, or null when it accepts it. Exported for the contract's own tests. */
export function graphqlViolation(query: unknown, variables: unknown): string | null {
  if (typeof query !== "string" || query.trim() === "") return "POST /graphql: the body has no query";
  let doc: DocumentNode;
  try {
    doc = parse(query);
  } catch (err) {
    return `POST /graphql: the document does not parse: ${err instanceof GraphQLError ? err.message : String(err)}`;
  }
  const name = operationName(doc) ?? "(anonymous)";
  const errors = validate(schema(), doc);
  if (errors.length > 0) return `POST /graphql ${name}: ${errors.map((e) => e.message).join("; ")}`;
  const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operation) {
    const coerced = getVariableValues(schema(), operation.variableDefinitions ?? [], (variables ?? {}) as Record<string, unknown>);
    if (coerced.errors) return `POST /graphql ${name}: ${coerced.errors.map((e) => e.message).join("; ")}`;
  }
  return null;
}

/** The name of the document's (first) operation, e.g. "ReviewThreads". */
export function operationName(doc: DocumentNode | string): string | null {
  const parsed = typeof doc === "string" ? parse(doc) : doc;
  const op = parsed.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return op?.name?.value ?? null;
}

/** Records a violation for the running test (fake-github.ts calls it for every POST /graphql). */
export function checkGraphqlContract(body: unknown): void {
  const { query, variables } = (typeof body === "object" && body !== null ? body : {}) as { query?: unknown; variables?: unknown };
  const v = graphqlViolation(query, variables);
  if (v !== null) recordViolation(v);
}
