// Integration tests of keys.addPermissions, keys.removePermissions, keys.addRoles and keys.removeRoles
// (and creating roles / permissions while connecting them, also through keys.set*); split from
// rbac.test.mjs.
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
import { startKeygate, expectError, ok, sorted, byId, missingPermissions, RBAC_TABLES } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

// ---- every route through the SDK --------------------------------------------------------------

describe("through the SDK (@unkey/api 0.38.0)", () => {
  test("addPermissions, removePermissions, setPermissions", async () => {
    const ctx = await kg.setup();
    const unkey = kg.sdk(ctx.rootKey);
    // name ≠ slug: requests name permissions by slug, responses and getKey show names
    const read = await kg.createPermission(ctx, { name: "documents_reader", slug: "docs.read" });
    const write = await kg.createPermission(ctx, { name: "documents_writer", slug: "docs.write" });
    const admin = await kg.createPermission(ctx, { name: "documents_admin", slug: "docs.admin" });
    const { keyId, key } = await kg.createKey(ctx);
    const auditBefore = await kg.count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ? AND event = 'authorization.connect_permission_and_key'", ctx.workspaceId);

    const added = await unkey.keys.addPermissions({ keyId, permissions: [{ id: read }, { name: "docs.write" }] });
    assert.equal(added.error, undefined, JSON.stringify(added.error));
    assert.deepEqual(byId(added.result), byId([{ id: read, name: "documents_reader" }, { id: write, name: "documents_writer" }]));
    for (const item of added.result) assert.deepEqual(Object.keys(item).sort(), ["id", "name"]);
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([read, write]), roles: [] });
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.permissions), ["documents_reader", "documents_writer"]);
    assert.deepEqual(got.roles, []);
    const v = await kg.verify(key, { authorization: { permissions: { and: ["docs.read", "docs.write"] } } });
    assert.equal(v.code, "VALID", JSON.stringify(v));
    assert.equal(v.valid, true);
    assert.deepEqual(sorted(v.permissions), ["docs.read", "docs.write"]);
    assert.equal(
      await kg.count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ? AND event = 'authorization.connect_permission_and_key'", ctx.workspaceId),
      auditBefore + 1,
    );

    const removed = await unkey.keys.removePermissions({ keyId, permissions: [{ id: write }] });
    assert.deepEqual(removed, { result: {} });
    assert.deepEqual(await kg.linked(keyId), { permissions: [read], roles: [] });
    assert.equal(await kg.codeOf(key, "docs.write"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(
      await kg.count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ? AND event = 'authorization.disconnect_permission_and_key'", ctx.workspaceId),
      1,
    );

    const set = await unkey.keys.setPermissions({ keyId, permissions: [{ slug: "docs.admin" }, { id: write }] });
    assert.equal(set.error, undefined, JSON.stringify(set.error));
    assert.deepEqual(byId(set.result), byId([{ id: admin, name: "documents_admin" }, { id: write, name: "documents_writer" }]));
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([admin, write]), roles: [] });
    assert.deepEqual(sorted((await kg.getKey(ctx, keyId)).permissions), ["documents_admin", "documents_writer"]);
    assert.equal(await kg.codeOf(key, { and: ["docs.admin", "docs.write"] }), "VALID");
    assert.equal(await kg.codeOf(key, "docs.read"), "INSUFFICIENT_PERMISSIONS");
  });

  test("addRoles, removeRoles, setRoles", async () => {
    const ctx = await kg.setup();
    const unkey = kg.sdk(ctx.rootKey);
    await kg.createPermission(ctx, { name: "billing.read" });
    await kg.createPermission(ctx, { name: "billing.write" });
    await kg.createPermission(ctx, { name: "users.manage" });
    const viewer = await kg.createRole(ctx, { name: "billing viewer", permissions: ["billing.read"] });
    const editor = await kg.createRole(ctx, { name: "billing editor", permissions: ["billing.read", "billing.write"] });
    const admin = await kg.createRole(ctx, { name: "user admin", permissions: ["users.manage"] });
    const { keyId, key } = await kg.createKey(ctx);

    const added = await unkey.keys.addRoles({ keyId, roles: [{ id: viewer }, { name: "user admin" }] });
    assert.equal(added.error, undefined, JSON.stringify(added.error));
    assert.deepEqual(byId(added.result), byId([{ id: viewer, name: "billing viewer" }, { id: admin, name: "user admin" }]));
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: sorted([viewer, admin]) });
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["billing viewer", "user admin"]);
    assert.deepEqual(sorted(got.permissions), ["billing.read", "users.manage"]);
    const v = await kg.verify(key, { authorization: { permissions: { and: ["billing.read", "users.manage"] } } });
    assert.equal(v.code, "VALID", JSON.stringify(v));
    assert.deepEqual(sorted(v.roles), ["billing viewer", "user admin"]);
    assert.deepEqual(sorted(v.permissions), ["billing.read", "users.manage"]);
    assert.equal(await kg.codeOf(key, "billing.write"), "INSUFFICIENT_PERMISSIONS");

    const removed = await unkey.keys.removeRoles({ keyId, roles: [{ name: "user admin" }] });
    assert.deepEqual(removed, { result: {} });
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [viewer] });
    assert.equal(await kg.codeOf(key, "users.manage"), "INSUFFICIENT_PERMISSIONS");

    const set = await unkey.keys.setRoles({ keyId, roles: [{ id: editor }] });
    assert.equal(set.error, undefined, JSON.stringify(set.error));
    assert.deepEqual(set.result, [{ id: editor, name: "billing editor" }]);
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [editor] });
    const after = await kg.getKey(ctx, keyId);
    assert.deepEqual(after.roles, ["billing editor"]);
    assert.deepEqual(sorted(after.permissions), ["billing.read", "billing.write"]);
    assert.equal(await kg.codeOf(key, { and: ["billing.read", "billing.write"] }), "VALID");
  });
});

// ---- remove* ----------------------------------------------------------------------------------

describe("removePermissions / removeRoles", () => {
  test("every element of the request is removed (upstream used only the first)", async () => {
    const ctx = await kg.setup();
    const a = await kg.createPermission(ctx, { name: "perm.a" });
    const b = await kg.createPermission(ctx, { name: "perm_b", slug: "perm.b" });
    const c = await kg.createPermission(ctx, { name: "perm.c" });
    const d = await kg.createPermission(ctx, { name: "perm.d" });
    const { keyId, key } = await kg.createKey(ctx, { permissions: ["perm.a", "perm.b", "perm.c", "perm.d"] });
    assert.equal(await kg.codeOf(key, { and: ["perm.a", "perm.b", "perm.c", "perm.d"] }), "VALID");
    // by id, by (deprecated) name = slug, by slug
    const r = await kg.post("keys.removePermissions", { keyId, permissions: [{ id: a }, { name: "perm.b" }, { slug: "perm.c" }] }, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    assert.deepEqual(await kg.linked(keyId), { permissions: [d], roles: [] });
    assert.deepEqual((await kg.getKey(ctx, keyId)).permissions, ["perm.d"]);
    for (const p of ["perm.a", "perm.b", "perm.c"]) assert.equal(await kg.codeOf(key, p), "INSUFFICIENT_PERMISSIONS", p);
    assert.equal(await kg.codeOf(key, "perm.d"), "VALID");
    // the permissions themselves stay
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE id IN (?, ?, ?)", a, b, c), 3);
  });

  test("every role of the request is removed", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "perm.one" });
    await kg.createPermission(ctx, { name: "perm.two" });
    await kg.createPermission(ctx, { name: "perm.three" });
    const r1 = await kg.createRole(ctx, { name: "role.one", permissions: ["perm.one"] });
    await kg.createRole(ctx, { name: "role.two", permissions: ["perm.two"] });
    const r3 = await kg.createRole(ctx, { name: "role.three", permissions: ["perm.three"] });
    const { keyId, key } = await kg.createKey(ctx, { roles: ["role.one", "role.two", "role.three"] });
    // the first element is not connected: later ones must still count
    assert.deepEqual(
      await ok(kg.post("keys.removeRoles", { keyId, roles: [{ name: "role.unknown" }, { name: "role.two" }, { id: r1 }] }, ctx.rootKey)),
      {},
    );
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [r3] });
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["role.three"]);
    assert.deepEqual(got.permissions, ["perm.three"]);
    assert.equal(await kg.codeOf(key, { or: ["perm.one", "perm.two"] }), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.codeOf(key, "perm.three"), "VALID");
  });

  test("removing what is not connected (or does not exist) is a 200 {} and changes nothing", async () => {
    const ctx = await kg.setup();
    const connected = await kg.createPermission(ctx, { name: "conn.perm" });
    const loose = await kg.createPermission(ctx, { name: "loose.perm" });
    const connectedRole = await kg.createRole(ctx, { name: "conn.role" });
    const looseRole = await kg.createRole(ctx, { name: "loose.role" });
    const { keyId } = await kg.createKey(ctx, { permissions: ["conn.perm"], roles: ["conn.role"] });
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
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
    assert.deepEqual(await kg.linked(keyId), { permissions: [connected], roles: [connectedRole] });
    const after = await kg.counts(RBAC_TABLES, ctx.workspaceId);
    assert.deepEqual({ ...after, audit_log: 0 }, { ...before, audit_log: 0 });
  });

  test("a key without anything: remove is a 200 {}", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "some.perm" });
    const { keyId } = await kg.createKey(ctx);
    assert.deepEqual(await ok(kg.post("keys.removePermissions", { keyId, permissions: [{ name: "some.perm" }] }, ctx.rootKey)), {});
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [] });
  });
});

// ---- creation and unknown references ----------------------------------------------------------

describe("creating roles and permissions while connecting", () => {
  test("addRoles create: true makes a role with a `role_` id; addPermissions create: true a permission", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await kg.createKey(ctx);
    const roles = await ok(kg.post("keys.addRoles", { keyId, roles: [{ name: "fresh.role", create: true }] }, ctx.rootKey));
    assert.equal(roles.length, 1);
    assert.equal(roles[0].name, "fresh.role");
    assert.match(roles[0].id, /^role_[1-9A-HJ-NP-Za-km-z]+$/);
    const row = await kg.row("SELECT id, workspace_id, name FROM roles WHERE workspace_id = ? AND name = 'fresh.role'", ctx.workspaceId);
    assert.deepEqual(row, { id: roles[0].id, workspace_id: ctx.workspaceId, name: "fresh.role" });
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [roles[0].id] });
    // the role is a real role: getRole finds it
    const viaApi = await kg.get("permissions.getRole", { roleId: roles[0].id }, ctx.rootKey);
    assert.equal(viaApi.status, 200, viaApi.text);
    assert.equal(viaApi.body.name, "fresh.role");

    const perms = await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "fresh.perm", create: true }] }, ctx.rootKey));
    assert.equal(perms.length, 1);
    assert.equal(perms[0].name, "fresh.perm");
    assert.match(perms[0].id, /^perm_[1-9A-HJ-NP-Za-km-z]+$/);
    const prow = await kg.row("SELECT id, name, slug FROM permissions WHERE workspace_id = ? AND slug = 'fresh.perm'", ctx.workspaceId);
    assert.deepEqual(prow, { id: perms[0].id, name: "fresh.perm", slug: "fresh.perm" });
    assert.deepEqual((await kg.linked(keyId)).permissions, [perms[0].id]);
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["fresh.role"]);
    assert.deepEqual(got.permissions, ["fresh.perm"]);
    assert.equal(await kg.codeOf(key, "fresh.perm"), "VALID");

    // create: true on what exists reuses it
    const again = await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "fresh.perm", create: true }] }, ctx.rootKey));
    assert.deepEqual(again, perms);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE workspace_id = ? AND slug = 'fresh.perm'", ctx.workspaceId), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", keyId), 1);
  });

  test("setRoles / setPermissions create: true make them (role_ / perm_ ids)", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await kg.createKey(ctx);
    const roles = await ok(kg.post("keys.setRoles", { keyId, roles: [{ name: "set.role", create: true }] }, ctx.rootKey));
    assert.match(roles[0].id, /^role_/);
    assert.deepEqual(roles, [{ id: roles[0].id, name: "set.role" }]);
    const perms = await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ slug: "set.perm", create: true }] }, ctx.rootKey));
    assert.match(perms[0].id, /^perm_/);
    assert.deepEqual(perms, [{ id: perms[0].id, name: "set.perm" }]);
    assert.deepEqual(await kg.linked(keyId), { permissions: [perms[0].id], roles: [roles[0].id] });
    assert.equal(await kg.codeOf(key, "set.perm"), "VALID");
  });

  test("creation rights: add* ⇒ 403 UNAUTHORIZED, set* ⇒ 403 INSUFFICIENT_PERMISSIONS; nothing written", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "exists.perm" });
    await kg.createRole(ctx, { name: "exists.role" });
    const { keyId } = await kg.createKey(ctx);
    const addOnly = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.add_role_to_key"]);
    const setOnly = await kg.rootKey(ctx.workspaceId, [
      "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
    ]);
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);

    // an existing one with create: true and another to create: the whole request is refused
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ name: "exists.perm" }, { name: "new.perm", create: true }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to create permissions");
    expectError(assert, await kg.post("keys.addRoles", { keyId, roles: [{ name: "exists.role" }, { name: "new.role", create: true }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to create roles");
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ name: "exists.perm" }, { name: "new.perm", create: true }] }, setOnly),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.create_permission"], [
        "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
      ]));
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ name: "new.role", create: true }] }, setOnly),
      403, "INSUFFICIENT_PERMISSIONS", /^Missing one of these permissions: \['"\*"', '"rbac\.\*\.create_role"'/);
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before);
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [] });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE slug = 'new.perm'"), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles WHERE name = 'new.role'"), 0);

    // create: true on one that exists needs no create right
    const reuse = await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "exists.perm", create: true }] }, addOnly));
    assert.equal(reuse[0].name, "exists.perm");
  });

  test("role creation accepts rbac.*.create_role and (legacy) rbac.*.create_permission; permissions need create_permission", async () => {
    const ctx = await kg.setup();
    const { keyId } = await kg.createKey(ctx);
    const withCreateRole = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.create_role"]);
    const withCreatePerm = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.create_permission"]);
    const a = await ok(kg.post("keys.addRoles", { keyId, roles: [{ name: "made.by.create_role", create: true }] }, withCreateRole));
    assert.match(a[0].id, /^role_/);
    const b = await ok(kg.post("keys.addRoles", { keyId, roles: [{ name: "made.by.create_permission", create: true }] }, withCreatePerm));
    assert.match(b[0].id, /^role_/);
    assert.deepEqual(sorted((await kg.getKey(ctx, keyId)).roles), ["made.by.create_permission", "made.by.create_role"]);

    // setRoles: the same two rights
    const setWithRole = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.remove_role_from_key", "rbac.*.create_role"]);
    const s1 = await ok(kg.post("keys.setRoles", { keyId, roles: [{ name: "set.by.create_role", create: true }] }, setWithRole));
    assert.match(s1[0].id, /^role_/);
    const setWithPerm = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_role_to_key", "rbac.*.remove_role_from_key", "rbac.*.create_permission"]);
    const s2 = await ok(kg.post("keys.setRoles", { keyId, roles: [{ name: "set.by.create_permission", create: true }] }, setWithPerm));
    assert.match(s2[0].id, /^role_/);
    assert.deepEqual((await kg.getKey(ctx, keyId)).roles, ["set.by.create_permission"]);

    // create_role does not create permissions
    const roleCreator = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.create_role"]);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ name: "nope.perm", create: true }] }, roleCreator),
      403, "UNAUTHORIZED", "you are not allowed to create permissions");
    const permCreator = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.create_permission"]);
    const p = await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "yes.perm", create: true }] }, permCreator));
    assert.match(p[0].id, /^perm_/);
  });

  test("concurrent addRoles / addPermissions creating the same name make one row", async () => {
    const ctx = await kg.setup();
    const keys = [];
    for (let i = 0; i < 8; i++) keys.push(await kg.createKey(ctx));
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
      assert.deepEqual(await kg.linked(keyId), { permissions: [permRows[0].id], roles: [roleRows[0].id] });
      assert.equal(await kg.codeOf(key, "race.perm"), "VALID");
    }
  });

  test("unknown ids ⇒ 404; unknown names without create ⇒ 404; nothing written", async () => {
    const ctx = await kg.setup();
    const known = await kg.createPermission(ctx, { name: "known.perm" });
    const knownRole = await kg.createRole(ctx, { name: "known.role" });
    const { keyId } = await kg.createKey(ctx);
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
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
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before);
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [] });
  });

  test("roles and permissions of another workspace are unknown (404), by id and by name", async () => {
    const ctx = await kg.setup();
    const other = await kg.setup();
    const theirs = await kg.createPermission(other, { name: "their.perm" });
    const theirRole = await kg.createRole(other, { name: "their.role" });
    const { keyId } = await kg.createKey(ctx);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ id: theirs }] }, ctx.rootKey), 404, "NOT_FOUND", `permission ${theirs} not found`);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ name: "their.perm" }] }, ctx.rootKey), 404, "NOT_FOUND", "permission their.perm not found");
    expectError(assert, await kg.post("keys.addRoles", { keyId, roles: [{ id: theirRole }] }, ctx.rootKey), 404, "NOT_FOUND", `role ${theirRole} not found`);
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ name: "their.role" }] }, ctx.rootKey), 404, "NOT_FOUND", "role their.role not found and not allowed to create");
    // with create: true a same-named one is made in this workspace, the other stays untouched
    const mine = await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "their.perm", create: true }] }, ctx.rootKey));
    assert.notEqual(mine[0].id, theirs);
    assert.equal((await kg.row("SELECT workspace_id FROM permissions WHERE id = ?", mine[0].id)).workspace_id, ctx.workspaceId);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE permission_id = ?", theirs), 0);
  });
});
