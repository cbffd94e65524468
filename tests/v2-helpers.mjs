// Helpers of the v2 test files (tests/v2-*.test.mjs): the stock v2 SDKs pointed at the worker
// started by helpers.mjs, raw v2 calls, and assertions on the v2 error envelope and on the SDK's
// typed errors.
import { createRequire } from "node:module";
import { Unkey } from "@unkey/api-v2";
import * as errors from "@unkey/api-v2/models/errors";
import { Ratelimit, Overrides } from "@unkey/ratelimit";

// @unkey/ratelimit brings its own @unkey/api 2.2.0, whose error classes are its own
const fromRatelimit = createRequire(createRequire(import.meta.url).resolve("@unkey/ratelimit"));
const errors22 = await import(fromRatelimit.resolve("@unkey/api/models/errors"));

export { errors, errors22, Ratelimit, Overrides };

/** `@unkey/api` 2.5.1 as users construct it, without retries (a 5xx must show, not be retried). */
export function sdk(kg, rootKey) {
  return new Unkey({ rootKey, serverURL: kg.url, retryConfig: { strategy: "none" } });
}

/** `@unkey/ratelimit` 2.1.4 (it brings its own `@unkey/api` 2.2.0). */
export function ratelimiter(kg, rootKey, options) {
  return new Ratelimit({ rootKey, baseUrl: kg.url, timeout: false, ...options });
}

export function overrides(kg, rootKey) {
  return new Overrides({ rootKey, baseUrl: kg.url });
}

/** A raw v2 call: POST /v2/<route> with a JSON body. */
export function v2(kg, route, body, rootKey, headers) {
  return kg.call(`/v2/${route}`, { method: "POST", body, rootKey, headers });
}

const TYPE_BASE = "https://unkey.com/docs/errors/";

/** Asserts a raw v2 error envelope and returns its `error`. */
export function expectV2Error(assert, res, status, type, detail) {
  assert.equal(res.status, status, `status of ${res.text}`);
  assert.match(res.body?.meta?.requestId ?? "", /^req_/, res.text);
  const e = res.body.error;
  assert.equal(e.status, status, res.text);
  assert.equal(typeof e.title, "string");
  if (type !== undefined) assert.equal(e.type, `${TYPE_BASE}${type}`, res.text);
  if (detail instanceof RegExp) assert.match(e.detail, detail);
  else if (detail !== undefined) assert.equal(e.detail, detail);
  if (status === 400) assert.ok(Array.isArray(e.errors), `400 without errors[]: ${res.text}`);
  return e;
}

/** Awaits an SDK call that must fail with the typed error `Class` (the SDK parsed the envelope),
 * with `status` and (optionally) the `type` suffix; returns the error. */
export async function sdkError(assert, promise, Class, status, type) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${Class.name}, the call succeeded`);
  assert.ok(error instanceof Class, `expected ${Class.name}, got ${error?.constructor?.name}: ${error?.message}`);
  assert.equal(error.statusCode, status, error.message);
  if (type !== undefined) assert.equal(error.error?.type, `${TYPE_BASE}${type}`, JSON.stringify(error.error));
  return error;
}

/** A workspace with a `*` root key (`admin`), a root key holding `permissions` (`rootKey`) and an
 * api created through v2. */
export async function workspaceV2(kg, permissions = ["*"]) {
  const workspaceId = await kg.workspace();
  const admin = await kg.rootKey(workspaceId, ["*"]);
  const rootKey = await kg.rootKey(workspaceId, permissions);
  const { data } = await sdk(kg, admin).apis.createApi({ name: "v2-api" });
  return { workspaceId, admin, rootKey, apiId: data.apiId };
}
