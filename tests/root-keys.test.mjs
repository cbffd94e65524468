// Hardening item 5: the operator API lists, revokes and rotates root keys (decisions.md §4).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, ADMIN_TOKEN } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

const admin = (route, body, token = ADMIN_TOKEN) =>
  kg.call(`/v1/admin.${route}`, { method: "POST", body, headers: { Authorization: `Bearer ${token}` } });
/** A request only a working root key of the workspace can make. */
const createApi = (rootKey, name = "rk-api") => kg.post("apis.createApi", { name }, rootKey);
const audit = (event, keyId) =>
  kg.rows("SELECT l.event, l.workspace_id FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.event = ? AND t.id = ?", event, keyId);

describe("admin.listRootKeys", () => {
  test("lists the working root keys of a workspace, never the keys", async () => {
    const ws = await kg.workspace("listed");
    const a = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["api.*.create_api", "*"], name: "deploys" });
    const b = await kg.admin("createRootKey", { workspaceId: ws, permissions: [] });
    const other = await kg.workspace("other");
    await kg.admin("createRootKey", { workspaceId: other, permissions: ["*"] });

    const r = await admin("listRootKeys", { workspaceId: ws });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.rootKeys.map((k) => k.keyId), [a.keyId, b.keyId]);
    const [first, second] = r.body.rootKeys;
    assert.deepEqual(Object.keys(first).sort(), ["createdAt", "keyId", "name", "permissions", "start"]);
    assert.equal(first.name, "deploys");
    assert.deepEqual(first.permissions, ["*", "api.*.create_api"]);
    assert.equal(first.start, a.key.slice(0, 12));
    assert.ok(Math.abs(first.createdAt - Date.now()) < 60_000);
    assert.equal(second.name, undefined);
    assert.deepEqual(second.permissions, []);
    assert.ok(!r.text.includes(a.key) && !r.text.includes(b.key));
  });

  test("unknown workspaces, keygate's own, bad input and a wrong token", async () => {
    expectError(assert, await admin("listRootKeys", { workspaceId: "ws_nope" }), 404, "NOT_FOUND", "workspace ws_nope not found");
    expectError(assert, await admin("listRootKeys", { workspaceId: "ws_keygate" }), 404, "NOT_FOUND");
    expectError(assert, await admin("listRootKeys", {}), 400, "BAD_REQUEST", "workspaceId: Required");
    expectError(assert, await admin("listRootKeys", { workspaceId: "ws_x" }, "wrong"), 403, "UNAUTHORIZED", "invalid admin token");
    expectError(assert, await admin("revokeRootKey", { keyId: "key_x" }, "wrong"), 403, "UNAUTHORIZED");
    expectError(assert, await admin("rotateRootKey", { keyId: "key_x" }, "wrong"), 403, "UNAUTHORIZED");
  });
});

describe("admin.revokeRootKey", () => {
  test("the next request with the revoked key is refused like an unknown key; others keep working", async () => {
    const ws = await kg.workspace("revoked");
    const doomed = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["*"] });
    const kept = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["*"] });
    assert.equal((await createApi(doomed.key)).status, 200);

    const r = await admin("revokeRootKey", { keyId: doomed.keyId });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    expectError(assert, await createApi(doomed.key), 403, "UNAUTHORIZED", "key not found");
    assert.equal((await createApi(kept.key)).status, 200);
    const listed = (await admin("listRootKeys", { workspaceId: ws })).body.rootKeys.map((k) => k.keyId);
    assert.deepEqual(listed, [kept.keyId]);
    assert.deepEqual(await audit("rootKey.delete", doomed.keyId), [{ event: "rootKey.delete", workspace_id: ws }]);

    // revoking again, or a key that is not a root key, is a 404
    expectError(assert, await admin("revokeRootKey", { keyId: doomed.keyId }), 404, "NOT_FOUND", `root key ${doomed.keyId} not found`);
    const api = await createApi(kept.key, "plain-keys");
    const plain = await kg.post("keys.createKey", { apiId: api.body.apiId }, kept.key);
    expectError(assert, await admin("revokeRootKey", { keyId: plain.body.keyId }), 404, "NOT_FOUND");
    assert.equal((await kg.post("keys.verifyKey", { key: plain.body.key })).body.code, "VALID");
  });
});

describe("admin.rotateRootKey", () => {
  test("without a grace period the old key stops at once; the new one has the same name and rights", async () => {
    const ws = await kg.workspace("rotated");
    const old = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["api.*.create_api", "api.*.read_api"], name: "ci" });
    const r = await admin("rotateRootKey", { keyId: old.keyId });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.key, /^keygate_/);
    assert.notEqual(r.body.keyId, old.keyId);
    expectError(assert, await createApi(old.key), 403, "UNAUTHORIZED", "key not found");
    const api = await createApi(r.body.key);
    assert.equal(api.status, 200, api.text);
    // same rights: no more than before
    expectError(assert, await kg.post("keys.createKey", { apiId: api.body.apiId }, r.body.key), 403, "INSUFFICIENT_PERMISSIONS");
    const listed = (await admin("listRootKeys", { workspaceId: ws })).body.rootKeys;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].keyId, r.body.keyId);
    assert.equal(listed[0].name, "ci");
    assert.deepEqual(listed[0].permissions, ["api.*.create_api", "api.*.read_api"]);
    assert.equal((await audit("rootKey.rotate", old.keyId))[0].workspace_id, ws);
    expectError(assert, await admin("rotateRootKey", { keyId: old.keyId }), 404, "NOT_FOUND");
  });

  test("with a grace period both keys work until it ends; then only the new one", async () => {
    const ws = await kg.workspace("graceful");
    const old = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["*"] });
    const now = Date.now();
    const r = await admin("rotateRootKey", { keyId: old.keyId, gracePeriodMs: 60_000 });
    assert.equal(r.status, 200, r.text);
    const at = (t) => ({ "X-Test-Now": String(t) });
    const call = (key, t) => kg.post("apis.createApi", { name: "grace-api" }, key, at(t));
    assert.equal((await call(old.key, now + 30_000)).status, 200);
    assert.equal((await call(r.body.key, now + 30_000)).status, 200);
    const listed = (await admin("listRootKeys", { workspaceId: ws })).body.rootKeys;
    assert.deepEqual(listed.map((k) => k.keyId), [old.keyId, r.body.keyId]);
    assert.ok(listed[0].expires >= now + 60_000 && listed[0].expires < now + 70_000, `expires ${listed[0].expires}`);
    expectError(assert, await call(old.key, now + 120_000), 403, "EXPIRED");
    assert.equal((await call(r.body.key, now + 120_000)).status, 200);
  });

  test("bad input", async () => {
    expectError(assert, await admin("rotateRootKey", { keyId: "key_x", gracePeriodMs: -1 }), 400, "BAD_REQUEST", "gracePeriodMs: Number must be greater than or equal to 0");
    expectError(assert, await admin("rotateRootKey", { keyId: "key_x", gracePeriodMs: 31 * 24 * 3600 * 1000 }), 400, "BAD_REQUEST", "gracePeriodMs: Number must be less than or equal to 2592000000");
    expectError(assert, await admin("rotateRootKey", { keyId: "key_nope" }), 404, "NOT_FOUND", "root key key_nope not found");
  });
});
