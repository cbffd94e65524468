// A key's roles and permissions as keys.verifyKey sees them (`authorization.permissions`): the §3.2
// step 8 example, every change seen by the next verification, invalid queries (split from
// rbac.test.mjs).
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
import { startKeygate, expectError, ok, sorted, byId } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

// ---- §3.2 step 8 end to end through roles -----------------------------------------------------

describe("v1-api.md §3.2 step 8 example through roles", () => {
  const P = (n) => `p.${n}`;
  // and("p1", or("p2", "p6", and("p4", "p2")))
  const example = { and: [P(1), { or: [P(2), P(6), { and: [P(4), P(2)] }] }] };

  async function world() {
    const ctx = await kg.setup();
    const perms = {};
    for (let n = 1; n <= 6; n++) perms[n] = await kg.createPermission(ctx, { name: P(n) });
    const r1 = await kg.createRole(ctx, { name: "role.r1", permissions: [P(1), P(2), P(3)] });
    const r2 = await kg.createRole(ctx, { name: "role.r2", permissions: [P(1), P(4), P(5)] });
    return { ctx, perms, r1, r2 };
  }

  test("roles r1{p1,p2,p3}, r2{p1,p4,p5} via addRoles: VALID; without r1: INSUFFICIENT_PERMISSIONS at once", async () => {
    const { ctx, perms, r1, r2 } = await world();
    // the roles hold what createRole was given
    const role1 = (await kg.get("permissions.getRole", { roleId: r1 }, ctx.rootKey)).body;
    assert.deepEqual(sorted(role1.permissions.map((p) => p.slug)), [P(1), P(2), P(3)]);
    const role2 = (await kg.get("permissions.getRole", { roleId: r2 }, ctx.rootKey)).body;
    assert.deepEqual(sorted(role2.permissions.map((p) => p.slug)), [P(1), P(4), P(5)]);

    const { keyId, key } = await kg.createKey(ctx);
    // before any role: nothing
    assert.equal(await kg.codeOf(key, example), "INSUFFICIENT_PERMISSIONS");
    const added = await kg.sdk(ctx.rootKey).keys.addRoles({ keyId, roles: [{ name: "role.r1" }, { id: r2 }] });
    assert.deepEqual(byId(added.result), byId([{ id: r1, name: "role.r1" }, { id: r2, name: "role.r2" }]));

    const v = await kg.verify(key, { authorization: { permissions: example } });
    assert.equal(v.code, "VALID", JSON.stringify(v));
    assert.equal(v.valid, true);
    assert.deepEqual(sorted(v.roles), ["role.r1", "role.r2"]);
    assert.deepEqual(sorted(v.permissions), [P(1), P(2), P(3), P(4), P(5)]);
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(sorted(got.roles), ["role.r1", "role.r2"]);
    assert.deepEqual(sorted(got.permissions), [P(1), P(2), P(3), P(4), P(5)]); // p1 once
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: sorted([r1, r2]) });

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
      const denied = await kg.verify(key, { authorization: { permissions: q } });
      assert.equal(denied.code, "INSUFFICIENT_PERMISSIONS", `${JSON.stringify(q)}: ${JSON.stringify(denied)}`);
      assert.equal(denied.valid, false);
    }
    // and some that hold
    for (const q of [P(3), { and: [P(3), P(5)] }, { or: [P(6), { and: [P(4), P(2)] }] }]) {
      assert.equal(await kg.codeOf(key, q), "VALID", JSON.stringify(q));
    }

    // r1 goes: p2 and p3 are gone at the very next verification; p1 stays through r2
    assert.deepEqual(await kg.sdk(ctx.rootKey).keys.removeRoles({ keyId, roles: [{ id: r1 }] }), { result: {} });
    const after = await kg.verify(key, { authorization: { permissions: example } });
    assert.equal(after.code, "INSUFFICIENT_PERMISSIONS", JSON.stringify(after));
    assert.equal(after.valid, false);
    assert.equal(await kg.codeOf(key, P(2)), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.codeOf(key, P(3)), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.codeOf(key, { and: [P(1), P(4), P(5)] }), "VALID");
    assert.deepEqual(sorted((await kg.verify(key)).permissions), [P(1), P(4), P(5)]);
    const gotAfter = await kg.getKey(ctx, keyId);
    assert.deepEqual(gotAfter.roles, ["role.r2"]);
    assert.deepEqual(sorted(gotAfter.permissions), [P(1), P(4), P(5)]);

    // a direct p6 satisfies the or-branch again (direct ∪ via roles)
    await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ id: perms[6] }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, example), "VALID");
    assert.deepEqual(sorted((await kg.getKey(ctx, keyId)).permissions), [P(1), P(4), P(5), P(6)]);
  });

  test("the same with roles given by createKey (SDK), then removeRoles", async () => {
    const { ctx, r1 } = await world();
    const created = await kg.sdk(ctx.rootKey).keys.create({ apiId: ctx.apiId, roles: ["role.r1", "role.r2"] });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const { keyId, key } = created.result;
    assert.equal(await kg.codeOf(key, example), "VALID");
    assert.equal(await kg.codeOf(key, { and: [P(2), P(6)] }), "INSUFFICIENT_PERMISSIONS");
    await ok(kg.post("keys.removeRoles", { keyId, roles: [{ name: "role.r1" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, example), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await kg.row("SELECT role_id FROM keys_roles WHERE key_id = ? AND role_id = ?", keyId, r1), null);
  });
});

// ---- changes are seen by the next verification ------------------------------------------------

describe("changes take effect on the next verification", () => {
  test("add / remove / set of permissions", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "feature.x" });
    const y = await kg.createPermission(ctx, { name: "feature.y" });
    const { keyId, key } = await kg.createKey(ctx);
    // warm whatever a verification might cache
    for (let i = 0; i < 3; i++) assert.equal(await kg.codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");

    await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: "feature.x" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "feature.x"), "VALID");
    for (let i = 0; i < 3; i++) assert.equal(await kg.codeOf(key, "feature.x"), "VALID");

    await ok(kg.post("keys.removePermissions", { keyId, permissions: [{ name: "feature.x" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");

    await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ id: y }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "feature.y"), "VALID");
    assert.equal(await kg.codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");

    await ok(kg.post("keys.setPermissions", { keyId, permissions: [{ name: "feature.x" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "feature.x"), "VALID");
    assert.equal(await kg.codeOf(key, "feature.y"), "INSUFFICIENT_PERMISSIONS");

    // updateKey replaces them too
    await ok(kg.post("keys.updateKey", { keyId, permissions: [{ name: "feature.y" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "feature.y"), "VALID");
    assert.equal(await kg.codeOf(key, "feature.x"), "INSUFFICIENT_PERMISSIONS");
  });

  test("add / remove / set of roles", async () => {
    const ctx = await kg.setup();
    await kg.createPermission(ctx, { name: "report.read" });
    await kg.createPermission(ctx, { name: "report.write" });
    const reader = await kg.createRole(ctx, { name: "reporter", permissions: ["report.read"] });
    await kg.createRole(ctx, { name: "writer", permissions: ["report.write"] });
    const { keyId, key } = await kg.createKey(ctx);
    for (let i = 0; i < 3; i++) assert.equal(await kg.codeOf(key, "report.read"), "INSUFFICIENT_PERMISSIONS");

    await ok(kg.post("keys.addRoles", { keyId, roles: [{ id: reader }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "report.read"), "VALID");
    for (let i = 0; i < 3; i++) assert.equal(await kg.codeOf(key, "report.read"), "VALID");

    await ok(kg.post("keys.removeRoles", { keyId, roles: [{ id: reader }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "report.read"), "INSUFFICIENT_PERMISSIONS");

    await ok(kg.post("keys.setRoles", { keyId, roles: [{ name: "reporter" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "report.read"), "VALID");

    await ok(kg.post("keys.setRoles", { keyId, roles: [{ name: "writer" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "report.write"), "VALID");
    assert.equal(await kg.codeOf(key, "report.read"), "INSUFFICIENT_PERMISSIONS");

    await ok(kg.post("keys.updateKey", { keyId, roles: [{ name: "reporter" }] }, ctx.rootKey));
    assert.equal(await kg.codeOf(key, "report.read"), "VALID");
    assert.equal(await kg.codeOf(key, "report.write"), "INSUFFICIENT_PERMISSIONS");
  });
});

// ---- invalid permission queries ---------------------------------------------------------------

describe("keys.verifyKey permission queries", () => {
  test("verifyKey: an invalid permission query is a 400", async () => {
    const ctx = await kg.setup();
    const { key } = await kg.createKey(ctx, { permissions: ["valid.perm"] });
    for (const q of [{ and: [] }, { or: [] }, { xor: ["valid.perm"] }, 42, ["valid.perm"]]) {
      expectError(assert, await kg.post("keys.verifyKey", { key, authorization: { permissions: q } }), 400, "BAD_REQUEST", "permission query is invalid");
    }
    assert.equal(await kg.codeOf(key, { or: ["valid.perm"] }), "VALID");
  });
});
