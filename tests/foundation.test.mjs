import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, ADMIN_TOKEN, sha256 } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

describe("http conventions", () => {
  test("liveness", async () => {
    const r = await kg.call("/v1/liveness");
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "we're so back");
    assert.match(r.headers.get("unkey-request-id"), /^req_[1-9A-HJ-NP-Za-km-z]+$/);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
  });

  test("every answer carries the request id and CORS headers, whichever form the worker's entry builds it from", async () => {
    const common = (r, contentType) => {
      assert.equal(r.headers.get("content-type"), contentType, r.request);
      assert.match(r.headers.get("unkey-request-id"), /^req_[1-9A-HJ-NP-Za-km-z]+$/, r.request);
      assert.equal(r.headers.get("access-control-allow-origin"), "*", r.request);
      assert.equal(r.headers.get("access-control-expose-headers"), "Unkey-Request-Id, Idempotent-Replayed", r.request);
    };
    // JSON with only the common headers (the short form), a 200 and an error
    const live = await kg.call("/v1/liveness");
    common(live, "application/json");
    assert.equal(live.body.status, "we're so back");
    assert.equal(live.text, JSON.stringify(live.body));
    const bad = await kg.post("keys.verifyKey", { key: 5 });
    common(bad, "application/json");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.requestId, bad.headers.get("unkey-request-id"));
    // JSON with another header, and other content types (the listed form)
    const wrongMethod = await kg.call("/v1/liveness", { method: "POST" });
    common(wrongMethod, "application/json");
    assert.equal(wrongMethod.headers.get("allow"), "GET");
    assert.equal(wrongMethod.body.error.requestId, wrongMethod.headers.get("unkey-request-id"));
    const missing = await kg.call("/v1/nope");
    common(missing, "text/plain;charset=UTF-8");
    assert.equal(missing.text, "404 Not Found");
    // ?pretty: the same headers, the body indented
    const pretty = await kg.call("/v1/liveness?pretty");
    common(pretty, "application/json");
    assert.equal(pretty.text, JSON.stringify(live.body, null, 2));
  });

  test("unknown routes are plain 404s with a request id", async () => {
    for (const [method, path] of [["GET", "/v1/nope"], ["POST", "/"]]) {
      const r = await kg.call(path, { method });
      assert.equal(r.status, 404, path);
      assert.equal(r.text, "404 Not Found");
      assert.match(r.headers.get("unkey-request-id"), /^req_/);
    }
  });

  test("a known path with another method is a 405 envelope naming the allowed method", async () => {
    for (const [method, path, allow] of [
      ["GET", "/v1/apis.createApi", "POST"],
      ["PUT", "/v1/keys.verifyKey", "POST"],
      ["DELETE", "/v1/apis.getApi", "GET"],
      ["POST", "/v1/liveness", "GET"],
    ]) {
      const r = await kg.call(path, { method });
      expectError(assert, r, 405, "METHOD_NOT_ALLOWED", `method not allowed, use ${allow}`);
      assert.equal(r.headers.get("allow"), allow, path);
      assert.equal(r.headers.get("content-type"), "application/json");
    }
  });

  test("CORS preflight", async () => {
    const r = await kg.call("/v1/keys.verifyKey", { method: "OPTIONS", headers: { "Access-Control-Request-Headers": "content-type" } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    assert.match(r.headers.get("access-control-allow-methods"), /POST/);
  });

  test("request ids are unique per request", async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) ids.add((await kg.call("/v1/liveness")).headers.get("unkey-request-id"));
    assert.equal(ids.size, 5);
  });

  test("openapi document describes the implemented routes", async () => {
    const r = await kg.call("/openapi.json");
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, "3.1.0");
    const create = r.body.paths["/v1/apis.createApi"].post;
    assert.equal(create.requestBody.content["application/json"].schema.properties.name.minLength, 3);
    assert.deepEqual(create.security, [{ rootKey: [] }]);
    const get = r.body.paths["/v1/apis.getApi"].get;
    assert.deepEqual(get.parameters.map((p) => p.name), ["apiId"]);
    assert.ok(r.body.paths["/v1/admin.createRootKey"].post);
  });
});

describe("operator API", () => {
  test("wrong or missing token is a 403 envelope", async () => {
    const wrong = await kg.call("/v1/admin.createWorkspace", { body: { name: "x" }, headers: { Authorization: "Bearer nope" } });
    expectError(assert, wrong, 403, "UNAUTHORIZED");
    const missing = await kg.call("/v1/admin.createWorkspace", { body: { name: "x" } });
    expectError(assert, missing, 403, "UNAUTHORIZED");
  });

  test("validation and not-found", async () => {
    const r = await kg.call("/v1/admin.createWorkspace", { body: { name: 5 }, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expectError(assert, r, 400, "BAD_REQUEST", "name: Expected string, received number");
    const nf = await kg.call("/v1/admin.createRootKey", { body: { workspaceId: "ws_nope", permissions: ["*"] }, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expectError(assert, nf, 404, "NOT_FOUND", "workspace ws_nope not found");
    const internal = await kg.call("/v1/admin.createRootKey", { body: { workspaceId: "ws_keygate", permissions: ["*"] }, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expectError(assert, internal, 404, "NOT_FOUND");
  });

  test("root keys are stored as hashes only", async () => {
    const ws = await kg.workspace("hashes");
    const { keyId, key } = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["*", "api.*.read_api"], name: "ops" });
    assert.match(key, /^keygate_/);
    const row = await kg.row("SELECT hash, start, for_workspace_id, name FROM keys WHERE id = ?", keyId);
    assert.equal(row.for_workspace_id, ws);
    assert.equal(row.name, "ops");
    assert.equal(row.start, key.slice(0, 12));
    assert.equal(row.hash, sha256(key));
    const all = JSON.stringify(await kg.rows("SELECT * FROM keys"));
    assert.ok(!all.includes(key), "the plaintext root key is not stored");
    const perms = await kg.rows("SELECT p.slug FROM keys_permissions kp JOIN permissions p ON p.id = kp.permission_id WHERE kp.key_id = ? ORDER BY p.slug", keyId);
    assert.deepEqual(perms.map((p) => p.slug), ["*", "api.*.read_api"]);
  });
});

test("operator API is 404 without ADMIN_TOKEN", async () => {
  const bare = await startKeygate({ adminToken: null });
  try {
    const r = await bare.call("/v1/admin.createWorkspace", { body: { name: "x" }, headers: { Authorization: "Bearer anything" } });
    assert.equal(r.status, 404);
    assert.equal(await bare.row("SELECT COUNT(*) AS n FROM workspaces WHERE name = 'x'").then((r) => r.n), 0);
  } finally {
    await bare.stop();
  }
});
