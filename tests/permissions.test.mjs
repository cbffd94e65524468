import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, uniq } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

/** Everything the permission routes write (kg.counts), to show a refused call wrote nothing. */
const TABLES = ["permissions", "roles", "roles_permissions", "audit_log"];

describe("permissions through the SDK", () => {
  test("create, get, list and delete a permission", async () => {
    const unkey = kg.sdk(s.rootKey);
    const created = await unkey.permissions.createPermission({ name: "record.write", slug: "records-write", description: "Can write records" });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const id = created.result.permissionId;
    assert.match(id, /^perm_[1-9A-HJ-NP-Za-km-z]+$/);
    assert.deepEqual(Object.keys(created.result), ["permissionId"]);

    const got = await unkey.permissions.getPermission({ permissionId: id });
    assert.deepEqual(got.result, { id, name: "record.write", slug: "records-write", description: "Can write records" });

    const listed = await unkey.permissions.listPermissions();
    assert.ok(Array.isArray(listed.result));
    assert.deepEqual(listed.result.find((p) => p.id === id), got.result);

    const row = await kg.row("SELECT workspace_id, name, slug, description, created_at_m FROM permissions WHERE id = ?", id);
    assert.equal(row.workspace_id, s.workspaceId);
    assert.ok(row.created_at_m > 0);
    const audit = await kg.row(
      "SELECT l.event, l.actor_type, t.type, t.name FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND l.event = 'permission.create'",
      id,
    );
    assert.deepEqual(audit, { event: "permission.create", actor_type: "key", type: "permission", name: "record.write" });

    const deleted = await unkey.permissions.deletePermission({ permissionId: id });
    assert.deepEqual(deleted, { result: {} });
    assert.equal(await kg.row("SELECT id FROM permissions WHERE id = ?", id), null);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND l.event = 'permission.delete'", id), 1);
    const again = await unkey.permissions.getPermission({ permissionId: id });
    assert.equal(again.error.code, "NOT_FOUND");
    assert.equal(again.error.message, `permission ${id} not found`);
  });

  test("create, get, list and delete a role", async () => {
    const unkey = kg.sdk(s.rootKey);
    const created = await unkey.permissions.createRole({ name: "dns manager (all zones)", description: "Manages DNS" });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const id = created.result.roleId;
    assert.match(id, /^role_/);
    const got = await unkey.permissions.getRole({ roleId: id });
    assert.deepEqual(got.result, { id, name: "dns manager (all zones)", description: "Manages DNS", permissions: [] });
    const listed = await unkey.permissions.listRoles();
    assert.deepEqual(listed.result.find((r) => r.id === id), got.result);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND l.event = 'role.create' AND t.type = 'role'", id), 1);

    assert.deepEqual(await unkey.permissions.deleteRole({ roleId: id }), { result: {} });
    assert.equal(await kg.row("SELECT id FROM roles WHERE id = ?", id), null);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND l.event = 'role.delete'", id), 1);
    const again = await unkey.permissions.getRole({ roleId: id });
    assert.equal(again.error.message, `role ${id} not found`);
  });
});

describe("permissions.createPermission", () => {
  test("slug defaults to the name; description is optional and may be empty", async () => {
    const name = uniq("defaults");
    const id = await kg.createPermission(s, { name });
    assert.deepEqual((await kg.get("permissions.getPermission", { permissionId: id }, s.rootKey)).body, { id, name, slug: name });
    const empty = await kg.createPermission(s, { name: uniq("empty-desc"), description: "" });
    assert.equal((await kg.get("permissions.getPermission", { permissionId: empty }, s.rootKey)).body.description, "");
  });

  test("duplicate name or slug is a 409 and writes nothing", async () => {
    const name = uniq("dup");
    await kg.createPermission(s, { name, slug: `${name}-slug` });
    const before = await kg.counts(TABLES, s.workspaceId);
    expectError(assert, await kg.post("permissions.createPermission", { name }, s.rootKey), 409, "CONFLICT",
      `Permission with name "${name}" already exists in this workspace`);
    // another name with a taken slug
    const other = uniq("dup-other");
    expectError(assert, await kg.post("permissions.createPermission", { name: other, slug: `${name}-slug` }, s.rootKey), 409, "CONFLICT",
      `Permission with name "${other}" already exists in this workspace`);
    // a name equal to another permission's slug defaults the slug to a taken value
    expectError(assert, await kg.post("permissions.createPermission", { name: `${name}-slug` }, s.rootKey), 409, "CONFLICT");
    assert.deepEqual(await kg.counts(TABLES, s.workspaceId), before);
    // the same name is fine in another workspace
    const ws2 = await kg.setup();
    assert.equal((await kg.post("permissions.createPermission", { name }, ws2.rootKey)).status, 200);
  });

  test("bad input is a 400 naming the field and writes nothing", async () => {
    const before = await kg.counts(TABLES, s.workspaceId);
    const bad = async (body, message) =>
      expectError(assert, await kg.post("permissions.createPermission", body, s.rootKey), 400, "BAD_REQUEST", message);
    const charset = "Only alphanumeric, underscores, periods, colons and hyphens are allowed";
    await bad({}, "name: Required");
    await bad({ name: 42 }, "name: Expected string, received number");
    await bad({ name: "ab" }, "name: String must contain at least 3 character(s)");
    await bad({ name: "x".repeat(257) }, "name: String must contain at most 256 character(s)");
    await bad({ name: "has space" }, `name: ${charset}`);
    // "*" is not an identifier character (it only appears in root-key permission names)
    await bad({ name: "api.*.read_key" }, `name: ${charset}`);
    await bad({ name: "valid.name", slug: "sl" }, "slug: String must contain at least 3 character(s)");
    await bad({ name: "valid.name", slug: "bad/slug" }, `slug: ${charset}`);
    await bad({ name: "valid.name", description: "ab" }, "description: String must contain at least 3 character(s)");
    await bad({ name: "valid.name", description: "d".repeat(257) }, "description: String must contain at most 256 character(s)");
    await bad({ name: "valid.name", description: 5 }, "description: Expected string, received number");
    assert.deepEqual(await kg.counts(TABLES, s.workspaceId), before);
    assert.equal(await kg.row("SELECT id FROM permissions WHERE name = 'valid.name'"), null);
  });
});

describe("permissions.* root-key permissions", () => {
  test("each route needs its own rbac permission (or *)", async () => {
    const ws = s.workspaceId;
    const createOnly = await kg.rootKey(ws, ["rbac.*.create_permission"]);
    const readOnly = await kg.rootKey(ws, ["rbac.*.read_permission"]);
    const deleteOnly = await kg.rootKey(ws, ["rbac.*.delete_permission"]);
    const id = await kg.createPermission({ rootKey: createOnly }, { name: uniq("scoped") });
    expectError(assert, await kg.get("permissions.getPermission", { permissionId: id }, createOnly), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"rbac.*.read_permission"'], have: ['"rbac.*.create_permission"']`);
    expectError(assert, await kg.get("permissions.listPermissions", {}, createOnly), 403, "INSUFFICIENT_PERMISSIONS");
    expectError(assert, await kg.post("permissions.deletePermission", { permissionId: id }, readOnly), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"rbac.*.delete_permission"'], have: ['"rbac.*.read_permission"']`);
    expectError(assert, await kg.post("permissions.createPermission", { name: uniq("nope") }, readOnly), 403, "INSUFFICIENT_PERMISSIONS");
    // role routes need role permissions, permission permissions do not help
    expectError(assert, await kg.post("permissions.createRole", { name: uniq("role") }, createOnly), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"rbac.*.create_role"'], have: ['"rbac.*.create_permission"']`);
    expectError(assert, await kg.get("permissions.listRoles", {}, readOnly), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await kg.get("permissions.getPermission", { permissionId: id }, readOnly)).status, 200);
    assert.equal((await kg.get("permissions.listPermissions", {}, readOnly)).status, 200);
    assert.equal((await kg.post("permissions.deletePermission", { permissionId: id }, deleteOnly)).status, 200);

    const roleCreate = await kg.rootKey(ws, ["rbac.*.create_role"]);
    const roleRead = await kg.rootKey(ws, ["rbac.*.read_role"]);
    const roleDelete = await kg.rootKey(ws, ["rbac.*.delete_role"]);
    const roleId = await kg.createRole({ rootKey: roleCreate }, { name: uniq("scoped-role") });
    expectError(assert, await kg.get("permissions.getRole", { roleId }, roleCreate), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"rbac.*.read_role"'], have: ['"rbac.*.create_role"']`);
    expectError(assert, await kg.post("permissions.deleteRole", { roleId }, roleRead), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"rbac.*.delete_role"'], have: ['"rbac.*.read_role"']`);
    assert.equal((await kg.get("permissions.getRole", { roleId }, roleRead)).status, 200);
    assert.equal((await kg.get("permissions.listRoles", {}, roleRead)).status, 200);
    assert.equal((await kg.post("permissions.deleteRole", { roleId }, roleDelete)).status, 200);
  });

  test("no credentials", async () => {
    expectError(assert, await kg.get("permissions.listPermissions", {}), 403, "UNAUTHORIZED", "key required");
    expectError(assert, await kg.post("permissions.createRole", { name: "nope-role" }, "not-a-key"), 403, "UNAUTHORIZED", "key not found");
  });
});

describe("not found and workspace scoping", () => {
  test("unknown ids", async () => {
    expectError(assert, await kg.get("permissions.getPermission", { permissionId: "perm_nope" }, s.rootKey), 404, "NOT_FOUND", "permission perm_nope not found");
    expectError(assert, await kg.post("permissions.deletePermission", { permissionId: "perm_nope" }, s.rootKey), 404, "NOT_FOUND", "Permission perm_nope not found");
    expectError(assert, await kg.get("permissions.getRole", { roleId: "role_nope" }, s.rootKey), 404, "NOT_FOUND", "role role_nope not found");
    expectError(assert, await kg.post("permissions.deleteRole", { roleId: "role_nope" }, s.rootKey), 404, "NOT_FOUND", "Role role_nope not found");
    expectError(assert, await kg.get("permissions.getPermission", {}, s.rootKey), 400, "BAD_REQUEST", "permissionId: Required");
    expectError(assert, await kg.post("permissions.deleteRole", {}, s.rootKey), 400, "BAD_REQUEST", "roleId: Required");
  });

  test("another workspace's permissions and roles are 404 and untouched", async () => {
    const other = await kg.setup();
    const perm = await kg.createPermission(other, { name: "other.perm" });
    const role = await kg.createRole(other, { name: "other role", permissions: ["other.perm"] });
    expectError(assert, await kg.get("permissions.getPermission", { permissionId: perm }, s.rootKey), 404, "NOT_FOUND", `permission ${perm} not found`);
    expectError(assert, await kg.post("permissions.deletePermission", { permissionId: perm }, s.rootKey), 404, "NOT_FOUND", `Permission ${perm} not found`);
    expectError(assert, await kg.get("permissions.getRole", { roleId: role }, s.rootKey), 404, "NOT_FOUND", `role ${role} not found`);
    expectError(assert, await kg.post("permissions.deleteRole", { roleId: role }, s.rootKey), 404, "NOT_FOUND", `Role ${role} not found`);
    const perms = (await kg.get("permissions.listPermissions", {}, s.rootKey)).body;
    assert.ok(perms.length > 0);
    assert.ok(perms.every((p) => p.id !== perm));
    assert.ok((await kg.get("permissions.listRoles", {}, s.rootKey)).body.every((r) => r.id !== role));
    // another workspace's permission cannot be put into a role
    expectError(assert, await kg.post("permissions.createRole", { name: uniq("steal"), permissions: ["other.perm"] }, s.rootKey), 404, "NOT_FOUND", "permission other.perm not found");
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE id = ?", perm), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles_permissions WHERE role_id = ?", role), 1);
    // and the other workspace sees exactly its own
    assert.deepEqual((await kg.get("permissions.listPermissions", {}, other.rootKey)).body, [{ id: perm, name: "other.perm", slug: "other.perm" }]);
    assert.deepEqual((await kg.get("permissions.listRoles", {}, other.rootKey)).body, [
      { id: role, name: "other role", permissions: [{ id: perm, name: "other.perm", slug: "other.perm" }] },
    ]);
  });
});

describe("roles", () => {
  test("duplicate role name is a 409 and writes nothing", async () => {
    const name = uniq("Role Name");
    await kg.createRole(s, { name });
    const before = await kg.counts(TABLES, s.workspaceId);
    expectError(assert, await kg.post("permissions.createRole", { name }, s.rootKey), 409, "CONFLICT",
      `Role with name "${name}" already exists in this workspace`);
    assert.deepEqual(await kg.counts(TABLES, s.workspaceId), before);
  });

  test("bad input is a 400 naming the field and writes nothing", async () => {
    const before = await kg.counts(TABLES, s.workspaceId);
    const bad = async (body, message) =>
      expectError(assert, await kg.post("permissions.createRole", body, s.rootKey), 400, "BAD_REQUEST", message);
    await bad({}, "name: Required");
    await bad({ name: "ab" }, "name: String must contain at least 3 character(s)");
    await bad({ name: "r".repeat(257) }, "name: String must contain at most 256 character(s)");
    await bad({ name: "fine role", description: "no" }, "description: String must contain at least 3 character(s)");
    await bad({ name: "fine role", permissions: "record.read" }, "permissions: Expected array, received string");
    await bad({ name: "fine role", permissions: [1] }, "permissions.0: Expected string, received number");
    assert.deepEqual(await kg.counts(TABLES, s.workspaceId), before);
  });

  test("createRole connects existing permissions by slug or name (keygate extension)", async () => {
    const read = await kg.createPermission(s, { name: uniq("Read.records"), slug: uniq("records.read") });
    const readRow = await kg.row("SELECT name, slug FROM permissions WHERE id = ?", read);
    const write = await kg.createPermission(s, { name: uniq("records.write") });
    const writeRow = await kg.row("SELECT name, slug FROM permissions WHERE id = ?", write);
    const unkey = kg.sdk(s.rootKey);
    // by slug, by name, and the same permission twice
    const created = await unkey.permissions.createRole({ name: uniq("editor"), permissions: [readRow.slug, writeRow.name, readRow.name] });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const roleId = created.result.roleId;
    const expected = [
      { id: read, name: readRow.name, slug: readRow.slug },
      { id: write, name: writeRow.name, slug: writeRow.slug },
    ].sort((a, b) => (a.id < b.id ? -1 : 1));
    const got = (await unkey.permissions.getRole({ roleId })).result;
    assert.deepEqual(got.permissions, expected);
    assert.equal(got.description, undefined);
    const listed = (await unkey.permissions.listRoles()).result.find((r) => r.id === roleId);
    assert.deepEqual(listed.permissions, expected);
    const links = await kg.rows("SELECT permission_id, workspace_id FROM roles_permissions WHERE role_id = ? ORDER BY permission_id", roleId);
    assert.deepEqual(links, expected.map((p) => ({ permission_id: p.id, workspace_id: s.workspaceId })));
    // the audit log names the role and its permissions
    const targets = await kg.rows(
      "SELECT t.type, t.id FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.event = 'role.create' AND l.id = (SELECT audit_log_id FROM audit_log_target WHERE id = ?) ORDER BY t.type, t.id",
      roleId,
    );
    assert.deepEqual(targets, [...expected.map((p) => ({ type: "permission", id: p.id })), { type: "role", id: roleId }]);
  });

  test("an unknown permission in createRole is a 404 and nothing is written", async () => {
    const known = await kg.createPermission(s, { name: uniq("known") });
    const knownName = (await kg.row("SELECT name FROM permissions WHERE id = ?", known)).name;
    const before = await kg.counts(TABLES, s.workspaceId);
    const name = uniq("never");
    expectError(assert, await kg.post("permissions.createRole", { name, permissions: [knownName, "does.not.exist", "neither"] }, s.rootKey),
      404, "NOT_FOUND", "permission does.not.exist not found");
    assert.deepEqual(await kg.counts(TABLES, s.workspaceId), before);
    assert.equal(await kg.row("SELECT id FROM roles WHERE name = ?", name), null);
    // an empty list is a role without permissions
    const empty = await kg.createRole(s, { name, permissions: [] });
    assert.deepEqual((await kg.get("permissions.getRole", { roleId: empty }, s.rootKey)).body.permissions, []);
  });

  test("deleting a permission removes its key and role links only", async () => {
    const p1 = await kg.createPermission(s, { name: uniq("cascade.one") });
    const p2 = await kg.createPermission(s, { name: uniq("cascade.two") });
    const slugs = await kg.rows("SELECT id, slug FROM permissions WHERE id IN (?, ?) ORDER BY id", p1, p2);
    const role = await kg.createRole(s, { name: uniq("cascade role"), permissions: slugs.map((p) => p.slug) });
    await kg.db.batch([
      kg.db.prepare("INSERT INTO keys_permissions (key_id, permission_id, workspace_id) VALUES ('key_cascade', ?, ?)").bind(p1, s.workspaceId),
      kg.db.prepare("INSERT INTO keys_permissions (key_id, permission_id, workspace_id) VALUES ('key_cascade', ?, ?)").bind(p2, s.workspaceId),
    ]);
    assert.equal((await kg.post("permissions.deletePermission", { permissionId: p1 }, s.rootKey)).status, 200);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE permission_id = ?", p1), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles_permissions WHERE permission_id = ?", p1), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE permission_id = ?", p2), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles_permissions WHERE permission_id = ?", p2), 1);
    const got = (await kg.get("permissions.getRole", { roleId: role }, s.rootKey)).body;
    assert.deepEqual(got.permissions.map((p) => p.id), [p2]);
    expectError(assert, await kg.post("permissions.deletePermission", { permissionId: p1 }, s.rootKey), 404, "NOT_FOUND", `Permission ${p1} not found`);
  });

  test("deleting a role removes its key and permission links, not the permissions", async () => {
    const p = await kg.createPermission(s, { name: uniq("kept") });
    const slug = (await kg.row("SELECT slug FROM permissions WHERE id = ?", p)).slug;
    const doomed = await kg.createRole(s, { name: uniq("doomed role"), permissions: [slug] });
    const survivor = await kg.createRole(s, { name: uniq("surviving role"), permissions: [slug] });
    await kg.db.batch([
      kg.db.prepare("INSERT INTO keys_roles (role_id, key_id, workspace_id) VALUES (?, 'key_roles', ?)").bind(doomed, s.workspaceId),
      kg.db.prepare("INSERT INTO keys_roles (role_id, key_id, workspace_id) VALUES (?, 'key_roles', ?)").bind(survivor, s.workspaceId),
    ]);
    assert.deepEqual((await kg.sdk(s.rootKey).permissions.deleteRole({ roleId: doomed })).result, {});
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_roles WHERE role_id = ?", doomed), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles_permissions WHERE role_id = ?", doomed), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_roles WHERE role_id = ?", survivor), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles_permissions WHERE role_id = ?", survivor), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE id = ?", p), 1);
    expectError(assert, await kg.post("permissions.deleteRole", { roleId: doomed }, s.rootKey), 404, "NOT_FOUND", `Role ${doomed} not found`);
  });

  test("concurrent creations of one name: exactly one succeeds", async () => {
    const name = uniq("race");
    const results = await Promise.all(Array.from({ length: 8 }, () => kg.post("permissions.createPermission", { name }, s.rootKey)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE name = ?", name), 1);
    const roleName = uniq("race role");
    const roles = await Promise.all(Array.from({ length: 8 }, () => kg.post("permissions.createRole", { name: roleName }, s.rootKey)));
    assert.equal(roles.filter((r) => r.status === 200).length, 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles WHERE name = ?", roleName), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.event = 'role.create' AND t.name = ?", roleName), 1);
  });
});
