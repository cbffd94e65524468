// v2 permissions.* through the stock @unkey/api 2.5.1 SDK: create/get/list/delete permission and
// role, setRolePermissions. Contract: shared/spec/v2-api.md §4.16.
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

describe("permissions", () => {
  test("create, get by id or slug, delete", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.permissions.createPermission({ name: "Read documents", slug: "documents.read", description: "read them" });
    assert.match(data.permissionId, /^perm_/);
    for (const permission of [data.permissionId, "documents.read"]) {
      assert.deepEqual((await unkey.permissions.getPermission({ permission })).data, {
        id: data.permissionId,
        name: "Read documents",
        slug: "documents.read",
        description: "read them",
      });
    }
    await sdkError(assert, unkey.permissions.createPermission({ name: "Other", slug: "documents.read" }), errors.ConflictErrorResponse, 409, "unkey/data/permission_already_exists");
    await sdkError(assert, unkey.permissions.createPermission({ name: "x", slug: "bad slug" }), errors.BadRequestErrorResponse, 400);
    // slugs may hold `*` and `:` in v2
    await unkey.permissions.createPermission({ name: "wild", slug: "api.*:read" });
    assert.deepEqual((await unkey.permissions.deletePermission({ permission: "documents.read" })).data, {});
    await sdkError(assert, unkey.permissions.getPermission({ permission: data.permissionId }), errors.NotFoundErrorResponse, 404, "unkey/data/permission_not_found");
    await sdkError(assert, unkey.permissions.deletePermission({ permission: "documents.read" }), errors.NotFoundErrorResponse, 404);
  });

  test("listPermissions pages and searches", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const ids = [];
    for (const slug of ["a.read", "a.write", "b.read", "c.admin"]) {
      ids.push((await unkey.permissions.createPermission({ name: slug.toUpperCase(), slug })).data.permissionId);
    }
    ids.sort();
    const first = await unkey.permissions.listPermissions({ limit: 3 });
    assert.deepEqual(first.result.data.map((p) => p.id), ids.slice(0, 3));
    assert.deepEqual(first.result.pagination, { cursor: ids[3], hasMore: true });
    const rest = await first.next();
    assert.deepEqual(rest.result.data.map((p) => p.id), ids.slice(3));
    assert.deepEqual(rest.result.pagination, { hasMore: false });
    assert.equal(await rest.next(), null);
    const reads = await unkey.permissions.listPermissions({ search: "read" });
    assert.deepEqual(reads.result.data.map((p) => p.slug).sort(), ["a.read", "b.read"]);
  });
});

describe("roles", () => {
  test("createRole with permissions (created when missing), get by id or name, delete", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createPermission({ name: "existing", slug: "doc.read" });
    const { data } = await unkey.permissions.createRole({ name: "editor", description: "edits", permissions: ["doc.read", "doc.write", "DOC.WRITE"] });
    assert.match(data.roleId, /^role_/);
    for (const role of [data.roleId, "editor"]) {
      const got = (await unkey.permissions.getRole({ role })).data;
      assert.equal(got.id, data.roleId);
      assert.equal(got.name, "editor");
      assert.equal(got.description, "edits");
      assert.deepEqual(got.permissions.map((p) => p.slug).sort(), ["doc.read", "doc.write"]);
    }
    await sdkError(assert, unkey.permissions.createRole({ name: "editor" }), errors.ConflictErrorResponse, 409, "unkey/data/role_already_exists");
    assert.deepEqual((await unkey.permissions.deleteRole({ role: "editor" })).data, {});
    await sdkError(assert, unkey.permissions.getRole({ role: data.roleId }), errors.NotFoundErrorResponse, 404, "unkey/data/role_not_found");
    // deleteRole lists no 404 in the SDK: a JSON 404 is an APIError
    await sdkError(assert, unkey.permissions.deleteRole({ role: "editor" }), errors.APIError, 404);
  });

  test("rights: create_role, add_permission_to_role with permissions, create_permission for new slugs", async () => {
    const ctx = await workspaceV2(kg);
    const creator = await kg.rootKey(ctx.workspaceId, ["rbac.*.create_role"]);
    assert.match((await sdk(kg, creator).permissions.createRole({ name: "bare" })).data.roleId, /^role_/);
    await sdkError(assert, sdk(kg, creator).permissions.createRole({ name: "filled", permissions: ["p.q"] }), errors.ForbiddenErrorResponse, 403);
    const filler = await kg.rootKey(ctx.workspaceId, ["rbac.*.create_role", "rbac.*.add_permission_to_role"]);
    await sdkError(assert, sdk(kg, filler).permissions.createRole({ name: "filled", permissions: ["p.q"] }), errors.ForbiddenErrorResponse, 403);
    assert.equal((await kg.row("SELECT COUNT(*) AS n FROM roles WHERE workspace_id = ?", ctx.workspaceId)).n, 1);
    await sdk(kg, ctx.admin).permissions.createPermission({ name: "pq", slug: "p.q" });
    assert.match((await sdk(kg, filler).permissions.createRole({ name: "filled", permissions: ["p.q"] })).data.roleId, /^role_/);
    await sdkError(assert, sdk(kg, filler).permissions.listRoles({}), errors.ForbiddenErrorResponse, 403);
  });

  test("listRoles pages with their permissions; setRolePermissions sets exactly", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const byName = {};
    for (const name of ["r.a", "r.b", "r.c"]) byName[name] = (await unkey.permissions.createRole({ name, permissions: [`${name}.perm`] })).data.roleId;
    const ids = Object.values(byName).sort();
    const first = await unkey.permissions.listRoles({ limit: 2 });
    assert.deepEqual(first.result.data.map((r) => r.id), ids.slice(0, 2));
    assert.equal(first.result.pagination.cursor, ids[2]);
    assert.ok(first.result.data.every((r) => r.permissions.length === 1));
    const set = await unkey.permissions.setRolePermissions({ roleId: byName["r.a"], permissions: ["z.two", "z.one"] });
    assert.deepEqual(set.data.map((p) => p.slug), ["z.one", "z.two"]);
    assert.deepEqual((await unkey.permissions.getRole({ role: byName["r.a"] })).data.permissions.map((p) => p.slug).sort(), ["z.one", "z.two"]);
    const cleared = await unkey.permissions.setRolePermissions({ roleId: byName["r.a"], permissions: [] });
    assert.deepEqual(cleared.data, []);
    assert.equal((await unkey.permissions.getRole({ role: byName["r.a"] })).data.permissions, undefined);
    await sdkError(assert, unkey.permissions.setRolePermissions({ roleId: "role_nope", permissions: [] }), errors.NotFoundErrorResponse, 404, "unkey/data/role_not_found");
    const half = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_role"]);
    await sdkError(assert, sdk(kg, half).permissions.setRolePermissions({ roleId: byName["r.c"], permissions: [] }), errors.ForbiddenErrorResponse, 403);
    // a role's permissions decide verifications of keys holding it
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, roles: ["r.b"] });
    assert.equal((await unkey.keys.verifyKey({ key: data.key, permissions: "r.b.perm" })).data.valid, true);
    await unkey.permissions.setRolePermissions({ roleId: byName["r.b"], permissions: ["other"] });
    assert.equal((await unkey.keys.verifyKey({ key: data.key, permissions: "r.b.perm" })).data.code, "INSUFFICIENT_PERMISSIONS");
  });

  test("bad input is 400 and writes nothing", async () => {
    const ctx = await workspaceV2(kg);
    for (const [route, body] of [
      ["permissions.createRole", { name: "" }],
      ["permissions.createRole", { name: "x", permissions: ["has space"] }],
      ["permissions.createPermission", { name: "x" }],
      ["permissions.setRolePermissions", { roleId: "role/x", permissions: [] }],
      ["permissions.listRoles", { limit: 0 }],
      ["permissions.getRole", { role: "x", extra: 1 }],
    ]) {
      expectV2Error(assert, await v2(kg, route, body, ctx.admin), 400, "unkey/application/invalid_input");
    }
    assert.equal((await kg.row("SELECT COUNT(*) AS n FROM roles WHERE workspace_id = ?", ctx.workspaceId)).n, 0);
  });
});
