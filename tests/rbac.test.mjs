// Integration tests of a key's roles and permissions: keys.addPermissions, keys.removePermissions,
// keys.setPermissions, keys.addRoles, keys.removeRoles, keys.setRoles, the `roles` /
// `permissions` fields of keys.updateKey and keys.createKey, and their effect on keys.verifyKey
// (`authorization.permissions`) and keys.getKey (`roles` = role names, `permissions` = permission
// names, direct ∪ via roles).
// Contract: shared/spec/v1-api.md §1.11, §2.3 rows 10–15, §2.5 "#10–15 Key permission/role
// routes", §3.2 step 8; shared/spec/decisions.md. keygate fixes three upstream quirks
// (src/routes/keys/rbac.rs): remove* uses every element of the request, roles created by addRoles
// get `role_` ids, and role creation accepts `rbac.*.create_role` as well as
// `rbac.*.create_permission`.
//
// Permission and role identifiers need 3+ characters (permissions.createPermission /
// createRole), so the §3.2 example's p1..p6 / r1, r2 are spelled `p.1`..`p.6` / `role.r1`, `role.r2`.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

// ---- helpers ----------------------------------------------------------------------------------

const count = async (sql, ...args) => (await kg.row(sql, ...args)).n;
const sorted = (list) => [...list].sort();
const byId = (list) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** A fresh workspace with a `*` root key and an api: {workspaceId, rootKey, adminRootKey, apiId}. */
const fresh = () => kg.setup();

/** A call that must answer 200; returns the body. */
async function ok(route, body, rootKey) {
  const r = await kg.post(route, body, rootKey);
  assert.equal(r.status, 200, `${route} ${JSON.stringify(body)}: ${r.text}`);
  return r.body;
}

async function createPermission(ctx, name, slug) {
  const body = slug === undefined ? { name } : { name, slug };
  return (await ok("permissions.createPermission", body, ctx.rootKey)).permissionId;
}

/** permissions.createRole with keygate's `permissions` extension (slugs of existing permissions). */
async function createRole(ctx, name, permissions) {
  const body = permissions === undefined ? { name } : { name, permissions };
  return (await ok("permissions.createRole", body, ctx.rootKey)).roleId;
}

async function newKey(ctx, body = {}) {
  const r = await ok("keys.createKey", { apiId: ctx.apiId, ...body }, ctx.rootKey);
  assert.match(r.keyId, /^key_/);
  return r;
}

/** keys.verifyKey with a permission query (or none); must answer HTTP 200. */
async function verify(key, permissions) {
  const body = permissions === undefined ? { key } : { key, authorization: { permissions } };
  const r = await kg.post("keys.verifyKey", body);
  assert.equal(r.status, 200, `verifyKey: ${r.text}`);
  return r.body;
}

/** The verification code of `key` for the permission query. */
const codeOf = async (key, permissions) => (await verify(key, permissions)).code;

async function getKey(ctx, keyId) {
  const r = await kg.get("keys.getKey", { keyId }, ctx.rootKey);
  assert.equal(r.status, 200, `getKey: ${r.text}`);
  return r.body;
}

/** The key's direct links in D1: permission ids and role ids, sorted. */
async function linked(keyId) {
  const permissions = await kg.rows("SELECT permission_id AS id FROM keys_permissions WHERE key_id = ? ORDER BY permission_id", keyId);
  const roles = await kg.rows("SELECT role_id AS id FROM keys_roles WHERE key_id = ? ORDER BY role_id", keyId);
  return { permissions: permissions.map((r) => r.id), roles: roles.map((r) => r.id) };
}

/** Counts of everything these routes write in a workspace, to show a refused call wrote nothing. */
async function writes(workspaceId) {
  const n = (table) => count(`SELECT COUNT(*) AS n FROM ${table} WHERE workspace_id = ?`, workspaceId);
  return {
    permissions: await n("permissions"),
    roles: await n("roles"),
    keys_permissions: await n("keys_permissions"),
    keys_roles: await n("keys_roles"),
    roles_permissions: await n("roles_permissions"),
    audit_log: await n("audit_log"),
    keys: await n("keys"),
  };
}

/** The 403 message of a permission query; the root key's permissions are listed sorted. */
const missing = (wanted, have) =>
  `Missing one of these permissions: [${wanted.map((w) => `'"${w}"'`).join(", ")}], have: [${sorted(have).map((h) => `'"${h}"'`).join(", ")}]`;

// ---- every route through the SDK --------------------------------------------------------------

describe("through the SDK (@unkey/api 0.38.0)", () => {
  test("addPermissions, removePermissions, setPermissions", async () => {
    const ctx = await fresh();
    const unkey = kg.sdk(ctx.rootKey);
    // name ≠ slug: requests name permissions by slug, responses and getKey show names
    const read = await createPermission(ctx, "documents_reader", "docs.read");
    const write = await createPermission(ctx, "documents_writer", "docs.write");
    const admin = await createPermission(ctx, "documents_admin", "docs.admin");
    const { keyId, key } = await newKey(ctx);
    const auditBefore = await count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ? AND event = 'authorization.connect_permission_and_key'", ctx.workspaceId);

    const added = await unkey.keys.addPermissions({ keyId, permissions: [{ id: read }, { name: "docs.write" }] });
    assert.equal(added.error, undefined, JSON.stringify(added.error));
    assert.deepEqual(byId(added.result), byId([{ id: read, name: "documents_reader" }, { id: write, name: "documents_writer" }]));
    for (const item of added.result) assert.deepEqual(Object.keys(item).sort(), ["id", "name"]);
    assert.deepEqual(await linked(keyId), { permissions: sorted([read, write]), roles: [] });
    const got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.permissions), ["documents_reader", "documents_writer"]);
    assert.deepEqual(got.roles, []);
    const v = await verify(key, { and: ["docs.read", "docs.write"] });
    assert.equal(v.code, "VALID", JSON.stringify(v));
    assert.equal(v.valid, true);
    assert.deepEqual(sorted(v.permissions), ["docs.read", "docs.write"]);
    assert.equal(
      await count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ? AND event = 'authorization.connect_permission_and_key'", ctx.workspaceId),
      auditBefore + 1,
    );

    const removed = await unkey.keys.removePermissions({ keyId, permissions: [{ id: write }] });
    assert.deepEqual(removed, { result: {} });
    assert.deepEqual(await linked(keyId), { permissions: [read], roles: [] });
    assert.equal(await codeOf(key, "docs.write"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(
      await count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ? AND event = 'authorization.disconnect_permission_and_key'", ctx.workspaceId),
      1,
    );

    const set = await unkey.keys.setPermissions({ keyId, permissions: [{ slug: "docs.admin" }, { id: write }] });
    assert.equal(set.error, undefined, JSON.stringify(set.error));
    assert.deepEqual(byId(set.result), byId([{ id: admin, name: "documents_admin" }, { id: write, name: "documents_writer" }]));
    assert.deepEqual(await linked(keyId), { permissions: sorted([admin, write]), roles: [] });
    assert.deepEqual(sorted((await getKey(ctx, keyId)).permissions), ["documents_admin", "documents_writer"]);
    assert.equal(await codeOf(key, { and: ["docs.admin", "docs.write"] }), "VALID");
    assert.equal(await codeOf(key, "docs.read"), "INSUFFICIENT_PERMISSIONS");
  });

  test("addRoles, removeRoles, setRoles", async () => {
    const ctx = await fresh();
    const unkey = kg.sdk(ctx.rootKey);
    await createPermission(ctx, "billing.read");
    await createPermission(ctx, "billing.write");
    await createPermission(ctx, "users.manage");
    const viewer = await createRole(ctx, "billing viewer", ["billing.read"]);
    const editor = await createRole(ctx, "billing editor", ["billing.read", "billing.write"]);
    const admin = await createRole(ctx, "user admin", ["users.manage"]);
    const { keyId, key } = await newKey(ctx);

    const added = await unkey.keys.addRoles({ keyId, roles: [{ id: viewer }, { name: "user admin" }] });
    assert.equal(added.error, undefined, JSON.stringify(added.error));
    assert.deepEqual(byId(added.result), byId([{ id: viewer, name: "billing viewer" }, { id: admin, name: "user admin" }]));
    assert.deepEqual(await linked(keyId), { permissions: [], roles: sorted([viewer, admin]) });
    const got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["billing viewer", "user admin"]);
    assert.deepEqual(sorted(got.permissions), ["billing.read", "users.manage"]);
    const v = await verify(key, { and: ["billing.read", "users.manage"] });
    assert.equal(v.code, "VALID", JSON.stringify(v));
    assert.deepEqual(sorted(v.roles), ["billing viewer", "user admin"]);
    assert.deepEqual(sorted(v.permissions), ["billing.read", "users.manage"]);
    assert.equal(await codeOf(key, "billing.write"), "INSUFFICIENT_PERMISSIONS");

    const removed = await unkey.keys.removeRoles({ keyId, roles: [{ name: "user admin" }] });
    assert.deepEqual(removed, { result: {} });
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [viewer] });
    assert.equal(await codeOf(key, "users.manage"), "INSUFFICIENT_PERMISSIONS");

    const set = await unkey.keys.setRoles({ keyId, roles: [{ id: editor }] });
    assert.equal(set.error, undefined, JSON.stringify(set.error));
    assert.deepEqual(set.result, [{ id: editor, name: "billing editor" }]);
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [editor] });
    const after = await getKey(ctx, keyId);
    assert.deepEqual(after.roles, ["billing editor"]);
    assert.deepEqual(sorted(after.permissions), ["billing.read", "billing.write"]);
    assert.equal(await codeOf(key, { and: ["billing.read", "billing.write"] }), "VALID");
  });
});

// ---- §3.2 step 8 end to end through roles -----------------------------------------------------

describe("v1-api.md §3.2 step 8 example through roles", () => {
  const P = (n) => `p.${n}`;
  // and("p1", or("p2", "p6", and("p4", "p2")))
  const example = { and: [P(1), { or: [P(2), P(6), { and: [P(4), P(2)] }] }] };

  async function world() {
    const ctx = await fresh();
    const perms = {};
    for (let n = 1; n <= 6; n++) perms[n] = await createPermission(ctx, P(n));
    const r1 = await createRole(ctx, "role.r1", [P(1), P(2), P(3)]);
    const r2 = await createRole(ctx, "role.r2", [P(1), P(4), P(5)]);
    return { ctx, perms, r1, r2 };
  }

  test("roles r1{p1,p2,p3}, r2{p1,p4,p5} via addRoles: VALID; without r1: INSUFFICIENT_PERMISSIONS at once", async () => {
    const { ctx, perms, r1, r2 } = await world();
    // the roles hold what createRole was given
    const role1 = (await kg.get("permissions.getRole", { roleId: r1 }, ctx.rootKey)).body;
    assert.deepEqual(sorted(role1.permissions.map((p) => p.slug)), [P(1), P(2), P(3)]);
    const role2 = (await kg.get("permissions.getRole", { roleId: r2 }, ctx.rootKey)).body;
    assert.deepEqual(sorted(role2.permissions.map((p) => p.slug)), [P(1), P(4), P(5)]);

    const { keyId, key } = await newKey(ctx);
    // before any role: nothing
    assert.equal(await codeOf(key, example), "INSUFFICIENT_PERMISSIONS");
    const added = await kg.sdk(ctx.rootKey).keys.addRoles({ keyId, roles: [{ name: "role.r1" }, { id: r2 }] });
    assert.deepEqual(byId(added.result), byId([{ id: r1, name: "role.r1" }, { id: r2, name: "role.r2" }]));

    const v = await verify(key, example);
    assert.equal(v.code, "VALID", JSON.stringify(v));
    assert.equal(v.valid, true);
    assert.deepEqual(sorted(v.roles), ["role.r1", "role.r2"]);
    assert.deepEqual(sorted(v.permissions), [P(1), P(2), P(3), P(4), P(5)]);
    const got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["role.r1", "role.r2"]);
    assert.deepEqual(sorted(got.permissions), [P(1), P(2), P(3), P(4), P(5)]); // p1 once
    assert.deepEqual(await linked(keyId), { permissions: [], roles: sorted([r1, r2]) });

    // queries that must fail while the key has both roles
    for (const q of [
      P(6),
      { and: [P(1), P(6)] },
      { or: [P(6), "p.7"] },
      { and: [P(3), { or: [P(6), { and: [P(2), P(6)] }] }] },
      { and: [P(1), P(2), P(3), P(4), P(5), P(6)] },
      "p.1.", // exact membership: no prefix matching
      "P.1", // case-sensitive
    ]) {
      const denied = await verify(key, q);
      assert.equal(denied.code, "INSUFFICIENT_PERMISSIONS", `${JSON.stringify(q)}: ${JSON.stringify(denied)}`);
      assert.equal(denied.valid, false);
    }
    // and some that hold
    for (const q of [P(3), { and: [P(3), P(5)] }, { or: [P(6), { and: [P(4), P(2)] }] }]) {
      assert.equal(await codeOf(key, q), "VALID", JSON.stringify(q));
    }

    // r1 goes: p2 and p3 are gone at the very next verification; p1 stays through r2
    assert.deepEqual(await kg.sdk(ctx.rootKey).keys.removeRoles({ keyId, roles: [{ id: r1 }] }), { result: {} });
    const after = await verify(key, example);
    assert.equal(after.code, "INSUFFICIENT_PERMISSIONS", JSON.stringify(after));
    assert.equal(after.valid, false);
    assert.equal(await codeOf(key, P(2)), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await codeOf(key, P(3)), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await codeOf(key, { and: [P(1), P(4), P(5)] }), "VALID");
    assert.deepEqual(sorted((await verify(key)).permissions), [P(1), P(4), P(5)]);
    const gotAfter = await getKey(ctx, keyId);
    assert.deepEqual(gotAfter.roles, ["role.r2"]);
    assert.deepEqual(sorted(gotAfter.permissions), [P(1), P(4), P(5)]);

    // a direct p6 satisfies the or-branch again (direct ∪ via roles)
    await ok("keys.addPermissions", { keyId, permissions: [{ id: perms[6] }] }, ctx.rootKey);
    assert.equal(await codeOf(key, example), "VALID");
    assert.deepEqual(sorted((await getKey(ctx, keyId)).permissions), [P(1), P(4), P(5), P(6)]);
  });

  test("the same with roles given by createKey (SDK), then removeRoles", async () => {
    const { ctx, r1 } = await world();
    const created = await kg.sdk(ctx.rootKey).keys.create({ apiId: ctx.apiId, roles: ["role.r1", "role.r2"] });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const { keyId, key } = created.result;
    assert.equal(await codeOf(key, example), "VALID");
    assert.equal(await codeOf(key, { and: [P(2), P(6)] }), "INSUFFICIENT_PERMISSIONS");
    await ok("keys.removeRoles", { keyId, roles: [{ name: "role.r1" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, example), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.row("SELECT role_id FROM keys_roles WHERE key_id = ? AND role_id = ?", keyId, r1), null);
  });
});

// ---- changes are seen by the next verification ------------------------------------------------

describe("changes take effect on the next verification", () => {
  test("add / remove / set of permissions", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "feature.x");
    const y = await createPermission(ctx, "feature.y");
    const { keyId, key } = await newKey(ctx);
    // warm whatever a verification might cache
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");

    await ok("keys.addPermissions", { keyId, permissions: [{ name: "feature.x" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "feature.x"), "VALID");
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(key, "feature.x"), "VALID");

    await ok("keys.removePermissions", { keyId, permissions: [{ name: "feature.x" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");

    await ok("keys.setPermissions", { keyId, permissions: [{ id: y }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "feature.y"), "VALID");
    assert.equal(await codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");

    await ok("keys.setPermissions", { keyId, permissions: [{ name: "feature.x" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "feature.x"), "VALID");
    assert.equal(await codeOf(key, "feature.y"), "INSUFFICIENT_PERMISSIONS");

    // updateKey replaces them too
    await ok("keys.updateKey", { keyId, permissions: [{ name: "feature.y" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "feature.y"), "VALID");
    assert.equal(await codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");
  });

  test("add / remove / set of roles", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "report.read");
    await createPermission(ctx, "report.write");
    const reader = await createRole(ctx, "reporter", ["report.read"]);
    await createRole(ctx, "writer", ["report.write"]);
    const { keyId, key } = await newKey(ctx);
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(key, "report.read"), "INSUFFICIENT_PERMISSIONS");

    await ok("keys.addRoles", { keyId, roles: [{ id: reader }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "report.read"), "VALID");
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(key, "report.read"), "VALID");

    await ok("keys.removeRoles", { keyId, roles: [{ id: reader }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "report.read"), "INSUFFICIENT_PERMISSIONS");

    await ok("keys.setRoles", { keyId, roles: [{ name: "reporter" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "report.read"), "VALID");

    await ok("keys.setRoles", { keyId, roles: [{ name: "writer" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "report.write"), "VALID");
    assert.equal(await codeOf(key, "report.read"), "INSUFFICIENT_PERMISSIONS");

    await ok("keys.updateKey", { keyId, roles: [{ name: "reporter" }] }, ctx.rootKey);
    assert.equal(await codeOf(key, "report.read"), "VALID");
    assert.equal(await codeOf(key, "report.write"), "INSUFFICIENT_PERMISSIONS");
  });
});

// ---- remove* ----------------------------------------------------------------------------------

describe("removePermissions / removeRoles", () => {
  test("every element of the request is removed (upstream used only the first)", async () => {
    const ctx = await fresh();
    const a = await createPermission(ctx, "perm.a");
    const b = await createPermission(ctx, "perm_b", "perm.b");
    const c = await createPermission(ctx, "perm.c");
    const d = await createPermission(ctx, "perm.d");
    const { keyId, key } = await newKey(ctx, { permissions: ["perm.a", "perm.b", "perm.c", "perm.d"] });
    assert.equal(await codeOf(key, { and: ["perm.a", "perm.b", "perm.c", "perm.d"] }), "VALID");
    // by id, by (deprecated) name = slug, by slug
    const r = await kg.post("keys.removePermissions", { keyId, permissions: [{ id: a }, { name: "perm.b" }, { slug: "perm.c" }] }, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    assert.deepEqual(await linked(keyId), { permissions: [d], roles: [] });
    assert.deepEqual((await getKey(ctx, keyId)).permissions, ["perm.d"]);
    for (const p of ["perm.a", "perm.b", "perm.c"]) assert.equal(await codeOf(key, p), "INSUFFICIENT_PERMISSIONS", p);
    assert.equal(await codeOf(key, "perm.d"), "VALID");
    // the permissions themselves stay
    assert.equal(await count("SELECT COUNT(*) AS n FROM permissions WHERE id IN (?, ?, ?)", a, b, c), 3);
  });

  test("every role of the request is removed", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "perm.one");
    await createPermission(ctx, "perm.two");
    await createPermission(ctx, "perm.three");
    const r1 = await createRole(ctx, "role.one", ["perm.one"]);
    await createRole(ctx, "role.two", ["perm.two"]);
    const r3 = await createRole(ctx, "role.three", ["perm.three"]);
    const { keyId, key } = await newKey(ctx, { roles: ["role.one", "role.two", "role.three"] });
    // the first element is not connected: later ones must still count
    assert.deepEqual(
      await ok("keys.removeRoles", { keyId, roles: [{ name: "role.unknown" }, { name: "role.two" }, { id: r1 }] }, ctx.rootKey),
      {},
    );
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [r3] });
    const got = await getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["role.three"]);
    assert.deepEqual(got.permissions, ["perm.three"]);
    assert.equal(await codeOf(key, { or: ["perm.one", "perm.two"] }), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await codeOf(key, "perm.three"), "VALID");
  });

  test("removing what is not connected (or does not exist) is a 200 {} and changes nothing", async () => {
    const ctx = await fresh();
    const connected = await createPermission(ctx, "conn.perm");
    const loose = await createPermission(ctx, "loose.perm");
    const connectedRole = await createRole(ctx, "conn.role");
    const looseRole = await createRole(ctx, "loose.role");
    const { keyId } = await newKey(ctx, { permissions: ["conn.perm"], roles: ["conn.role"] });
    const before = await writes(ctx.workspaceId);
    for (const permissions of [[{ id: loose }], [{ name: "loose.perm" }], [{ slug: "never.created" }], [{ id: "perm_doesnotexist" }]]) {
      const r = await kg.post("keys.removePermissions", { keyId, permissions }, ctx.rootKey);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, {});
    }
    for (const roles of [[{ id: looseRole }], [{ name: "loose.role" }], [{ name: "never.created" }], [{ id: "role_doesnotexist" }]]) {
      const r = await kg.post("keys.removeRoles", { keyId, roles }, ctx.rootKey);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, {});
    }
    assert.deepEqual(await linked(keyId), { permissions: [connected], roles: [connectedRole] });
    const after = await writes(ctx.workspaceId);
    assert.deepEqual({ ...after, audit_log: 0 }, { ...before, audit_log: 0 });
  });

  test("a key without anything: remove is a 200 {}", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "some.perm");
    const { keyId } = await newKey(ctx);
    assert.deepEqual(await ok("keys.removePermissions", { keyId, permissions: [{ name: "some.perm" }] }, ctx.rootKey), {});
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [] });
  });
});

// ---- creation and unknown references ----------------------------------------------------------

describe("creating roles and permissions while connecting", () => {
  test("addRoles create: true makes a role with a `role_` id; addPermissions create: true a permission", async () => {
    const ctx = await fresh();
    const { keyId, key } = await newKey(ctx);
    const roles = await ok("keys.addRoles", { keyId, roles: [{ name: "fresh.role", create: true }] }, ctx.rootKey);
    assert.equal(roles.length, 1);
    assert.equal(roles[0].name, "fresh.role");
    assert.match(roles[0].id, /^role_[1-9A-HJ-NP-Za-km-z]+$/);
    const row = await kg.row("SELECT id, workspace_id, name FROM roles WHERE workspace_id = ? AND name = 'fresh.role'", ctx.workspaceId);
    assert.deepEqual(row, { id: roles[0].id, workspace_id: ctx.workspaceId, name: "fresh.role" });
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [roles[0].id] });
    // the role is a real role: getRole finds it
    const viaApi = await kg.get("permissions.getRole", { roleId: roles[0].id }, ctx.rootKey);
    assert.equal(viaApi.status, 200, viaApi.text);
    assert.equal(viaApi.body.name, "fresh.role");

    const perms = await ok("keys.addPermissions", { keyId, permissions: [{ name: "fresh.perm", create: true }] }, ctx.rootKey);
    assert.equal(perms.length, 1);
    assert.equal(perms[0].name, "fresh.perm");
    assert.match(perms[0].id, /^perm_[1-9A-HJ-NP-Za-km-z]+$/);
    const prow = await kg.row("SELECT id, name, slug FROM permissions WHERE workspace_id = ? AND slug = 'fresh.perm'", ctx.workspaceId);
    assert.deepEqual(prow, { id: perms[0].id, name: "fresh.perm", slug: "fresh.perm" });
    assert.deepEqual((await linked(keyId)).permissions, [perms[0].id]);
    const got = await getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["fresh.role"]);
    assert.deepEqual(got.permissions, ["fresh.perm"]);
    assert.equal(await codeOf(key, "fresh.perm"), "VALID");

    // create: true on what exists reuses it
    const again = await ok("keys.addPermissions", { keyId, permissions: [{ name: "fresh.perm", create: true }] }, ctx.rootKey);
    assert.deepEqual(again, perms);
    assert.equal(await count("SELECT COUNT(*) AS n FROM permissions WHERE workspace_id = ? AND slug = 'fresh.perm'", ctx.workspaceId), 1);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", keyId), 1);
  });

  test("setRoles / setPermissions create: true make them (role_ / perm_ ids)", async () => {
    const ctx = await fresh();
    const { keyId, key } = await newKey(ctx);
    const roles = await ok("keys.setRoles", { keyId, roles: [{ name: "set.role", create: true }] }, ctx.rootKey);
    assert.match(roles[0].id, /^role_/);
    assert.deepEqual(roles, [{ id: roles[0].id, name: "set.role" }]);
    const perms = await ok("keys.setPermissions", { keyId, permissions: [{ slug: "set.perm", create: true }] }, ctx.rootKey);
    assert.match(perms[0].id, /^perm_/);
    assert.deepEqual(perms, [{ id: perms[0].id, name: "set.perm" }]);
    assert.deepEqual(await linked(keyId), { permissions: [perms[0].id], roles: [roles[0].id] });
    assert.equal(await codeOf(key, "set.perm"), "VALID");
  });

  test("creation rights: add* ⇒ 403 UNAUTHORIZED, set* ⇒ 403 INSUFFICIENT_PERMISSIONS; nothing written", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "exists.perm");
    await createRole(ctx, "exists.role");
    const { keyId } = await newKey(ctx);
    const addOnly = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.add_role_to_key"]);
    const setOnly = await kg.rootKey(ctx.workspaceId, [
      "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
    ]);
    const before = await writes(ctx.workspaceId);

    // an existing one with create: true and another to create: the whole request is refused
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ name: "exists.perm" }, { name: "new.perm", create: true }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to create permissions");
    expectError(assert, await kg.post("keys.addRoles", { keyId, roles: [{ name: "exists.role" }, { name: "new.role", create: true }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to create roles");
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ name: "exists.perm" }, { name: "new.perm", create: true }] }, setOnly),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.create_permission"], [
        "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
      ]));
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ name: "new.role", create: true }] }, setOnly),
      403, "INSUFFICIENT_PERMISSIONS", /^Missing one of these permissions: \['"\*"', '"rbac\.\*\.create_role"'/);
    assert.deepEqual(await writes(ctx.workspaceId), before);
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [] });
    assert.equal(await count("SELECT COUNT(*) AS n FROM permissions WHERE slug = 'new.perm'"), 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM roles WHERE name = 'new.role'"), 0);

    // create: true on one that exists needs no create right
    const reuse = await ok("keys.addPermissions", { keyId, permissions: [{ name: "exists.perm", create: true }] }, addOnly);
    assert.equal(reuse[0].name, "exists.perm");
  });

  test("role creation accepts rbac.*.create_role and (legacy) rbac.*.create_permission; permissions need create_permission", async () => {
    const ctx = await fresh();
    const { keyId } = await newKey(ctx);
    const withCreateRole = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.create_role"]);
    const withCreatePerm = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.create_permission"]);
    const a = await ok("keys.addRoles", { keyId, roles: [{ name: "made.by.create_role", create: true }] }, withCreateRole);
    assert.match(a[0].id, /^role_/);
    const b = await ok("keys.addRoles", { keyId, roles: [{ name: "made.by.create_permission", create: true }] }, withCreatePerm);
    assert.match(b[0].id, /^role_/);
    assert.deepEqual(sorted((await getKey(ctx, keyId)).roles), ["made.by.create_permission", "made.by.create_role"]);

    // setRoles: the same two rights
    const setWithRole = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.remove_role_from_key", "rbac.*.create_role"]);
    const s1 = await ok("keys.setRoles", { keyId, roles: [{ name: "set.by.create_role", create: true }] }, setWithRole);
    assert.match(s1[0].id, /^role_/);
    const setWithPerm = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.remove_role_from_key", "rbac.*.create_permission"]);
    const s2 = await ok("keys.setRoles", { keyId, roles: [{ name: "set.by.create_permission", create: true }] }, setWithPerm);
    assert.match(s2[0].id, /^role_/);
    assert.deepEqual((await getKey(ctx, keyId)).roles, ["set.by.create_permission"]);

    // create_role does not create permissions
    const roleCreator = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.create_role"]);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ name: "nope.perm", create: true }] }, roleCreator),
      403, "UNAUTHORIZED", "you are not allowed to create permissions");
    const permCreator = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.create_permission"]);
    const p = await ok("keys.addPermissions", { keyId, permissions: [{ name: "yes.perm", create: true }] }, permCreator);
    assert.match(p[0].id, /^perm_/);
  });

  test("concurrent addRoles / addPermissions creating the same name make one row", async () => {
    const ctx = await fresh();
    const keys = [];
    for (let i = 0; i < 8; i++) keys.push(await newKey(ctx));
    const results = await Promise.all(keys.flatMap(({ keyId }) => [
      kg.post("keys.addRoles", { keyId, roles: [{ name: "race.role", create: true }] }, ctx.rootKey),
      kg.post("keys.addPermissions", { keyId, permissions: [{ name: "race.perm", create: true }] }, ctx.rootKey),
    ]));
    for (const r of results) assert.equal(r.status, 200, r.text);
    const roleRows = await kg.rows("SELECT id FROM roles WHERE workspace_id = ? AND name = 'race.role'", ctx.workspaceId);
    const permRows = await kg.rows("SELECT id FROM permissions WHERE workspace_id = ? AND slug = 'race.perm'", ctx.workspaceId);
    assert.equal(roleRows.length, 1);
    assert.equal(permRows.length, 1);
    for (let i = 0; i < results.length; i += 2) {
      assert.deepEqual(results[i].body, [{ id: roleRows[0].id, name: "race.role" }]);
      assert.deepEqual(results[i + 1].body, [{ id: permRows[0].id, name: "race.perm" }]);
    }
    for (const { keyId, key } of keys) {
      assert.deepEqual(await linked(keyId), { permissions: [permRows[0].id], roles: [roleRows[0].id] });
      assert.equal(await codeOf(key, "race.perm"), "VALID");
    }
  });

  test("unknown ids ⇒ 404; unknown names without create ⇒ 404; nothing written", async () => {
    const ctx = await fresh();
    const known = await createPermission(ctx, "known.perm");
    const knownRole = await createRole(ctx, "known.role");
    const { keyId } = await newKey(ctx);
    const before = await writes(ctx.workspaceId);
    const cases = [
      ["keys.addPermissions", { permissions: [{ id: known }, { id: "perm_doesnotexist" }] }, "permission perm_doesnotexist not found"],
      // an id wins over create: true
      ["keys.addPermissions", { permissions: [{ id: "perm_doesnotexist", name: "x.perm", create: true }] }, "permission perm_doesnotexist not found"],
      ["keys.addPermissions", { permissions: [{ name: "known.perm" }, { name: "unknown.perm" }] }, "permission unknown.perm not found"],
      ["keys.setPermissions", { permissions: [{ id: "perm_doesnotexist" }] }, "permission perm_doesnotexist not found"],
      ["keys.setPermissions", { permissions: [{ id: known }, { slug: "unknown.perm" }] }, "permission unknown.perm not found and not allowed to create"],
      ["keys.addRoles", { roles: [{ id: knownRole }, { id: "role_doesnotexist" }] }, "role role_doesnotexist not found"],
      ["keys.addRoles", { roles: [{ name: "unknown.role" }] }, "role unknown.role not found"],
      ["keys.setRoles", { roles: [{ id: "role_doesnotexist" }] }, "role role_doesnotexist not found"],
      ["keys.setRoles", { roles: [{ name: "known.role" }, { name: "unknown.role" }] }, "role unknown.role not found and not allowed to create"],
    ];
    for (const [route, body, message] of cases) {
      expectError(assert, await kg.post(route, { keyId, ...body }, ctx.rootKey), 404, "NOT_FOUND", message);
    }
    assert.deepEqual(await writes(ctx.workspaceId), before);
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [] });
  });

  test("roles and permissions of another workspace are unknown (404), by id and by name", async () => {
    const ctx = await fresh();
    const other = await fresh();
    const theirs = await createPermission(other, "their.perm");
    const theirRole = await createRole(other, "their.role");
    const { keyId } = await newKey(ctx);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ id: theirs }] }, ctx.rootKey), 404, "NOT_FOUND", `permission ${theirs} not found`);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ name: "their.perm" }] }, ctx.rootKey), 404, "NOT_FOUND", "permission their.perm not found");
    expectError(assert, await kg.post("keys.addRoles", { keyId, roles: [{ id: theirRole }] }, ctx.rootKey), 404, "NOT_FOUND", `role ${theirRole} not found`);
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ name: "their.role" }] }, ctx.rootKey), 404, "NOT_FOUND", "role their.role not found and not allowed to create");
    // with create: true a same-named one is made in this workspace, the other stays untouched
    const mine = await ok("keys.addPermissions", { keyId, permissions: [{ name: "their.perm", create: true }] }, ctx.rootKey);
    assert.notEqual(mine[0].id, theirs);
    assert.equal((await kg.row("SELECT workspace_id FROM permissions WHERE id = ?", mine[0].id)).workspace_id, ctx.workspaceId);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_permissions WHERE permission_id = ?", theirs), 0);
  });
});

// ---- setPermissions / setRoles ----------------------------------------------------------------

describe("setPermissions / setRoles", () => {
  test("disconnect what is not requested, keep what is, connect the rest", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "set.a");
    const b = await createPermission(ctx, "set.b");
    const c = await createPermission(ctx, "set.c");
    const { keyId, key } = await newKey(ctx, { permissions: ["set.a", "set.b"] });
    const res = await ok("keys.setPermissions", { keyId, permissions: [{ id: b }, { name: "set.c" }] }, ctx.rootKey);
    assert.deepEqual(byId(res), byId([{ id: b, name: "set.b" }, { id: c, name: "set.c" }]));
    assert.deepEqual(await linked(keyId), { permissions: sorted([b, c]), roles: [] });
    assert.equal(await codeOf(key, "set.a"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await codeOf(key, { and: ["set.b", "set.c"] }), "VALID");
    // set to the same set: a no-op that answers the same
    assert.deepEqual(byId(await ok("keys.setPermissions", { keyId, permissions: [{ id: c }, { id: b }] }, ctx.rootKey)), byId(res));
    assert.deepEqual(await linked(keyId), { permissions: sorted([b, c]), roles: [] });
    // permissions via roles are not touched by setPermissions
    await createRole(ctx, "holder", ["set.a"]);
    await ok("keys.addRoles", { keyId, roles: [{ name: "holder" }] }, ctx.rootKey);
    await ok("keys.setPermissions", { keyId, permissions: [{ id: c }] }, ctx.rootKey);
    assert.equal(await codeOf(key, { and: ["set.a", "set.c"] }), "VALID");
    assert.equal(await codeOf(key, "set.b"), "INSUFFICIENT_PERMISSIONS");
    assert.deepEqual(sorted((await getKey(ctx, keyId)).permissions), ["set.a", "set.c"]);
  });

  test("setRoles disconnects roles not requested", async () => {
    const ctx = await fresh();
    const r1 = await createRole(ctx, "set.role.1");
    const r2 = await createRole(ctx, "set.role.2");
    const r3 = await createRole(ctx, "set.role.3");
    const { keyId } = await newKey(ctx, { roles: ["set.role.1", "set.role.2"] });
    const res = await ok("keys.setRoles", { keyId, roles: [{ id: r3 }, { name: "set.role.2" }] }, ctx.rootKey);
    assert.deepEqual(byId(res), byId([{ id: r2, name: "set.role.2" }, { id: r3, name: "set.role.3" }]));
    assert.deepEqual(await linked(keyId), { permissions: [], roles: sorted([r2, r3]) });
    assert.deepEqual(sorted((await getKey(ctx, keyId)).roles), ["set.role.2", "set.role.3"]);
    assert.equal(await kg.row("SELECT role_id FROM keys_roles WHERE key_id = ? AND role_id = ?", keyId, r1), null);
  });

  test("removing needs remove_*_from_key (else 403 UNAUTHORIZED); connecting needs add_*_to_key (else 403 INSUFFICIENT_PERMISSIONS); nothing written", async () => {
    const ctx = await fresh();
    const a = await createPermission(ctx, "guard.a");
    const b = await createPermission(ctx, "guard.b");
    await createPermission(ctx, "guard.c");
    const ra = await createRole(ctx, "guard.role.a");
    const rb = await createRole(ctx, "guard.role.b");
    await createRole(ctx, "guard.role.c");
    const { keyId, key } = await newKey(ctx, { permissions: ["guard.a", "guard.b"], roles: ["guard.role.a", "guard.role.b"] });
    const addOnly = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.add_role_to_key"]);
    const removeOnly = await kg.rootKey(ctx.workspaceId, ["rbac.*.remove_permission_from_key", "rbac.*.remove_role_from_key"]);
    const neither = await kg.rootKey(ctx.workspaceId, ["api.*.read_key"]);
    const before = await writes(ctx.workspaceId);
    const links = await linked(keyId);

    // would disconnect guard.b (and connect guard.c) without the remove right
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }, { name: "guard.c" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove permissions from keys");
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ id: ra }, { name: "guard.role.c" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove roles from keys");
    // would connect guard.c without the add right
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }, { id: b }, { name: "guard.c" }] }, removeOnly),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.add_permission_to_key"], ["rbac.*.remove_permission_from_key", "rbac.*.remove_role_from_key"]));
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ id: ra }, { name: "guard.role.c" }] }, removeOnly),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.add_role_to_key"], ["rbac.*.remove_permission_from_key", "rbac.*.remove_role_from_key"]));
    // a root key with neither
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }] }, neither), 403, "UNAUTHORIZED");
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ name: "guard.role.c" }, { id: ra }, { id: rb }] }, neither), 403, "INSUFFICIENT_PERMISSIONS");

    assert.deepEqual(await writes(ctx.workspaceId), before);
    assert.deepEqual(await linked(keyId), links);
    const got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.permissions), ["guard.a", "guard.b"]);
    assert.deepEqual(sorted(got.roles), ["guard.role.a", "guard.role.b"]);
    assert.equal(await codeOf(key, { and: ["guard.a", "guard.b"] }), "VALID");
    assert.equal(await codeOf(key, "guard.c"), "INSUFFICIENT_PERMISSIONS");

    // only removing needs only the remove right; only adding only the add right
    assert.deepEqual(await ok("keys.setPermissions", { keyId, permissions: [{ id: a }] }, removeOnly), [{ id: a, name: "guard.a" }]);
    assert.deepEqual(await ok("keys.setRoles", { keyId, roles: [{ id: ra }] }, removeOnly), [{ id: ra, name: "guard.role.a" }]);
    assert.equal(await codeOf(key, "guard.b"), "INSUFFICIENT_PERMISSIONS");
    const grown = await ok("keys.setPermissions", { keyId, permissions: [{ id: a }, { id: b }] }, addOnly);
    assert.deepEqual(byId(grown), byId([{ id: a, name: "guard.a" }, { id: b, name: "guard.b" }]));
    await ok("keys.setRoles", { keyId, roles: [{ id: ra }, { id: rb }] }, addOnly);
    assert.deepEqual(await linked(keyId), links);
    assert.equal(await codeOf(key, "guard.b"), "VALID");

    // both rights (exactly those) do both at once
    const both = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key"]);
    await ok("keys.setPermissions", { keyId, permissions: [{ name: "guard.c" }] }, both);
    assert.equal(await codeOf(key, "guard.c"), "VALID");
    assert.equal(await codeOf(key, { or: ["guard.a", "guard.b"] }), "INSUFFICIENT_PERMISSIONS");
  });
});

// ---- route permission queries, scoping, bad input ---------------------------------------------

const ROUTES = {
  "keys.addPermissions": { field: "permissions", right: "rbac.*.add_permission_to_key" },
  "keys.removePermissions": { field: "permissions", right: "rbac.*.remove_permission_from_key" },
  "keys.setPermissions": { field: "permissions" },
  "keys.addRoles": { field: "roles", right: "rbac.*.add_role_to_key" },
  "keys.removeRoles": { field: "roles", right: "rbac.*.remove_role_from_key" },
  "keys.setRoles": { field: "roles" },
};

describe("route permission queries and scoping", () => {
  test("add*/remove*: the exact rbac right (or *) works; anything else is 403 INSUFFICIENT_PERMISSIONS", async () => {
    const ctx = await fresh();
    const p = await createPermission(ctx, "q.perm");
    const r = await createRole(ctx, "q.role");
    const { keyId } = await newKey(ctx);
    const siblings = {
      "rbac.*.add_permission_to_key": "rbac.*.add_role_to_key",
      "rbac.*.remove_permission_from_key": "rbac.*.remove_role_from_key",
      "rbac.*.add_role_to_key": "rbac.*.add_permission_to_key",
      "rbac.*.remove_role_from_key": "rbac.*.remove_permission_from_key",
    };
    const order = ["keys.addPermissions", "keys.removePermissions", "keys.addRoles", "keys.removeRoles"];
    for (const route of order) {
      const { field, right } = ROUTES[route];
      const body = { keyId, [field]: [field === "permissions" ? { id: p } : { id: r }] };
      // wrong rights: the sibling right, an api right, an api-specific rbac-looking right
      for (const have of [[siblings[right]], ["api.*.update_key"], [right.replace("rbac.*.", `rbac.${ctx.apiId}.`)]]) {
        const root = await kg.rootKey(ctx.workspaceId, have);
        const before = await writes(ctx.workspaceId);
        expectError(assert, await kg.post(route, body, root), 403, "INSUFFICIENT_PERMISSIONS", missing(["*", right], have));
        assert.deepEqual(await writes(ctx.workspaceId), before, `${route} with ${have} wrote`);
      }
      const exact = await kg.rootKey(ctx.workspaceId, [right]);
      const res = await kg.post(route, body, exact);
      assert.equal(res.status, 200, `${route}: ${res.text}`);
      assert.deepEqual(res.body, route.includes("remove") ? {} : [field === "permissions" ? { id: p, name: "q.perm" } : { id: r, name: "q.role" }]);
    }
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [] }); // added, then removed
    // no root key at all
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ id: p }] }), 403, "UNAUTHORIZED");
    // a normal (non-root) key is no root key
    const { key: plain } = await newKey(ctx);
    const notRoot = await kg.post("keys.addPermissions", { keyId, permissions: [{ id: p }] }, plain);
    assert.equal(notRoot.status, 403, notRoot.text);
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [] });
  });

  test("a key of another workspace, a deleted key or an unknown key ⇒ 404 `key <id> not found`", async () => {
    const ctx = await fresh();
    const other = await fresh();
    // same names in both workspaces, so only the key decides
    for (const w of [ctx, other]) {
      await createPermission(w, "scope.perm");
      await createRole(w, "scope.role");
    }
    const theirs = await newKey(other, { permissions: ["scope.perm"], roles: ["scope.role"] });
    const doomed = await newKey(ctx, { permissions: ["scope.perm"], roles: ["scope.role"] });
    await ok("keys.deleteKey", { keyId: doomed.keyId }, ctx.rootKey);
    const theirLinks = await linked(theirs.keyId);
    const doomedLinks = await linked(doomed.keyId);
    const beforeMine = await writes(ctx.workspaceId);
    const beforeTheirs = await writes(other.workspaceId);
    for (const [route, { field }] of Object.entries(ROUTES)) {
      const items = field === "permissions" ? [{ name: "scope.perm" }, { name: "created.perm", create: true }] : [{ name: "scope.role" }, { name: "created.role", create: true }];
      for (const keyId of [theirs.keyId, doomed.keyId, "key_doesnotexist"]) {
        expectError(assert, await kg.post(route, { keyId, [field]: items }, ctx.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
      }
    }
    assert.deepEqual(await linked(theirs.keyId), theirLinks);
    assert.deepEqual(await linked(doomed.keyId), doomedLinks);
    assert.deepEqual(await writes(ctx.workspaceId), beforeMine);
    assert.deepEqual(await writes(other.workspaceId), beforeTheirs);
    assert.equal(await codeOf(theirs.key, { and: ["scope.perm"] }), "VALID");
  });

  test("bad input ⇒ 400 naming the field; nothing written", async () => {
    const ctx = await fresh();
    const p = await createPermission(ctx, "bad.perm");
    const r = await createRole(ctx, "bad.role");
    const { keyId } = await newKey(ctx, { permissions: ["bad.perm"], roles: ["bad.role"] });
    const before = await writes(ctx.workspaceId);
    const links = await linked(keyId);
    for (const [route, { field }] of Object.entries(ROUTES)) {
      const good = field === "permissions" ? { id: p } : { id: r };
      const cases = [
        [{ keyId, [field]: [] }, `${field}: Array must contain at least 1 element(s)`],
        [{ keyId }, `${field}: Required`],
        [{ keyId, [field]: "bad" }, `${field}: Expected array, received string`],
        [{ [field]: [good] }, "keyId: Required"],
        [{ keyId: "", [field]: [good] }, "keyId: String must contain at least 1 character(s)"],
        [{ keyId, [field]: [good, { id: "ab" }] }, `${field}.1.id: String must contain at least 3 character(s)`],
        [{ keyId, [field]: [{ name: "" }] }, `${field}.0.name: String must contain at least 1 character(s)`],
        [{ keyId, [field]: ["bad.perm"] }, `${field}.0: Expected object, received string`],
      ];
      if (!route.includes("remove")) cases.push([{ keyId, [field]: [{ name: "x.y", create: "yes" }] }, `${field}.0.create: Expected boolean, received string`]);
      for (const [body, message] of cases) {
        expectError(assert, await kg.post(route, body, ctx.rootKey), 400, "BAD_REQUEST", message);
      }
    }
    assert.deepEqual(await writes(ctx.workspaceId), before);
    assert.deepEqual(await linked(keyId), links);
  });

  test("an element with neither id nor name ⇒ 400 `<field>.<i>: provide either an id or a name`; nothing written", async () => {
    const ctx = await fresh();
    const p = await createPermission(ctx, "none.perm");
    const r = await createRole(ctx, "none.role");
    await createPermission(ctx, "other.perm");
    await createRole(ctx, "other.role");
    const { keyId } = await newKey(ctx, { permissions: ["none.perm"], roles: ["none.role"] });
    const before = await writes(ctx.workspaceId);
    const links = await linked(keyId);
    const failures = [];
    for (const [route, { field }] of Object.entries(ROUTES)) {
      // the valid first element would change something if the request were carried out
      const first = route.includes("remove")
        ? (field === "permissions" ? { id: p } : { id: r })
        : (field === "permissions" ? { name: "other.perm" } : { name: "other.role" });
      const res = await kg.post(route, { keyId, [field]: [first, { create: true }] }, ctx.rootKey);
      if (res.status !== 400 || res.body?.error?.message !== `${field}.1: provide either an id or a name`) failures.push(`${route}: ${res.status} ${res.text}`);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(await linked(keyId), links, "links changed");
    assert.deepEqual(await writes(ctx.workspaceId), before, "rows written");
  });

  test("verifyKey: an invalid permission query is a 400", async () => {
    const ctx = await fresh();
    const { key } = await newKey(ctx, { permissions: ["valid.perm"] });
    for (const q of [{ and: [] }, { or: [] }, { xor: ["valid.perm"] }, 42, ["valid.perm"]]) {
      expectError(assert, await kg.post("keys.verifyKey", { key, authorization: { permissions: q } }), 400, "BAD_REQUEST", "permission query is invalid");
    }
    assert.equal(await codeOf(key, { or: ["valid.perm"] }), "VALID");
  });
});

// ---- updateKey and createKey ------------------------------------------------------------------

describe("keys.updateKey roles / permissions", () => {
  test("replace the sets (setRoles / setPermissions semantics); absent leaves them; [] clears", async () => {
    const ctx = await fresh();
    const pa = await createPermission(ctx, "up.a");
    await createPermission(ctx, "up.b");
    const pc = await createPermission(ctx, "up.c");
    await createPermission(ctx, "up.via");
    const ra = await createRole(ctx, "up.role.a", ["up.via"]);
    const rb = await createRole(ctx, "up.role.b");
    const { keyId, key } = await newKey(ctx, { permissions: ["up.a", "up.b"], roles: ["up.role.a"] });

    const unkey = kg.sdk(ctx.rootKey);
    const res = await unkey.keys.update({ keyId, permissions: [{ id: pa }, { name: "up.c" }], roles: [{ name: "up.role.b" }] });
    assert.deepEqual(res, { result: {} });
    assert.deepEqual(await linked(keyId), { permissions: sorted([pa, pc]), roles: [rb] });
    let got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.permissions), ["up.a", "up.c"]);
    assert.deepEqual(got.roles, ["up.role.b"]);
    assert.equal(await codeOf(key, { and: ["up.a", "up.c"] }), "VALID");
    assert.equal(await codeOf(key, "up.b"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await codeOf(key, "up.via"), "INSUFFICIENT_PERMISSIONS");

    // other fields only: roles/permissions untouched
    await ok("keys.updateKey", { keyId, name: "renamed" }, ctx.rootKey);
    assert.deepEqual(await linked(keyId), { permissions: sorted([pa, pc]), roles: [rb] });

    // only roles: permissions untouched
    await ok("keys.updateKey", { keyId, roles: [{ id: ra }, { id: rb }] }, ctx.rootKey);
    assert.deepEqual(await linked(keyId), { permissions: sorted([pa, pc]), roles: sorted([ra, rb]) });
    assert.equal(await codeOf(key, "up.via"), "VALID");

    // empty lists clear
    await ok("keys.updateKey", { keyId, roles: [], permissions: [] }, ctx.rootKey);
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [] });
    got = await getKey(ctx, keyId);
    assert.deepEqual(got.permissions, []);
    assert.deepEqual(got.roles, []);
    assert.equal(await codeOf(key, { or: ["up.a", "up.c", "up.via"] }), "INSUFFICIENT_PERMISSIONS");

    // create: true creates (with `*`), role ids `role_`
    await ok("keys.updateKey", { keyId, roles: [{ name: "up.new.role", create: true }], permissions: [{ name: "up.new.perm", create: true }] }, ctx.rootKey);
    const newRole = await kg.row("SELECT id FROM roles WHERE workspace_id = ? AND name = 'up.new.role'", ctx.workspaceId);
    assert.match(newRole.id, /^role_/);
    assert.equal(await codeOf(key, "up.new.perm"), "VALID");
  });

  test("the set* checks apply, and a refused update writes nothing (not even its other fields)", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "uk.a");
    await createPermission(ctx, "uk.b");
    await createRole(ctx, "uk.role.a");
    await createRole(ctx, "uk.role.b");
    const { keyId, key } = await newKey(ctx, { name: "original", permissions: ["uk.a"], roles: ["uk.role.a"] });
    const links = await linked(keyId);
    const updateOnly = await kg.rootKey(ctx.workspaceId, ["api.*.update_key"]);
    const addOnly = await kg.rootKey(ctx.workspaceId, ["api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.add_role_to_key"]);
    const noCreate = await kg.rootKey(ctx.workspaceId, [
      "api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
    ]);
    const before = await writes(ctx.workspaceId);

    // removing uk.a without the remove right
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.b" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove permissions from keys");
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", roles: [{ name: "uk.role.b" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove roles from keys");
    // connecting uk.b without the add right
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.a" }, { name: "uk.b" }] }, updateOnly),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.add_permission_to_key"], ["api.*.update_key"]));
    // creating without the create right
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", roles: [{ name: "uk.role.a" }, { name: "uk.role.new", create: true }] }, noCreate),
      403, "INSUFFICIENT_PERMISSIONS", /rbac\.\*\.create_role/);
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.a" }, { name: "uk.new", create: true }] }, noCreate),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.create_permission"], [
        "api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
      ]));
    // unknown without create, unknown id
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", roles: [{ name: "uk.role.nope" }] }, ctx.rootKey),
      404, "NOT_FOUND", "role uk.role.nope not found and not allowed to create");
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ id: "perm_doesnotexist" }] }, ctx.rootKey),
      404, "NOT_FOUND", "permission perm_doesnotexist not found");
    // an element with neither id nor name
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.a" }, {}] }, ctx.rootKey),
      400, "BAD_REQUEST", "permissions.1: provide either an id or a name");
    // roles ok but permissions refused: neither is applied
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", roles: [{ name: "uk.role.b" }], permissions: [{ name: "uk.zzz" }] }, ctx.rootKey),
      404, "NOT_FOUND", "permission uk.zzz not found and not allowed to create");

    assert.deepEqual(await linked(keyId), links);
    assert.deepEqual(await writes(ctx.workspaceId), before);
    const got = await getKey(ctx, keyId);
    assert.equal(got.name, "original");
    assert.deepEqual(got.permissions, ["uk.a"]);
    assert.deepEqual(got.roles, ["uk.role.a"]);
    assert.equal(await codeOf(key, "uk.a"), "VALID");
    assert.equal(await codeOf(key, "uk.b"), "INSUFFICIENT_PERMISSIONS");
  });
});

describe("keys.createKey roles / permissions", () => {
  test("existing ones by name are connected; missing ones are created only with the create right", async () => {
    const ctx = await fresh();
    const read = await createPermission(ctx, "readers_can", "ck.read");
    const role = await createRole(ctx, "ck.role", ["ck.read"]);
    const createOnly = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);

    // existing: no rbac right needed; permissions by slug
    const k = await ok("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.read"], roles: ["ck.role"] }, createOnly);
    assert.deepEqual(await linked(k.keyId), { permissions: [read], roles: [role] });
    const got = await getKey(ctx, k.keyId);
    assert.deepEqual(got.permissions, ["readers_can"]); // getKey: names (direct and via the role, once)
    assert.deepEqual(got.roles, ["ck.role"]);
    const v = await verify(k.key, "ck.read");
    assert.equal(v.code, "VALID");
    assert.deepEqual(v.permissions, ["ck.read"]); // verification: slugs

    // missing: refused without the create right, nothing written
    const roleCreator = await kg.rootKey(ctx.workspaceId, ["api.*.create_key", "rbac.*.create_role"]);
    const permCreator = await kg.rootKey(ctx.workspaceId, ["api.*.create_key", "rbac.*.create_permission"]);
    const before = await writes(ctx.workspaceId);
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.read", "ck.new"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.create_permission"], ["api.*.create_key"]));
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["ck.role", "ck.new.role"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", missing(["*", "rbac.*.create_role"], ["api.*.create_key"]));
    // create_role does not create permissions, nor create_permission roles
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.new"] }, roleCreator), 403, "INSUFFICIENT_PERMISSIONS");
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["ck.new.role"] }, permCreator), 403, "INSUFFICIENT_PERMISSIONS");
    assert.deepEqual(await writes(ctx.workspaceId), before);

    // with the rights: created (permission name = slug, role id role_) and connected
    const withPerm = await ok("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.new", "ck.read"] }, permCreator);
    const newPerm = await kg.row("SELECT id, name, slug FROM permissions WHERE workspace_id = ? AND slug = 'ck.new'", ctx.workspaceId);
    assert.match(newPerm.id, /^perm_/);
    assert.equal(newPerm.name, "ck.new");
    assert.deepEqual(await linked(withPerm.keyId), { permissions: sorted([newPerm.id, read]), roles: [] });
    assert.equal(await codeOf(withPerm.key, { and: ["ck.new", "ck.read"] }), "VALID");
    const withRole = await ok("keys.createKey", { apiId: ctx.apiId, roles: ["ck.new.role"] }, roleCreator);
    const newRole = await kg.row("SELECT id FROM roles WHERE workspace_id = ? AND name = 'ck.new.role'", ctx.workspaceId);
    assert.match(newRole.id, /^role_/);
    assert.deepEqual(await linked(withRole.keyId), { permissions: [], roles: [newRole.id] });
    assert.deepEqual((await getKey(ctx, withRole.keyId)).roles, ["ck.new.role"]);
  });
});

// ---- getKey: direct ∪ via roles ---------------------------------------------------------------

describe("keys.getKey roles and permissions", () => {
  test("roles = role names; permissions = permission names, direct ∪ via roles, each once", async () => {
    const ctx = await fresh();
    await createPermission(ctx, "Name_One", "slug.one");
    await createPermission(ctx, "Name_Two", "slug.two");
    await createPermission(ctx, "Name_Three", "slug.three");
    await createRole(ctx, "role one+two", ["slug.one", "slug.two"]);
    await createRole(ctx, "role two", ["slug.two"]);
    const { keyId, key } = await newKey(ctx);
    await ok("keys.addPermissions", { keyId, permissions: [{ name: "slug.one" }, { slug: "slug.three" }] }, ctx.rootKey);
    await ok("keys.addRoles", { keyId, roles: [{ name: "role one+two" }, { name: "role two" }] }, ctx.rootKey);
    const got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["role one+two", "role two"]);
    assert.deepEqual(sorted(got.permissions), ["Name_One", "Name_Three", "Name_Two"]);
    const v = await verify(key);
    assert.deepEqual(sorted(v.permissions), ["slug.one", "slug.three", "slug.two"]);
    assert.deepEqual(sorted(v.roles), ["role one+two", "role two"]);
    // adding what is connected already keeps one link
    await ok("keys.addPermissions", { keyId, permissions: [{ name: "slug.one" }] }, ctx.rootKey);
    await ok("keys.addRoles", { keyId, roles: [{ name: "role two" }] }, ctx.rootKey);
    assert.equal((await linked(keyId)).permissions.length, 2);
    assert.equal((await linked(keyId)).roles.length, 2);
  });
});

// ---- deleting permissions and roles -----------------------------------------------------------

describe("deleting a permission or a role takes it away from keys at once", () => {
  test("permissions.deletePermission (direct and inside a role) and permissions.deleteRole", async () => {
    const ctx = await fresh();
    const direct = await createPermission(ctx, "del.direct");
    const inRole = await createPermission(ctx, "del.inrole");
    await createPermission(ctx, "del.kept");
    const holder = await createRole(ctx, "del.holder", ["del.inrole", "del.kept"]);
    await createPermission(ctx, "del.viarole");
    const doomedRole = await createRole(ctx, "del.doomed", ["del.viarole"]);
    const { keyId, key } = await newKey(ctx, { permissions: ["del.direct"], roles: ["del.holder", "del.doomed"] });
    const all = { and: ["del.direct", "del.inrole", "del.kept", "del.viarole"] };
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(key, all), "VALID");

    await ok("permissions.deletePermission", { permissionId: direct }, ctx.rootKey);
    assert.equal(await codeOf(key, "del.direct"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", keyId), 0);
    assert.ok(!(await getKey(ctx, keyId)).permissions.includes("del.direct"));

    await ok("permissions.deletePermission", { permissionId: inRole }, ctx.rootKey);
    assert.equal(await codeOf(key, "del.inrole"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await codeOf(key, "del.kept"), "VALID");
    let got = await getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["del.doomed", "del.holder"]);
    assert.deepEqual(sorted(got.permissions), ["del.kept", "del.viarole"]);

    await ok("permissions.deleteRole", { roleId: doomedRole }, ctx.rootKey);
    assert.equal(await codeOf(key, "del.viarole"), "INSUFFICIENT_PERMISSIONS");
    const v = await verify(key, "del.kept");
    assert.equal(v.code, "VALID");
    assert.deepEqual(v.roles, ["del.holder"]);
    assert.deepEqual(v.permissions, ["del.kept"]);
    got = await getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["del.holder"]);
    assert.deepEqual(got.permissions, ["del.kept"]);
    assert.deepEqual(await linked(keyId), { permissions: [], roles: [holder] });

    // what was deleted cannot be connected any more
    expectError(assert, await kg.post("keys.addRoles", { keyId, roles: [{ id: doomedRole }] }, ctx.rootKey), 404, "NOT_FOUND", `role ${doomedRole} not found`);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ id: direct }] }, ctx.rootKey), 404, "NOT_FOUND", `permission ${direct} not found`);
  });
});
