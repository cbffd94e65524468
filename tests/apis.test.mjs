import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, sha256 } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

describe("root-key authentication (common route tests)", () => {
  test("no Authorization header", async () => {
    expectError(assert, await kg.post("apis.createApi", { name: "nope" }), 403, "UNAUTHORIZED", "key required");
  });

  test("unknown key", async () => {
    expectError(assert, await kg.post("apis.createApi", { name: "nope" }, "INVALID_KEY"), 403, "UNAUTHORIZED", "key not found");
  });

  test("a raw key without 'Bearer ' works too", async () => {
    const r = await kg.call(`/v1/apis.getApi?apiId=${s.apiId}`, { headers: { Authorization: s.rootKey } });
    assert.equal(r.status, 200);
  });

  test("insufficient permissions names what is missing", async () => {
    const weak = await kg.rootKey(s.workspaceId, ["api.*.read_api"]);
    const r = await kg.post("apis.createApi", { name: "nope" }, weak);
    expectError(assert, r, 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"api.*.create_api"'], have: ['"api.*.read_api"']`);
    const none = await kg.rootKey(s.workspaceId, []);
    expectError(assert, await kg.get("apis.getApi", { apiId: s.apiId }, none), 403, "INSUFFICIENT_PERMISSIONS");
    // a permission for another api does not help
    const other = await kg.rootKey(s.workspaceId, ["api.api_other.read_api"]);
    expectError(assert, await kg.get("apis.getApi", { apiId: s.apiId }, other), 403, "INSUFFICIENT_PERMISSIONS");
    // nothing was created by the refused calls
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM apis WHERE name = 'nope'"), 0);
  });

  test("exact permission names: api.<id>.read_api and api.*.read_api", async () => {
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.read_api`]);
    assert.equal((await kg.get("apis.getApi", { apiId: s.apiId }, byId)).status, 200);
    const wildcard = await kg.rootKey(s.workspaceId, ["api.*.read_api"]);
    assert.equal((await kg.get("apis.getApi", { apiId: s.apiId }, wildcard)).status, 200);
  });

  test("disabled workspace", async () => {
    const ws = await kg.workspace("to-disable");
    const root = await kg.rootKey(ws);
    assert.equal((await kg.post("apis.createApi", { name: "before" }, root)).status, 200);
    await kg.admin("updateWorkspace", { workspaceId: ws, enabled: false });
    expectError(assert, await kg.post("apis.createApi", { name: "after" }, root), 403, "FORBIDDEN", "workspace is disabled");
    await kg.admin("updateWorkspace", { workspaceId: ws, enabled: true });
    assert.equal((await kg.post("apis.createApi", { name: "again" }, root)).status, 200);
  });

  test("a key that is not a root key", async () => {
    // a plain key of the workspace's api, inserted directly (keys.createKey comes later)
    const plain = "plain_notaroot";
    await kg.db.prepare("INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, created_at_m) SELECT 'key_plain', key_auth_id, ?, 'plain', workspace_id, 0 FROM apis WHERE id = ?")
      .bind(sha256(plain), s.apiId).run();
    expectError(assert, await kg.post("apis.createApi", { name: "nope" }, plain), 403, "INSUFFICIENT_PERMISSIONS");
    // even with a permission named "*" it is not a root key (a second plain key holding it: rows
    // written behind keygate's back are only seen once the verification cache lets go of a key)
    const star = "plain_star_notaroot";
    await kg.db.batch([
      kg.db.prepare("INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, created_at_m) SELECT 'key_plain_star', key_auth_id, ?, 'plain', workspace_id, 0 FROM apis WHERE id = ?")
        .bind(sha256(star), s.apiId),
      kg.db.prepare("INSERT INTO permissions (id, workspace_id, name, slug) VALUES ('perm_star', ?, '*', '*')").bind(s.workspaceId),
      kg.db.prepare("INSERT INTO keys_permissions (key_id, permission_id, workspace_id) VALUES ('key_plain_star', 'perm_star', ?)").bind(s.workspaceId),
    ]);
    expectError(assert, await kg.post("apis.createApi", { name: "nope" }, star), 403, "UNAUTHORIZED", "root key required");
  });
});

describe("apis.*", () => {
  test("create and get through the SDK", async () => {
    const unkey = kg.sdk(s.rootKey);
    const created = await unkey.apis.create({ name: "sdk-api" });
    assert.equal(created.error, undefined);
    assert.match(created.result.apiId, /^api_/);
    assert.equal(created.result.name, "sdk-api");
    const got = await unkey.apis.get({ apiId: created.result.apiId });
    assert.deepEqual(got.result, { id: created.result.apiId, workspaceId: s.workspaceId, name: "sdk-api" });
    const ks = await kg.row("SELECT ka.workspace_id FROM apis a JOIN key_auth ka ON ka.id = a.key_auth_id WHERE a.id = ?", created.result.apiId);
    assert.equal(ks.workspace_id, s.workspaceId);
    const audit = await kg.row("SELECT event, actor_type FROM audit_log WHERE workspace_id = ? AND event = 'api.create' ORDER BY time DESC LIMIT 1", s.workspaceId);
    assert.deepEqual(audit, { event: "api.create", actor_type: "key" });
  });

  test("validation failures name the field and write nothing", async () => {
    const before = await kg.count("SELECT COUNT(*) AS n FROM apis");
    expectError(assert, await kg.post("apis.createApi", { name: "ab" }, s.rootKey), 400, "BAD_REQUEST", "name: String must contain at least 3 character(s)");
    expectError(assert, await kg.post("apis.createApi", { name: 42 }, s.rootKey), 400, "BAD_REQUEST", "name: Expected string, received number");
    expectError(assert, await kg.post("apis.createApi", {}, s.rootKey), 400, "BAD_REQUEST", "name: Required");
    const malformed = await kg.call("/v1/apis.createApi", { method: "POST", raw: "{not json", rootKey: s.rootKey, headers: { "Content-Type": "application/json" } });
    expectError(assert, malformed, 400, "BAD_REQUEST", "Malformed JSON in request body");
    expectError(assert, await kg.get("apis.getApi", {}, s.rootKey), 400, "BAD_REQUEST", "apiId: Required");
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM apis"), before);
  });

  test("unknown and cross-workspace apis are 404", async () => {
    expectError(assert, await kg.get("apis.getApi", { apiId: "api_nope" }, s.rootKey), 404, "NOT_FOUND", "api api_nope not found");
    const other = await kg.setup();
    expectError(assert, await kg.get("apis.getApi", { apiId: other.apiId }, s.rootKey), 404, "NOT_FOUND", `api ${other.apiId} not found`);
    expectError(assert, await kg.post("apis.deleteApi", { apiId: other.apiId }, s.rootKey), 404, "NOT_FOUND");
    expectError(assert, await kg.post("apis.deleteKeys", { apiId: other.apiId }, s.rootKey), 404, "NOT_FOUND");
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM apis WHERE id = ? AND deleted_at_m IS NULL", other.apiId), 1);
  });

  test("deleteApi soft-deletes the api and its keys", async () => {
    const unkey = kg.sdk(s.rootKey);
    const { result } = await unkey.apis.create({ name: "doomed" });
    await kg.db.prepare("INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, created_at_m) SELECT 'key_doomed', key_auth_id, 'h_doomed', 'x', workspace_id, 0 FROM apis WHERE id = ?").bind(result.apiId).run();
    const del = await unkey.apis.delete({ apiId: result.apiId });
    assert.deepEqual(del, { result: {} });
    assert.ok((await kg.row("SELECT deleted_at_m FROM apis WHERE id = ?", result.apiId)).deleted_at_m > 0);
    assert.ok((await kg.row("SELECT deleted_at_m FROM keys WHERE id = 'key_doomed'")).deleted_at_m > 0);
    expectError(assert, await kg.get("apis.getApi", { apiId: result.apiId }, s.rootKey), 404, "NOT_FOUND");
    expectError(assert, await kg.post("apis.deleteApi", { apiId: result.apiId }, s.rootKey), 404, "NOT_FOUND");
  });

  test("delete protection is a 412", async () => {
    const { result } = await kg.sdk(s.rootKey).apis.create({ name: "protected" });
    await kg.admin("updateApi", { apiId: result.apiId, deleteProtection: true });
    expectError(assert, await kg.post("apis.deleteApi", { apiId: result.apiId }, s.rootKey), 412, "DELETE_PROTECTED", `api ${result.apiId} is protected from deletions`);
    expectError(assert, await kg.post("apis.deleteKeys", { apiId: result.apiId }, s.rootKey), 412, "DELETE_PROTECTED");
    assert.equal((await kg.row("SELECT deleted_at_m FROM apis WHERE id = ?", result.apiId)).deleted_at_m, null);
    await kg.admin("updateApi", { apiId: result.apiId, deleteProtection: false });
    assert.equal((await kg.post("apis.deleteApi", { apiId: result.apiId }, s.rootKey)).status, 200);
  });

  test("deleteKeys soft and permanent", async () => {
    const { result } = await kg.sdk(s.rootKey).apis.create({ name: "bulk" });
    for (const i of [1, 2, 3]) {
      await kg.db.prepare("INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, created_at_m) SELECT ?, key_auth_id, ?, 'x', workspace_id, 0 FROM apis WHERE id = ?").bind(`key_bulk${i}`, `h_bulk${i}`, result.apiId).run();
    }
    await kg.db.prepare("INSERT INTO credits (id, workspace_id, key_id, remaining) VALUES ('cr_bulk1', ?, 'key_bulk1', 5)").bind(s.workspaceId).run();
    const soft = await kg.post("apis.deleteKeys", { apiId: result.apiId }, s.rootKey);
    assert.deepEqual(soft.body, { deletedKeys: 3 });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys WHERE id LIKE 'key_bulk%' AND deleted_at_m IS NOT NULL"), 3);
    const again = await kg.post("apis.deleteKeys", { apiId: result.apiId }, s.rootKey);
    assert.deepEqual(again.body, { deletedKeys: 0 });
    const hard = await kg.post("apis.deleteKeys", { apiId: result.apiId, permanent: true }, s.rootKey);
    assert.deepEqual(hard.body, { deletedKeys: 3 });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys WHERE id LIKE 'key_bulk%'"), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM credits WHERE id = 'cr_bulk1'"), 0);
  });

  test("admin.updateApi settings are stored", async () => {
    const { result } = await kg.sdk(s.rootKey).apis.create({ name: "settings" });
    await kg.admin("updateApi", { apiId: result.apiId, ipWhitelist: " 1.1.1.1, 2.2.2.2 ", defaultPrefix: "pre", defaultBytes: 32, storeEncryptedKeys: true });
    const row = await kg.row("SELECT a.ip_whitelist, ka.default_prefix, ka.default_bytes, ka.store_encrypted_keys FROM apis a JOIN key_auth ka ON ka.id = a.key_auth_id WHERE a.id = ?", result.apiId);
    assert.deepEqual(row, { ip_whitelist: "1.1.1.1,2.2.2.2", default_prefix: "pre", default_bytes: 32, store_encrypted_keys: 1 });
    await kg.admin("updateApi", { apiId: result.apiId, ipWhitelist: null, defaultPrefix: null, defaultBytes: null });
    const cleared = await kg.row("SELECT a.ip_whitelist, ka.default_prefix, ka.default_bytes FROM apis a JOIN key_auth ka ON ka.id = a.key_auth_id WHERE a.id = ?", result.apiId);
    assert.deepEqual(cleared, { ip_whitelist: null, default_prefix: null, default_bytes: 16 });
  });
});
