// Audit logs (issue 8): every mutating route writes its rows with the acting root key (or the
// operator), the caller's IP and user agent; audit.listLogs reads them newest first with filters
// and cursor paging; the cron writes one `system` event per run.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, ADMIN_TOKEN } from "./helpers.mjs";

const IP = "203.0.113.7";
const UA = "keygate-audit-test/1.0";
const FROM = { "CF-Connecting-IP": IP, "User-Agent": UA };

let kg, workspaceId, root, rootKeyId;

before(async () => {
  kg = await startKeygate();
  workspaceId = await kg.workspace("audited");
  const created = await kg.admin("createRootKey", { workspaceId, permissions: ["*"], name: "auditor" });
  root = created.key;
  rootKeyId = created.keyId;
});
after(async () => {
  await kg?.stop();
});

async function post(route, body, path = `/v1/${route}`) {
  const r = await kg.call(path, { method: "POST", body, rootKey: root, headers: FROM });
  assert.equal(r.status, 200, `${route}: ${r.text}`);
  return r.body;
}

async function listLogs(query, rootKey = root) {
  const r = await kg.get("audit.listLogs", query, rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** The logs of `event` naming `resourceId`, each checked for actor, IP and user agent. */
async function expectLogged(event, resourceId, actor = { type: "key", id: rootKeyId, name: "auditor" }) {
  const { logs } = await listLogs({ event, resourceId });
  assert.ok(logs.length >= 1, `${event} ${resourceId}: no audit log`);
  for (const log of logs) {
    assert.equal(log.event, event);
    assert.match(log.id, /^log_/);
    assert.deepEqual(log.actor, actor, `${event}: actor`);
    assert.equal(log.location, IP, `${event}: location`);
    assert.equal(log.userAgent, UA, `${event}: user agent`);
    assert.ok(log.resources.some((r) => r.id === resourceId), `${event}: resources ${JSON.stringify(log.resources)}`);
    assert.equal(typeof log.time, "number");
    assert.equal(typeof log.description, "string");
  }
  return logs;
}

describe("audit rows of every mutating route", () => {
  test("root-key routes: the acting root key, the remote IP and the user agent", async () => {
    const { apiId } = await post("apis.createApi", { name: "audit-api" });
    await expectLogged("api.create", apiId);

    const { keyId } = await post("keys.createKey", { apiId, name: "k1", remaining: 10 });
    await expectLogged("key.create", keyId);
    const legacy = await post("keys", { apiId }, "/v1/keys");
    await expectLogged("key.create", legacy.keyId);
    await post("keys.updateKey", { keyId, name: "k1b" });
    await post("keys.updateRemaining", { keyId, op: "increment", value: 5 });
    const updates = await expectLogged("key.update", keyId);
    assert.equal(updates.length, 2);
    assert.ok(updates.some((l) => l.description === "Changed remaining to 15"), JSON.stringify(updates));

    const { permissionId } = await post("permissions.createPermission", { name: "p.read" });
    await expectLogged("permission.create", permissionId);
    await post("keys.addPermissions", { keyId, permissions: [{ id: permissionId }] });
    await post("keys.removePermissions", { keyId, permissions: [{ id: permissionId }] });
    await post("keys.setPermissions", { keyId, permissions: [{ id: permissionId }] });
    assert.equal((await expectLogged("authorization.connect_permission_and_key", keyId)).length, 2);
    await expectLogged("authorization.disconnect_permission_and_key", keyId);

    const { roleId } = await post("permissions.createRole", { name: "role1" });
    await expectLogged("role.create", roleId);
    await post("keys.addRoles", { keyId, roles: [{ id: roleId }] });
    await post("keys.removeRoles", { keyId, roles: [{ id: roleId }] });
    await post("keys.setRoles", { keyId, roles: [{ id: roleId }] });
    assert.equal((await expectLogged("authorization.connect_role_and_key", keyId)).length, 2);
    await expectLogged("authorization.disconnect_role_and_key", keyId);

    const migrated = await post("migrations.createKeys", [{ apiId, plaintext: "migrated_0123456789abcdef" }]);
    await expectLogged("key.create", migrated.keyIds[0]);

    const { identityId } = await post("identities.createIdentity", { externalId: "user_a", ratelimits: [{ name: "rl", limit: 1, duration: 1000 }] });
    await expectLogged("identity.create", identityId);
    await expectLogged("ratelimit.create", identityId);
    await post("identities.updateIdentity", { identityId, meta: { plan: "pro" } });
    await expectLogged("identity.update", identityId);
    await post("identities.deleteIdentity", { identityId });
    await expectLogged("identity.delete", identityId);

    await post("ratelimits.limit", { namespace: "audit-ns", identifier: "abc", limit: 10, duration: 60_000 });
    const ns = await listLogs({ event: "ratelimitNamespace.create" });
    assert.equal(ns.logs.length, 1);
    assert.equal(ns.logs[0].resources[0].name, "audit-ns");
    await expectLogged("ratelimitNamespace.create", ns.logs[0].resources[0].id);
    const { overrideId } = await post("ratelimits.setOverride", { namespaceName: "audit-ns", identifier: "abc", limit: 5, duration: 60_000 });
    await expectLogged("ratelimit.set_override", overrideId);
    await post("ratelimits.deleteOverride", { namespaceName: "audit-ns", identifier: "abc" });
    await expectLogged("ratelimit.delete_override", overrideId);

    await post("permissions.deletePermission", { permissionId });
    await expectLogged("permission.delete", permissionId);
    await post("permissions.deleteRole", { roleId });
    await expectLogged("role.delete", roleId);
    await post("keys.deleteKey", { keyId });
    await expectLogged("key.delete", keyId);
    await post("apis.deleteKeys", { apiId });
    await expectLogged("key.delete", apiId);
    await post("apis.deleteApi", { apiId });
    await expectLogged("api.delete", apiId);
  });

  test("the operator API: actor admin, with IP and user agent", async () => {
    const admin = async (route, body) => {
      const r = await kg.call(`/v1/admin.${route}`, { method: "POST", body, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...FROM } });
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const actor = { type: "admin", id: "admin" };
    const ws = (await admin("createWorkspace", { name: "operated" })).workspaceId;
    const { keyId, key } = await admin("createRootKey", { workspaceId: ws, permissions: ["*"] });
    await admin("updateWorkspace", { workspaceId: ws, enabled: true });
    const api = await kg.post("apis.createApi", { name: "op-api" }, key);
    await admin("updateApi", { apiId: api.body.apiId, deleteProtection: true });
    // the operator's events are in the workspace they change, readable by its root keys
    const read = async (event, resourceId) => {
      const r = await kg.get("audit.listLogs", { event, resourceId }, key);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.logs.length, 1, `${event}: ${r.text}`);
      const [log] = r.body.logs;
      assert.deepEqual([log.actor, log.location, log.userAgent], [actor, IP, UA]);
      return log;
    };
    await read("workspace.create", ws);
    await read("rootKey.create", keyId);
    assert.equal((await read("workspace.update", ws)).description, "enabled the workspace");
    await read("api.update", api.body.apiId);
  });

  test("a refused change writes nothing", async () => {
    const before = (await listLogs({ limit: 100 })).logs.length;
    expectError(assert, await kg.post("keys.createKey", { apiId: "api_unknown" }, root, FROM), 404, "NOT_FOUND");
    expectError(assert, await kg.post("apis.createApi", { name: "x" }, root, FROM), 400, "BAD_REQUEST");
    assert.equal((await listLogs({ limit: 100 })).logs.length, before);
  });
});

describe("audit.listLogs", () => {
  let ws, rootKey, actorId;
  const T = Date.UTC(2026, 2, 1, 12);
  before(async () => {
    ws = await kg.workspace("paged");
    const created = await kg.admin("createRootKey", { workspaceId: ws, permissions: ["*"] });
    rootKey = created.key;
    actorId = created.keyId;
    // 7 apis created one minute apart (test clock), so the order is known
    for (let i = 0; i < 7; i++) {
      const r = await kg.post("apis.createApi", { name: `api-${i}` }, rootKey, { "X-Test-Now": String(T + i * 60_000) });
      assert.equal(r.status, 200, r.text);
    }
  });

  test("newest first, cursor paging without gaps or repeats", async () => {
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = await listLogs({ event: "api.create", limit: 3, cursor }, rootKey);
      seen.push(...page.logs);
      cursor = page.cursor;
      pages++;
      if (cursor) assert.equal(page.logs.length, 3);
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen.map((l) => l.resources.find((r) => r.type === "api").name), ["api-6", "api-5", "api-4", "api-3", "api-2", "api-1", "api-0"]);
    assert.deepEqual(seen.map((l) => l.time), [6, 5, 4, 3, 2, 1, 0].map((i) => T + i * 60_000));
    assert.equal(new Set(seen.map((l) => l.id)).size, 7);
    // every api.create names the api and its keyspace
    assert.deepEqual(seen[0].resources.map((r) => r.type), ["api", "keyAuth"]);
  });

  test("filters: time range, actor, event; only the caller's workspace", async () => {
    const range = await listLogs({ start: T + 2 * 60_000, end: T + 4 * 60_000 }, rootKey);
    assert.deepEqual(range.logs.map((l) => l.time), [T + 3 * 60_000, T + 2 * 60_000]);
    assert.equal((await listLogs({ actorId }, rootKey)).logs.length, 7);
    assert.equal((await listLogs({ actorId: "someone_else" }, rootKey)).logs.length, 0);
    // the operator created the root key: its event is there too, by actor "admin"
    const byAdmin = await listLogs({ actorId: "admin" }, rootKey);
    assert.deepEqual(byAdmin.logs.map((l) => l.event).sort(), ["rootKey.create", "workspace.create"]);
    // another workspace's logs are not visible
    const mine = await listLogs({ limit: 100 }, rootKey);
    assert.ok(mine.logs.every((l) => !l.resources.some((r) => r.name === "audit-api")));
    assert.equal((await listLogs({ event: "api.create" }, root)).logs.some((l) => l.resources.some((r) => r.name?.startsWith("api-"))), false);
  });

  test("validation, permissions", async () => {
    expectError(assert, await kg.get("audit.listLogs", { limit: 0 }, rootKey), 400, "BAD_REQUEST", "limit: Number must be greater than or equal to 1");
    expectError(assert, await kg.get("audit.listLogs", { limit: 101 }, rootKey), 400, "BAD_REQUEST", "limit: Number must be less than or equal to 100");
    expectError(assert, await kg.get("audit.listLogs", { start: "today" }, rootKey), 400, "BAD_REQUEST", "start: Expected number, received string");
    expectError(assert, await kg.get("audit.listLogs", { cursor: "garbage" }, rootKey), 400, "BAD_REQUEST", "cursor: not a cursor of audit.listLogs");
    const reader = await kg.rootKey(ws, ["audit.*.read_log"]);
    assert.equal((await kg.get("audit.listLogs", {}, reader)).status, 200);
    const other = await kg.rootKey(ws, ["api.*.read_api"]);
    expectError(assert, await kg.get("audit.listLogs", {}, other), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"audit.*.read_log"'], have: ['"api.*.read_api"']`);
    expectError(assert, await kg.get("audit.listLogs", {}), 403, "UNAUTHORIZED", "key required");
  });

  test("documented in /openapi.json", async () => {
    const op = (await kg.call("/openapi.json")).body.paths["/v1/audit.listLogs"].get;
    assert.deepEqual(op.parameters.map((p) => p.name), ["event", "actorId", "resourceId", "start", "end", "limit", "cursor"]);
    const log = op.responses["200"].content["application/json"].schema.properties.logs.items;
    assert.deepEqual(Object.keys(log.properties), ["id", "time", "event", "description", "actor", "location", "userAgent", "resources"]);
  });
});

describe("the cron", () => {
  const cronEvents = (event) =>
    kg.rows("SELECT event, display, actor_type, actor_id, time FROM audit_log WHERE workspace_id = 'ws_keygate' AND event = ? ORDER BY time, id", event);

  test("one system event per run naming how many balances it refilled", async () => {
    const s = await kg.setup();
    const due = await kg.post("keys.createKey", { apiId: s.apiId, remaining: 1, refill: { interval: "daily", amount: 50 } }, s.rootKey);
    const fresh = await kg.post("keys.createKey", { apiId: s.apiId, remaining: 1, refill: { interval: "daily", amount: 50 } }, s.rootKey);
    assert.equal(fresh.status, 200);
    const now = Date.now();
    const today = now - (now % 86_400_000);
    // the balance was last refilled yesterday (test-only D1 write)
    await kg.db.prepare("UPDATE credits SET refilled_at = ? WHERE key_id = ?").bind(today - 1000, due.body.keyId).run();
    const before = (await cronEvents("credits.refill")).length;
    const worker = await kg.mf.getWorker("keygate");
    await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(now) });
    await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(now + 1000) });
    const events = (await cronEvents("credits.refill")).slice(before);
    assert.deepEqual(
      events.map((e) => [e.actor_type, e.actor_id, e.display, e.time]),
      [
        ["system", "cron", "balances refilled: 1 (1 credits rows, 0 legacy keys)", now],
        ["system", "cron", "balances refilled: 0 (0 credits rows, 0 legacy keys)", now + 1000],
      ],
    );
    assert.equal((await kg.get("keys.getKey", { keyId: due.body.keyId }, s.rootKey)).body.remaining, 50);
  });
});
