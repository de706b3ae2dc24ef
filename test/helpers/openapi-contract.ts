import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

/**
 * GitHub's own REST API description (@octokit/openapi, pinned) as the oracle for every request the
 * app makes in the tests: the stand-in GitHub (fake-github.ts) checks each call's method and path
 * against the described operations and its JSON body against the operation's request schema. A
 * call GitHub does not describe, or a body it would reject (a wrong enum, a missing required field,
 * a wrong type), is a contract violation that fails the test (test/setup.ts), whatever the test's
 * own assertions say.
 */

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  /** Number of path parameters: the most literal template wins when several match. */
  params: number;
  schema: unknown;
}

interface Contract {
  operations: Operation[];
  ajv: Ajv;
  validators: Map<Operation, ValidateFunction>;
}

let contract: Contract | null = null;

function load(): Contract {
  if (contract) return contract;
  const require = createRequire(import.meta.url);
  const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
  const doc = JSON.parse(readFileSync(file, "utf8")) as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
    components: unknown;
  };
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    const params = (template.match(/\{[^}]+\}/g) ?? []).length;
    const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+");
    const pattern = new RegExp(`^${source}$`);
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "patch", "put", "delete"].includes(method)) continue;
      operations.push({ method: method.toUpperCase(), template, pattern, params, schema: op.requestBody?.content?.["application/json"]?.schema });
    }
  }
  // OpenAPI 3.0 keywords (nullable, example, x-github, …) are not JSON Schema: not strict about them.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: "github", components: doc.components });
  contract = { operations, ajv, validators: new Map() };
  return contract;
}

/** The described operation for a call, or null. Exported for the contract's own tests. */
export function findOperation(method: string, path: string): { template: string } | null {
  const { operations } = load();
  const matches = operations.filter((o) => o.method === method && o.pattern.test(path));
  if (matches.length === 0) return null;
  return matches.sort((a, b) => a.params - b.params)[0]!;
}

/** Why GitHub's description rejects this call, or null when it describes it. */
export function contractViolation(method: string, uri: string, body: unknown): string | null {
  const path = decodeURI(uri.split("?")[0]!).replace(/^\/api\/v3(?=\/)/, "");
  const c = load();
  const matches = c.operations.filter((o) => o.method === method && o.pattern.test(path));
  if (matches.length === 0) return `${method} ${path}: GitHub's REST API has no such operation`;
  const op = matches.sort((a, b) => a.params - b.params)[0]!;
  if (op.schema === undefined || body === undefined || body === "" || body === null) return null;
  let validate = c.validators.get(op);
  if (!validate) {
    const schema = JSON.parse(JSON.stringify(op.schema).replaceAll('"#/components/', '"github#/components/')) as object;
    validate = c.ajv.compile(schema);
    c.validators.set(op, validate);
  }
  if (validate(body)) return null;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || "(body)"} ${e.message ?? "is invalid"}${e.params && "allowedValues" in e.params ? ` (${(e.params.allowedValues as unknown[]).join(", ")})` : ""}`);
  return `${method} ${op.template}: the body does not match GitHub's schema: ${errors.join("; ")}`;
}

const violations: string[] = [];

/** Records a violation for the running test (fake-github.ts calls it for every request). */
export function checkAgainstContract(method: string, uri: string, body: unknown): void {
  const v = contractViolation(method, uri, body);
  if (v !== null) violations.push(v);
}

/** Records a violation found by another contract (graphql-contract.ts), so the same check fails the test. */
export function recordViolation(v: string): void {
  violations.push(v);
}

/** The violations since the last call, cleared. */
export function takeViolations(): string[] {
  return violations.splice(0);
}
