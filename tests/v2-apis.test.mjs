// v2 apis.* (createApi, getApi, listKeys, deleteApi), liveness, analytics.getVerifications and the
// v2 wire conventions (envelope, statuses, unknown fields, 405, OpenAPI document), through the
// stock @unkey/api 2.5.1 SDK and raw HTTP.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate } from "./helpers.mjs";
import { sdk, v2, expectV2Error, sdkError, errors, workspaceV2 } from "./v2-helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

describe("v2 conventions", () => {
  test("liveness", async () => {
    const r = await kg.call("/v2/liveness");
    assert.equal(r.status, 200);
    assert.match(r.body.meta.requestId, /^req_/);
    assert.deepEqual(r.body.data, { message: "we're cooking" });
  });

  test("authorization: missing is 400, malformed is 400, unknown key is 401 (typed SDK errors)", async () => {
    let r = await v2(kg, "apis.createApi", { name: "nope" });
    expectV2Error(assert, r, 400, "unkey/authentication/missing");
    assert.deepEqual(r.body.error.errors, []);
    r = await v2(kg, "apis.createApi", { name: "nope" }, undefined, { Authorization: "Basic abc" });
    expectV2Error(assert, r, 400, "unkey/authentication/malformed");
    r = await v2(kg, "apis.createApi", { name: "nope" }, undefined, { Authorization: "Bearer " });
    expectV2Error(assert, r, 400, "unkey/authentication/malformed");
    r = await v2(kg, "apis.createApi", { name: "nope" }, "unknown_root_key");
    expectV2Error(assert, r, 401, "unkey/authentication/key_not_found");
    await sdkError(assert, sdk(kg, "unknown_root_key").apis.createApi({ name: "nope" }), errors.UnauthorizedErrorResponse, 401);
  });

  test("a key that is not a root key is 401; a disabled workspace is 403", async () => {
    const { admin, apiId, workspaceId } = await workspaceV2(kg);
    const { data } = await sdk(kg, admin).keys.createKey({ apiId });
    await sdkError(assert, sdk(kg, data.key).apis.getApi({ apiId }), errors.UnauthorizedErrorResponse, 401, "unkey/authentication/key_not_found");
    await kg.admin("updateWorkspace", { workspaceId, enabled: false });
    await sdkError(assert, sdk(kg, admin).apis.getApi({ apiId }), errors.ForbiddenErrorResponse, 403, "unkey/authorization/workspace_disabled");
  });

  test("validation comes before authentication; unknown fields are refused", async () => {
    let r = await v2(kg, "apis.createApi", { name: "ab" });
    const e = expectV2Error(assert, r, 400, "unkey/application/invalid_input");
    assert.equal(e.errors[0].location, "body.name");
    assert.match(e.errors[0].message, /at least 3/);
    assert.match(r.headers.get("content-type"), /^application\/json/);
    const { admin } = await workspaceV2(kg);
    r = await v2(kg, "apis.createApi", { name: "valid name", extra: true }, admin);
    const x = expectV2Error(assert, r, 400, "unkey/application/invalid_input", /Unrecognized key\(s\) in object: 'extra'/);
    assert.equal(x.errors[0].location, "body");
    r = await kg.call("/v2/apis.createApi", { method: "POST", raw: "{not json", rootKey: admin });
    expectV2Error(assert, r, 400, "unkey/application/invalid_input", /Malformed JSON/);
    // nothing was created by the refused calls
    const before = await kg.rows("SELECT id FROM apis WHERE name = 'valid name'");
    assert.equal(before.length, 0);
    await sdkError(assert, sdk(kg, admin).apis.getApi({ apiId: "api_x" }), errors.BadRequestErrorResponse, 400);
  });

  test("wrong method is a plain 405, unknown path a plain 404", async () => {
    let r = await kg.call("/v2/apis.getApi", { method: "GET" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "POST");
    r = await kg.call("/v2/apis.nothing", { method: "POST", body: {} });
    assert.equal(r.status, 404);
    assert.equal(r.body, undefined);
  });

  test("errors are application/problem+json when asked for", async () => {
    const r = await v2(kg, "apis.getApi", { apiId: "api_00000000" }, "unknown", { Accept: "application/problem+json" });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("content-type"), "application/problem+json");
  });

  test("the OpenAPI document lists every v2 route with strict request schemas", async () => {
    const r = await kg.call("/v2/openapi.json");
    assert.equal(r.status, 200);
    const paths = Object.keys(r.body.paths);
    assert.equal(paths.length, 41, paths.join(" "));
    const create = r.body.paths["/v2/keys.createKey"].post;
    const schema = create.requestBody.content["application/json"].schema;
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(create.security, [{ rootKey: [] }]);
    assert.ok(create.responses["200"].content["application/json"].schema.properties.meta);
    assert.deepEqual(r.body.paths["/v2/liveness"].get.security, []);
  });
});

describe("apis.*", () => {
  test("createApi, getApi, deleteApi", async () => {
    const { admin } = await workspaceV2(kg);
    const unkey = sdk(kg, admin);
    const created = await unkey.apis.createApi({ name: "payments" });
    assert.match(created.meta.requestId, /^req_/);
    assert.match(created.data.apiId, /^api_/);
    const got = await unkey.apis.getApi({ apiId: created.data.apiId });
    assert.deepEqual(got.data, { id: created.data.apiId, name: "payments" });
    const deleted = await unkey.apis.deleteApi({ apiId: created.data.apiId });
    assert.deepEqual(deleted.data, {});
    await sdkError(assert, unkey.apis.getApi({ apiId: created.data.apiId }), errors.NotFoundErrorResponse, 404, "unkey/data/api_not_found");
    await sdkError(assert, unkey.apis.deleteApi({ apiId: created.data.apiId }), errors.NotFoundErrorResponse, 404, "unkey/data/api_not_found");
  });

  test("an api of another workspace is not found; permissions are checked first", async () => {
    const a = await workspaceV2(kg);
    const b = await workspaceV2(kg);
    await sdkError(assert, sdk(kg, b.admin).apis.getApi({ apiId: a.apiId }), errors.NotFoundErrorResponse, 404);
    const reader = await kg.rootKey(a.workspaceId, [`api.${a.apiId}.read_api`]);
    assert.equal((await sdk(kg, reader).apis.getApi({ apiId: a.apiId })).data.id, a.apiId);
    // no right for this id: 403 even though it does not exist
    await sdkError(assert, sdk(kg, reader).apis.getApi({ apiId: "api_doesnotexist" }), errors.ForbiddenErrorResponse, 403, "unkey/authorization/insufficient_permissions");
    await sdkError(assert, sdk(kg, reader).apis.createApi({ name: "nope" }), errors.ForbiddenErrorResponse, 403);
    await sdkError(assert, sdk(kg, reader).apis.deleteApi({ apiId: a.apiId }), errors.ForbiddenErrorResponse, 403);
    assert.equal((await kg.row("SELECT deleted_at_m FROM apis WHERE id = ?", a.apiId)).deleted_at_m, null);
  });

  test("deleteApi with delete protection is 412 protected_resource", async () => {
    const { admin, apiId } = await workspaceV2(kg);
    await kg.admin("updateApi", { apiId, deleteProtection: true });
    await sdkError(assert, sdk(kg, admin).apis.deleteApi({ apiId }), errors.PreconditionFailedErrorResponse, 412, "unkey/application/protected_resource");
  });

  test("listKeys pages with cursor and hasMore, and filters by externalId", async () => {
    const { admin, apiId } = await workspaceV2(kg);
    const unkey = sdk(kg, admin);
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const { data } = await unkey.keys.createKey({ apiId, name: `k${i}`, externalId: i < 2 ? "alice" : undefined });
      ids.push(data.keyId);
    }
    ids.sort();
    const first = await unkey.apis.listKeys({ apiId, limit: 2 });
    assert.deepEqual(first.result.data.map((k) => k.keyId), ids.slice(0, 2));
    assert.deepEqual(first.result.pagination, { cursor: ids[2], hasMore: true });
    const seen = [];
    for await (const page of first) seen.push(...page.result.data.map((k) => k.keyId));
    assert.deepEqual(seen, ids);
    const last = await unkey.apis.listKeys({ apiId, limit: 2, cursor: ids[4] });
    assert.deepEqual(last.result.pagination, { hasMore: false });
    assert.equal(last.result.data.length, 1);
    const alice = await unkey.apis.listKeys({ apiId, externalId: "alice" });
    assert.equal(alice.result.data.length, 2);
    assert.ok(alice.result.data.every((k) => k.identity?.externalId === "alice"));
    const nobody = await unkey.apis.listKeys({ apiId, externalId: "nobody" });
    assert.deepEqual(nobody.result.data, []);
    // a shape the SDK accepted: createdAt, start, enabled
    const k = first.result.data[0];
    assert.equal(k.enabled, true);
    assert.equal(typeof k.createdAt, "number");
    assert.ok(k.start.length > 0);
  });

  test("listKeys: missing rights are masked as 404; decrypt needs decrypt_key", async () => {
    const { workspaceId, apiId } = await workspaceV2(kg);
    const weak = await kg.rootKey(workspaceId, [`api.${apiId}.read_key`]);
    await sdkError(assert, sdk(kg, weak).apis.listKeys({ apiId }), errors.NotFoundErrorResponse, 404, "unkey/data/api_not_found");
    const reader = await kg.rootKey(workspaceId, ["api.*.read_key", "api.*.read_api"]);
    assert.deepEqual((await sdk(kg, reader).apis.listKeys({ apiId })).result.data, []);
    await sdkError(assert, sdk(kg, reader).apis.listKeys({ apiId, decrypt: true }), errors.ForbiddenErrorResponse, 403);
  });
});

describe("analytics.getVerifications", () => {
  test("is not supported yet: 412 after authentication and rights", async () => {
    const { admin, workspaceId } = await workspaceV2(kg);
    let r = await v2(kg, "analytics.getVerifications", { query: "SELECT count(*) FROM key_verifications_v1" }, admin);
    expectV2Error(assert, r, 412, "unkey/application/precondition_failed", /not supported by keygate yet/);
    const none = await kg.rootKey(workspaceId, ["api.*.read_key"]);
    await sdkError(assert, sdk(kg, none).analytics.getVerifications({ query: "SELECT 1" }), errors.ForbiddenErrorResponse, 403);
    const err = await sdkError(assert, sdk(kg, admin).analytics.getVerifications({ query: "SELECT 1" }), errors.APIError, 412);
    assert.match(err.body, /not supported/);
    r = await v2(kg, "analytics.getVerifications", { query: "SELECT 1" });
    expectV2Error(assert, r, 400, "unkey/authentication/missing");
  });
});
