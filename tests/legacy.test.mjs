// The legacy REST routes of v1 §2.5 #42–44 (issue 8): thin aliases over keys.createKey,
// keys.verifyKey and apis.listKeys, with upstream's older shapes.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, at, midWindow } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const create = (body, rootKey = s.rootKey) => kg.call("/v1/keys", { method: "POST", body: { apiId: s.apiId, ...body }, rootKey });
const verify = (body, headers) => kg.call("/v1/keys/verify", { method: "POST", body, headers });
const list = (apiId, query = {}, rootKey = s.rootKey) =>
  kg.call(`/v1/apis/${apiId}/keys?${new URLSearchParams(query)}`, { method: "GET", rootKey });

describe("POST /v1/keys", () => {
  test("creates a key like keys.createKey (credits, rate limit in the old shape)", async () => {
    const r = await create({ prefix: "old", name: "legacy", ownerId: "u1", remaining: 3, meta: { a: 1 }, ratelimit: { type: "fast", limit: 5, refillRate: 5, refillInterval: 60_000 } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.key, /^old_/);
    const key = (await kg.get("keys.getKey", { keyId: r.body.keyId }, s.rootKey)).body;
    assert.deepEqual([key.name, key.ownerId, key.remaining, key.meta, key.ratelimit.limit, key.ratelimit.duration], ["legacy", "u1", 3, { a: 1 }, 5, 60_000]);
  });

  test("validation first, then the same permission as keys.createKey", async () => {
    expectError(assert, await kg.call("/v1/keys", { method: "POST", body: {}, rootKey: s.rootKey }), 400, "BAD_REQUEST", "apiId: Required");
    expectError(assert, await create({ byteLength: 8 }), 400, "BAD_REQUEST", "byteLength: Number must be greater than or equal to 16");
    const reader = await kg.rootKey(s.workspaceId, ["api.*.read_key"]);
    expectError(assert, await create({}, reader), 403, "INSUFFICIENT_PERMISSIONS");
    const byApi = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.create_key`]);
    assert.equal((await create({}, byApi)).status, 200);
    expectError(assert, await create({}, null), 403, "UNAUTHORIZED", "key required");
    expectError(assert, await kg.call("/v1/keys", { method: "POST", body: { apiId: "api_unknown" }, rootKey: s.rootKey }), 404, "NOT_FOUND");
  });
});

describe("POST /v1/keys/verify", () => {
  test("valid: the key's fields, no code; spends credits and is recorded like keys.verifyKey", async () => {
    const k = (await create({ remaining: 2, ownerId: "owner_1", meta: { plan: "pro" }, name: "n" })).body;
    const r = await verify({ key: k.key, apiId: s.apiId });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { keyId: k.keyId, valid: true, name: "n", ownerId: "owner_1", meta: { plan: "pro" }, remaining: 1 });
    assert.equal((await verify({ key: k.key })).body.remaining, 0);
    const spent = await verify({ key: k.key });
    assert.deepEqual([spent.status, spent.body], [200, { valid: false, remaining: 0, code: "USAGE_EXCEEDED" }]);
    const a = await kg.get("analytics.getVerifications", { apiId: s.apiId, keyId: k.keyId, start: Date.now() - 3_600_000 }, s.rootKey);
    assert.deepEqual([a.body[0].valid, a.body[0].usageExceeded, a.body[0].spentCredits], [2, 1, 2]);
  });

  test("HTTP 404 for NOT_FOUND and EXPIRED, 200 for the other denials", async () => {
    const unknown = await verify({ key: "nope_123" });
    assert.deepEqual([unknown.status, unknown.body], [404, { valid: false, code: "NOT_FOUND" }]);
    const expired = (await create({ expires: Date.now() - 1000 })).body;
    const e = await verify({ key: expired.key });
    assert.deepEqual([e.status, e.body], [404, { valid: false, code: "EXPIRED" }]);
    const limited = (await create({ ratelimit: { limit: 1, refillRate: 1, refillInterval: 60_000 } })).body;
    const t = at(midWindow(60_000)); // both in one window
    assert.equal((await verify({ key: limited.key }, t)).body.valid, true);
    const rl = await verify({ key: limited.key }, t);
    assert.equal(rl.status, 200);
    assert.equal(rl.body.code, "RATE_LIMITED");
    assert.equal(rl.body.ratelimit.remaining, 0);
    const disabled = (await create({ enabled: false })).body;
    const d = await verify({ key: disabled.key });
    assert.deepEqual([d.status, d.body], [200, { valid: false, code: "DISABLED" }]);
    const other = await verify({ key: disabled.key, apiId: "api_other" });
    assert.deepEqual([other.status, other.body.code], [200, "DISABLED"]);
    const wrongApi = await verify({ key: limited.key, apiId: "api_other" });
    assert.deepEqual([wrongApi.status, wrongApi.body.code], [200, "FORBIDDEN"]);
  });

  test("validation", async () => {
    expectError(assert, await verify({}), 400, "BAD_REQUEST", "key: Required");
    expectError(assert, await verify({ key: "" }), 400, "BAD_REQUEST", "key: String must contain at least 1 character(s)");
  });
});

describe("GET /v1/apis/{apiId}/keys", () => {
  let api, ids;
  before(async () => {
    const a = await kg.post("apis.createApi", { name: "listed" }, s.rootKey);
    api = a.body.apiId;
    ids = [];
    for (let i = 0; i < 5; i++) {
      const r = await kg.post("keys.createKey", { apiId: api, name: `k${i}`, ownerId: i < 2 ? "alice" : "bob", remaining: 10 + i }, s.rootKey);
      ids.push(r.body.keyId);
    }
    ids.sort();
  });

  test("lists the api's keys in the Key shape of apis.listKeys, with offset paging and total", async () => {
    const all = await list(api);
    assert.equal(all.status, 200, all.text);
    assert.equal(all.body.total, 5);
    assert.deepEqual(all.body.keys.map((k) => k.id), ids);
    const modern = await kg.get("apis.listKeys", { apiId: api }, s.rootKey);
    assert.deepEqual(all.body.keys, modern.body.keys);
    const page = await list(api, { limit: 2, offset: 2 });
    assert.deepEqual(page.body.keys.map((k) => k.id), ids.slice(2, 4));
    assert.equal(page.body.total, 5);
    assert.deepEqual((await list(api, { offset: 5 })).body.keys, []);
    const alice = await list(api, { ownerId: "alice" });
    assert.deepEqual(alice.body.keys.map((k) => k.name).sort(), ["k0", "k1"]);
  });

  test("validation, permissions, unknown api", async () => {
    expectError(assert, await list(api, { limit: 0 }), 400, "BAD_REQUEST", "limit: Number must be greater than or equal to 1");
    expectError(assert, await list(api, { offset: -1 }), 400, "BAD_REQUEST", "offset: Number must be greater than or equal to 0");
    expectError(assert, await list("api_unknown"), 404, "NOT_FOUND", "api api_unknown not found");
    const readKey = await kg.rootKey(s.workspaceId, ["api.*.read_key"]);
    expectError(assert, await list(api, {}, readKey), 403, "INSUFFICIENT_PERMISSIONS");
    const both = await kg.rootKey(s.workspaceId, [`api.${api}.read_key`, `api.${api}.read_api`]);
    assert.equal((await list(api, {}, both)).status, 200);
    expectError(assert, await list(api, {}, null), 403, "UNAUTHORIZED", "key required");
    // the path must match exactly
    assert.equal((await kg.call(`/v1/apis/${api}/keys/extra`, { method: "GET", rootKey: s.rootKey })).status, 404);
    assert.equal((await kg.call("/v1/apis//keys", { method: "GET", rootKey: s.rootKey })).status, 404);
    // a known path with another method: 405 naming the allowed one
    const post = await kg.call(`/v1/apis/${api}/keys`, { method: "POST", body: {}, rootKey: s.rootKey });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET");
  });
});

test("/openapi.json documents the legacy routes, with apiId as a path parameter", async () => {
  const doc = (await kg.call("/openapi.json")).body;
  assert.ok(doc.paths["/v1/keys"].post.requestBody);
  assert.ok(doc.paths["/v1/keys/verify"].post.requestBody);
  const listOp = doc.paths["/v1/apis/{apiId}/keys"].get;
  assert.deepEqual(listOp.parameters.map((p) => [p.name, p.in, p.required]), [
    ["apiId", "path", true],
    ["limit", "query", false],
    ["offset", "query", false],
    ["ownerId", "query", false],
  ]);
  assert.deepEqual(listOp.security, [{ rootKey: [] }]);
  assert.deepEqual(doc.paths["/v1/keys/verify"].post.security, []);
  // its 404 is the verification body ({"valid":false,"code":"NOT_FOUND"}) or an error envelope
  const notFound = doc.paths["/v1/keys/verify"].post.responses["404"].content["application/json"].schema;
  assert.equal(notFound.anyOf.length, 2);
  assert.ok(notFound.anyOf[0].properties.valid);
  assert.deepEqual(notFound.anyOf[1], { $ref: "#/components/schemas/ErrorEnvelope" });
});

test("an alias path asked with another method is a 405 naming its method", async () => {
  for (const method of ["GET", "TRACE", "PUT"]) {
    const r = await kg.call("/v1/keys", { method, rootKey: s.rootKey });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get("allow"), "POST");
    assert.equal(r.body.error.code, "METHOD_NOT_ALLOWED");
  }
});
