// The `roles` / `permissions` of keys.updateKey, keys.createKey and keys.getKey (direct ∪ via roles),
// and permissions.deletePermission / deleteRole taking them away from keys (split from rbac.test.mjs).
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
import { startKeygate, expectError, ok, sorted, missingPermissions, RBAC_TABLES } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

// ---- updateKey and createKey ------------------------------------------------------------------

describe("keys.updateKey roles / permissions", () => {
  test("replace the sets (setRoles / setPermissions semantics); absent leaves them; [] clears", async () => {
    const ctx = await kg.setup();
    const pa = await kg.createPermission(ctx, { name: "up.a" });
    await kg.createPermission(ctx, { name: "up.b" });
    const pc = await kg.createPermission(ctx, { name: "up.c" });
    await kg.createPermission(ctx, { name: "up.via" });
    const ra = await kg.createRole(ctx, { name: "up.role.a", permissions: ["up.via"] });
    const rb = await kg.createRole(ctx, { name: "up.role.b" });
    const { keyId, key } = await kg.createKey(ctx, { permissions: ["up.a", "up.b"], roles: ["up.role.a"] });

    const unkey = kg.sdk(ctx.rootKey);
    const res = await unkey.keys.update({ keyId, permissions: [{ id: pa }, { name: "up.c" }], roles: [{ name: "up.role.b" }] });
    assert.deepEqual(res, { result: {} });
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([pa, pc]), roles: [rb] });
    let got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.permissions), ["up.a", "up.c"]);
    assert.deepEqual(got.roles, ["up.role.b"]);
    assert.equal(await kg.codeOf(key, { and: ["up.a", "up.c"] }), "VALID");
    assert.equal(await kg.codeOf(key, "up.b"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.codeOf(key, "up.via"), "INSUFFICIENT_PERMISSIONS");

    // other fields only: roles/permissions untouched
    await ok(kg.post("keys.updateKey", { keyId, name: "renamed" }, ctx.rootKey));
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([pa, pc]), roles: [rb] });

    // only roles: permissions untouched
    await ok(kg.post("keys.updateKey", { keyId, roles: [{ id: ra }, { id: rb }] }, ctx.rootKey));
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([pa, pc]), roles: sorted([ra, rb]) });
    assert.equal(await kg.codeOf(key, "up.via"), "VALID");

    // empty lists clear
    await ok(kg.post("keys.updateKey", { keyId, roles: [], permissions: [] }, ctx.rootKey));
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [] });
    got = await kg.getKey(ctx, keyId);
    assert.deepEqual(got.permissions, []);
    assert.deepEqual(got.roles, []);
    assert.equal(await kg.codeOf(key, { or: ["up.a", "up.c", "up.via"] }), "INSUFFICIENT_PERMISSIONS");

    // create: true creates (with `*`), role ids `role_`
    await ok(kg.post("keys.updateKey", { keyId, roles: [{ name: "up.new.role", create: true }], permissions: [{ name: "up.new.perm", create: true }] }, ctx.rootKey));
    const newRole = await kg.row("SELECT id FROM roles WHERE workspace_id = ? AND name = 'up.new.role'", ctx.workspaceId);
    assert.match(newRole.id, /^role_/);
    assert.equal(await kg.codeOf(key, "up.new.perm"), "VALID");
  });

  test("the set* checks apply, and a refused update writes nothing (not even its other fields)", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "uk.a" });
    await kg.createPermission(ctx, { name: "uk.b" });
    await kg.createRole(ctx, { name: "uk.role.a" });
    await kg.createRole(ctx, { name: "uk.role.b" });
    const { keyId, key } = await kg.createKey(ctx, { name: "original", permissions: ["uk.a"], roles: ["uk.role.a"] });
    const links = await kg.linked(keyId);
    const updateOnly = await kg.rootKey(ctx.workspaceId, ["api.*.update_key"]);
    const addOnly = await kg.rootKey(ctx.workspaceId, ["api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.add_role_to_key"]);
    const noCreate = await kg.rootKey(ctx.workspaceId, [
      "api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key", "rbac.*.add_role_to_key", "rbac.*.remove_role_from_key",
    ]);
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);

    // removing uk.a without the remove right
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.b" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove permissions from keys");
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", roles: [{ name: "uk.role.b" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove roles from keys");
    // connecting uk.b without the add right
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.a" }, { name: "uk.b" }] }, updateOnly),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.add_permission_to_key"], ["api.*.update_key"]));
    // creating without the create right
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", roles: [{ name: "uk.role.a" }, { name: "uk.role.new", create: true }] }, noCreate),
      403, "INSUFFICIENT_PERMISSIONS", /rbac\.\*\.create_role/);
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", permissions: [{ name: "uk.a" }, { name: "uk.new", create: true }] }, noCreate),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.create_permission"], [
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

    assert.deepEqual(await kg.linked(keyId), links);
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before);
    const got = await kg.getKey(ctx, keyId);
    assert.equal(got.name, "original");
    assert.deepEqual(got.permissions, ["uk.a"]);
    assert.deepEqual(got.roles, ["uk.role.a"]);
    assert.equal(await kg.codeOf(key, "uk.a"), "VALID");
    assert.equal(await kg.codeOf(key, "uk.b"), "INSUFFICIENT_PERMISSIONS");
  });
});

describe("keys.createKey roles / permissions", () => {
  test("existing ones by name are connected; missing ones are created only with the create right", async () => {
    const ctx = await kg.setup();
    const read = await kg.createPermission(ctx, { name: "readers_can", slug: "ck.read" });
    const role = await kg.createRole(ctx, { name: "ck.role", permissions: ["ck.read"] });
    const createOnly = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);

    // existing: no rbac right needed; permissions by slug
    const k = await ok(kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.read"], roles: ["ck.role"] }, createOnly));
    assert.deepEqual(await kg.linked(k.keyId), { permissions: [read], roles: [role] });
    const got = await kg.getKey(ctx, k.keyId);
    assert.deepEqual(got.permissions, ["readers_can"]); // getKey: names (direct and via the role, once)
    assert.deepEqual(got.roles, ["ck.role"]);
    const v = await kg.verify(k.key, { authorization: { permissions: "ck.read" } });
    assert.equal(v.code, "VALID");
    assert.deepEqual(v.permissions, ["ck.read"]); // verification: slugs

    // missing: refused without the create right, nothing written
    const roleCreator = await kg.rootKey(ctx.workspaceId, ["api.*.create_key", "rbac.*.create_role"]);
    const permCreator = await kg.rootKey(ctx.workspaceId, ["api.*.create_key", "rbac.*.create_permission"]);
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.read", "ck.new"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.create_permission"], ["api.*.create_key"]));
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["ck.role", "ck.new.role"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.create_role"], ["api.*.create_key"]));
    // create_role does not create permissions, nor create_permission roles
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.new"] }, roleCreator), 403, "INSUFFICIENT_PERMISSIONS");
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["ck.new.role"] }, permCreator), 403, "INSUFFICIENT_PERMISSIONS");
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before);

    // with the rights: created (permission name = slug, role id role_) and connected
    const withPerm = await ok(kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["ck.new", "ck.read"] }, permCreator));
    const newPerm = await kg.row("SELECT id, name, slug FROM permissions WHERE workspace_id = ? AND slug = 'ck.new'", ctx.workspaceId);
    assert.match(newPerm.id, /^perm_/);
    assert.equal(newPerm.name, "ck.new");
    assert.deepEqual(await kg.linked(withPerm.keyId), { permissions: sorted([newPerm.id, read]), roles: [] });
    assert.equal(await kg.codeOf(withPerm.key, { and: ["ck.new", "ck.read"] }), "VALID");
    const withRole = await ok(kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["ck.new.role"] }, roleCreator));
    const newRole = await kg.row("SELECT id FROM roles WHERE workspace_id = ? AND name = 'ck.new.role'", ctx.workspaceId);
    assert.match(newRole.id, /^role_/);
    assert.deepEqual(await kg.linked(withRole.keyId), { permissions: [], roles: [newRole.id] });
    assert.deepEqual((await kg.getKey(ctx, withRole.keyId)).roles, ["ck.new.role"]);
  });
});

// ---- getKey: direct ∪ via roles ---------------------------------------------------------------

describe("keys.getKey roles and permissions", () => {
  test("roles = role names; permissions = permission names, direct ∪ via roles, each once", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "Name_One", slug: "slug.one" });
    await kg.createPermission(ctx, { name: "Name_Two", slug: "slug.two" });
    await kg.createPermission(ctx, { name: "Name_Three", slug: "slug.three" });
    await kg.createRole(ctx, { name: "role one+two", permissions: ["slug.one", "slug.two"] });
    await kg.createRole(ctx, { name: "role two", permissions: ["slug.two"] });
    const { keyId, key } = await kg.createKey(ctx);
    await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "slug.one" }, { slug: "slug.three" }] }, ctx.rootKey));
    await ok(kg.post("keys.addRoles", { keyId, roles: [{ name: "role one+two" }, { name: "role two" }] }, ctx.rootKey));
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["role one+two", "role two"]);
    assert.deepEqual(sorted(got.permissions), ["Name_One", "Name_Three", "Name_Two"]);
    const v = await kg.verify(key);
    assert.deepEqual(sorted(v.permissions), ["slug.one", "slug.three", "slug.two"]);
    assert.deepEqual(sorted(v.roles), ["role one+two", "role two"]);
    // adding what is connected already keeps one link
    await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "slug.one" }] }, ctx.rootKey));
    await ok(kg.post("keys.addRoles", { keyId, roles: [{ name: "role two" }] }, ctx.rootKey));
    assert.equal((await kg.linked(keyId)).permissions.length, 2);
    assert.equal((await kg.linked(keyId)).roles.length, 2);
  });
});

// ---- deleting permissions and roles -----------------------------------------------------------

describe("deleting a permission or a role takes it away from keys at once", () => {
  test("permissions.deletePermission (direct and inside a role) and permissions.deleteRole", async () => {
    const ctx = await kg.setup();
    const direct = await kg.createPermission(ctx, { name: "del.direct" });
    const inRole = await kg.createPermission(ctx, { name: "del.inrole" });
    await kg.createPermission(ctx, { name: "del.kept" });
    const holder = await kg.createRole(ctx, { name: "del.holder", permissions: ["del.inrole", "del.kept"] });
    await kg.createPermission(ctx, { name: "del.viarole" });
    const doomedRole = await kg.createRole(ctx, { name: "del.doomed", permissions: ["del.viarole"] });
    const { keyId, key } = await kg.createKey(ctx, { permissions: ["del.direct"], roles: ["del.holder", "del.doomed"] });
    const all = { and: ["del.direct", "del.inrole", "del.kept", "del.viarole"] };
    for (let i = 0; i < 3; i++) assert.equal(await kg.codeOf(key, all), "VALID");

    await ok(kg.post("permissions.deletePermission", { permissionId: direct }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "del.direct"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", keyId), 0);
    assert.ok(!(await kg.getKey(ctx, keyId)).permissions.includes("del.direct"));

    await ok(kg.post("permissions.deletePermission", { permissionId: inRole }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "del.inrole"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.codeOf(key, "del.kept"), "VALID");
    let got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["del.doomed", "del.holder"]);
    assert.deepEqual(sorted(got.permissions), ["del.kept", "del.viarole"]);

    await ok(kg.post("permissions.deleteRole", { roleId: doomedRole }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "del.viarole"), "INSUFFICIENT_PERMISSIONS");
    const v = await kg.verify(key, { authorization: { permissions: "del.kept" } });
    assert.equal(v.code, "VALID");
    assert.deepEqual(v.roles, ["del.holder"]);
    assert.deepEqual(v.permissions, ["del.kept"]);
    got = await kg.getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["del.holder"]);
    assert.deepEqual(got.permissions, ["del.kept"]);
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [holder] });

    // what was deleted cannot be connected any more
    expectError(assert, await kg.post("keys.addRoles", { keyId, roles: [{ id: doomedRole }] }, ctx.rootKey), 404, "NOT_FOUND", `role ${doomedRole} not found`);
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ id: direct }] }, ctx.rootKey), 404, "NOT_FOUND", `permission ${direct} not found`);
  });
});