// The root-key permission queries, workspace scoping and input validation of the six key
// permission/role routes (split from rbac.test.mjs).
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
import { startKeygate, expectError, ok, missingPermissions, RBAC_TABLES } from "./helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
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
    const ctx = await kg.setup();
    const p = await kg.createPermission(ctx, { name: "q.perm" });
    const r = await kg.createRole(ctx, { name: "q.role" });
    const { keyId } = await kg.createKey(ctx);
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
        const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
        expectError(assert, await kg.post(route, body, root), 403, "INSUFFICIENT_PERMISSIONS", missingPermissions(["*", right], have));
        assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before, `${route} with ${have} wrote`);
      }
      const exact = await kg.rootKey(ctx.workspaceId, [right]);
      const res = await kg.post(route, body, exact);
      assert.equal(res.status, 200, `${route}: ${res.text}`);
      assert.deepEqual(res.body, route.includes("remove") ? {} : [field === "permissions" ? { id: p, name: "q.perm" } : { id: r, name: "q.role" }]);
    }
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [] }); // added, then removed
    // no root key at all
    expectError(assert, await kg.post("keys.addPermissions", { keyId, permissions: [{ id: p }] }), 403, "UNAUTHORIZED");
    // a normal (non-root) key is no root key
    const { key: plain } = await kg.createKey(ctx);
    const notRoot = await kg.post("keys.addPermissions", { keyId, permissions: [{ id: p }] }, plain);
    assert.equal(notRoot.status, 403, notRoot.text);
    assert.deepEqual(await kg.linked(keyId), { permissions: [], roles: [] });
  });

  test("a key of another workspace, a deleted key or an unknown key ⇒ 404 `key <id> not found`", async () => {
    const ctx = await kg.setup();
    const other = await kg.setup();
    // same names in both workspaces, so only the key decides
    for (const w of [ctx, other]) {
      await kg.createPermission(w, { name: "scope.perm" });
      await kg.createRole(w, { name: "scope.role" });
    }
    const theirs = await kg.createKey(other, { permissions: ["scope.perm"], roles: ["scope.role"] });
    const doomed = await kg.createKey(ctx, { permissions: ["scope.perm"], roles: ["scope.role"] });
    await ok(kg.post("keys.deleteKey", { keyId: doomed.keyId }, ctx.rootKey));
    const theirLinks = await kg.linked(theirs.keyId);
    const doomedLinks = await kg.linked(doomed.keyId);
    const beforeMine = await kg.counts(RBAC_TABLES, ctx.workspaceId);
    const beforeTheirs = await kg.counts(RBAC_TABLES, other.workspaceId);
    for (const [route, { field }] of Object.entries(ROUTES)) {
      const items = field === "permissions" ? [{ name: "scope.perm" }, { name: "created.perm", create: true }] : [{ name: "scope.role" }, { name: "created.role", create: true }];
      for (const keyId of [theirs.keyId, doomed.keyId, "key_doesnotexist"]) {
        expectError(assert, await kg.post(route, { keyId, [field]: items }, ctx.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
      }
    }
    assert.deepEqual(await kg.linked(theirs.keyId), theirLinks);
    assert.deepEqual(await kg.linked(doomed.keyId), doomedLinks);
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), beforeMine);
    assert.deepEqual(await kg.counts(RBAC_TABLES, other.workspaceId), beforeTheirs);
    assert.equal(await kg.codeOf(theirs.key, { and: ["scope.perm"] }), "VALID");
  });

  test("bad input ⇒ 400 naming the field; nothing written", async () => {
    const ctx = await kg.setup();
    const p = await kg.createPermission(ctx, { name: "bad.perm" });
    const r = await kg.createRole(ctx, { name: "bad.role" });
    const { keyId } = await kg.createKey(ctx, { permissions: ["bad.perm"], roles: ["bad.role"] });
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
    const links = await kg.linked(keyId);
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
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before);
    assert.deepEqual(await kg.linked(keyId), links);
  });

  test("an element with neither id nor name ⇒ 400 `<field>.<i>: provide either an id or a name`; nothing written", async () => {
    const ctx = await kg.setup();
    const p = await kg.createPermission(ctx, { name: "none.perm" });
    const r = await kg.createRole(ctx, { name: "none.role" });
    await kg.createPermission(ctx, { name: "other.perm" });
    await kg.createRole(ctx, { name: "other.role" });
    const { keyId } = await kg.createKey(ctx, { permissions: ["none.perm"], roles: ["none.role"] });
    const before = await kg.counts(RBAC_TABLES, ctx.workspaceId);
    const links = await kg.linked(keyId);
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
    assert.deepEqual(await kg.linked(keyId), links, "links changed");
    assert.deepEqual(await kg.counts(RBAC_TABLES, ctx.workspaceId), before, "rows written");
  });
});
