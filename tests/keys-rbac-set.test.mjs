// Integration tests of keys.setPermissions and keys.setRoles (split from rbac.test.mjs).
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

// ---- setPermissions / setRoles ----------------------------------------------------------------

describe("setPermissions / setRoles", () => {
  test("disconnect what is not requested, keep what is, connect the rest", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "set.a" });
    const b = await kg.createPermission(ctx, { name: "set.b" });
    const c = await kg.createPermission(ctx, { name: "set.c" });
    const { keyId, key } = await kg.createKey(ctx, { permissions: ["set.a", "set.b"] });
    const res = await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ id: b }, { name: "set.c" }] }, ctx.rootKey));
    assert.deepEqual(byId(res), byId([{ id: b, name: "set.b" }, { id: c, name: "set.c" }]));
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([b, c]), roles: [] });
    assert.equal(await kg.codeOf(key, "set.a"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.codeOf(key, { and: ["set.b", "set.c"] }), "VALID");
    // set to the same set: a no-op that answers the same
    assert.deepEqual(byId(await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ id: c }, { id: b }] }, ctx.rootKey))), byId(res));
    assert.deepEqual(await kg.linked(keyId), { permissions: sorted([b, c]), roles: [] });
    // permissions via roles are not touched by setPermissions
    await kg.createRole(ctx, { name: "holder", permissions: ["set.a"] });
    await ok(kg.post("keys.addRoles", { keyId, roles: [{ name: "holder" }] }, ctx.rootKey));
    await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ id: c }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, { and: ["set.a", "set.c"] }), "VALID");
    assert.equal(await kg.codeOf(key, "set.b"), "INSUFFICIENT_PERMISSIONS");
    assert.deepEqual(sorted((await kg.getKey(ctx, keyId)).permissions), ["set.a", "set.c"]);
  });

  test("setRoles disconnects roles not requested", async () => {
    const ctx = await kg.setup();
    const r1 = await kg.createRole(ctx, { name: "set.role.1" });
    const r2 = await kg.createRole(ctx, { name: "set.role.2" });
    const r3 = await kg.createRole(ctx, { name: "set.role.3" });
    const { keyId } = await kg.createKey(ctx, { roles: ["set.role.1", "set.role.2"] });
    const res = await ok(kg.post("keys.setRoles", { keyId, roles: [{ id: r3 }, { name: "set.role.2" }] }, ctx.rootKey));
    assert.deepEqual(byId(res), byId([{ id: r2, name: "set.role.2" }, { id: r3, name: "set.role.3" }]));
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: sorted([r2, r3]) });
    assert.deepEqual(sorted((await kg.getKey(ctx, keyId)).roles), ["set.role.2", "set.role.3"]);
    assert.equal(await kg.row("SELECT role_id FROM keys_roles WHERE key_id = ? AND role_id = ?", keyId, r1), null);
  });

  test("removing needs remove_*_from_key (else 403 UNAUTHORIZED); connecting needs add_*_to_key (else 403 INSUFFICIENT_PERMISSIONS); nothing written", async () => {
    const ctx = await kg.setup();
    const a = await kg.createPermission(ctx, { name: "guard.a" });
    const b = await kg.createPermission(ctx, { name: "guard.b" });
    await kg.createPermission(ctx, { name: "guard.c" });
    const ra = await kg.createRole(ctx, { name: "guard.role.a" });
    const rb = await kg.createRole(ctx, { name: "guard.role.b" });
    await kg.createRole(ctx, { name: "guard.role.c" });
    const { keyId, key } = await kg.createKey(ctx, { permissions: ["guard.a", "guard.b"], roles: ["guard.role.a", "guard.role.b"] });
    const addOnly = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.add_role_to_key"]);
    const removeOnly = await kg.rootKey(ctx.workspaceId, ["rbac.*.remove_permission_from_key", "rbac.*.remove_role_from_key"]);
    const neither = await kg.rootKey(ctx.workspaceId, ["api.*.read_key"]);
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
    const links = await kg.linked(keyId);

    // would disconnect guard.b (and connect guard.c) without the remove right
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }, { name: "guard.c" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove permissions from keys");
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ id: ra }, { name: "guard.role.c" }] }, addOnly),
      403, "UNAUTHORIZED", "you are not allowed to remove roles from keys");
    // would connect guard.c without the add right
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }, { id: b }, { name: "guard.c" }] }, removeOnly),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.add_permission_to_key"], ["rbac.*.remove_permission_from_key", "rbac.*.remove_role_from_key"]));
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ id: ra }, { name: "guard.role.c" }] }, removeOnly),
      403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", "rbac.*.add_role_to_key"], ["rbac.*.remove_permission_from_key", "rbac.*.remove_role_from_key"]));
    // a root key with neither
    expectError(assert, await kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }] }, neither), 403, "UNAUTHORIZED");
    expectError(assert, await kg.post("keys.setRoles", { keyId, roles: [{ name: "guard.role.c" }, { id: ra }, { id: rb }] }, neither), 403, "INSUFFICIENT_PERMISSIONS");

    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before);
    assert.deepEqual(await kg.linked(keyId), links);
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.permissions), ["guard.a", "guard.b"]);
    assert.deepEqual(sorted(got.roles), ["guard.role.a", "guard.role.b"]);
    assert.equal(await kg.codeOf(key, { and: ["guard.a", "guard.b"] }), "VALID");
    assert.equal(await kg.codeOf(key, "guard.c"), "INSUFFICIENT_PERMISSIONS");

    // only removing needs only the remove right; only adding only the add right
    assert.deepEqual(await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }] }, removeOnly)), [{ id: a, name: "guard.a" }]);
    assert.deepEqual(await ok(kg.post("keys.setRoles", { keyId, roles: [{ id: ra }] }, removeOnly)), [{ id: ra, name: "guard.role.a" }]);
    assert.equal(await kg.codeOf(key, "guard.b"), "INSUFFICIENT_PERMISSIONS");
    const grown = await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ id: a }, { id: b }] }, addOnly));
    assert.deepEqual(byId(grown), byId([{ id: a, name: "guard.a" }, { id: b, name: "guard.b" }]));
    await ok(kg.post("keys.setRoles", { keyId, roles: [{ id: ra }, { id: rb }] }, addOnly));
    assert.deepEqual(await kg.linked(keyId), links);
    assert.equal(await kg.codeOf(key, "guard.b"), "VALID");

    // both rights (exactly those) do both at once
    const both = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key"]);
    await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ name: "guard.c" }] }, both));
    assert.equal(await kg.codeOf(key, "guard.c"), "VALID");
    assert.equal(await kg.codeOf(key, { or: ["guard.a", "guard.b"] }), "INSUFFICIENT_PERMISSIONS");
  });
});
