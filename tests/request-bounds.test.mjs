// Hardening (issue 10): bounded request fields (item 4) and the rules of implicitly created roles
// and permissions (item 9); each refusal is a 400 naming the field, with nothing written.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

async function createKey(body = {}, api = s) {
  const r = await kg.post("keys.createKey", { apiId: api.apiId, ...body }, api.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}
const count = async (sql, ...args) => (await kg.row(`SELECT COUNT(*) AS n FROM ${sql}`, ...args)).n;

describe("item 4: bounded fields", () => {
  test("names, ids, meta and lists are bounded, with nothing written", async () => {
    const keys = await count("keys");
    const refused = [
      [{ name: "n".repeat(256) }, "name: String must contain at most 255 character(s)"],
      [{ externalId: "e".repeat(256) }, "externalId: String must contain at most 255 character(s)"],
      [{ ownerId: "o".repeat(256) }, "ownerId: String must contain at most 255 character(s)"],
      [{ roles: Array.from({ length: 1001 }, (_, i) => `role_${i}`) }, "roles: Array must contain at most 1000 element(s)"],
      [{ permissions: Array.from({ length: 1001 }, (_, i) => `perm.${i}`) }, "permissions: Array must contain at most 1000 element(s)"],
      [{ meta: { a: "x".repeat(64_000) } }, /^meta: metadata is too large, it must be less than 64k characters when json encoded, got: 64008$/],
    ];
    for (const [body, message] of refused) {
      expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, ...body }, s.rootKey), 400, "BAD_REQUEST", message);
    }
    assert.equal(await count("keys"), keys);
    // the limits are the documented ones
    const ok = await createKey({ name: "n".repeat(255), externalId: "e".repeat(255), meta: { a: "x".repeat(64_000 - 8) } });
    const { keyId } = ok;
    expectError(assert, await kg.post("keys.updateKey", { keyId, meta: { a: "x".repeat(64_000) } }, s.rootKey), 400, "BAD_REQUEST", /^meta: metadata is too large/);
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "n".repeat(256) }, s.rootKey), 400, "BAD_REQUEST", "name: String must contain at most 255 character(s)");
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: s.apiId, plaintext: "imported_key_1", meta: { a: "x".repeat(64_000) } }], s.rootKey), 400, "BAD_REQUEST", /^0.meta: metadata is too large/);
    expectError(assert, await kg.post("identities.createIdentity", { externalId: "x".repeat(256) }, s.rootKey), 400, "BAD_REQUEST", "externalId: String must contain at most 255 character(s)");
    assert.equal((await kg.get("keys.getKey", { keyId }, s.rootKey)).body.name, "n".repeat(255));
  });


  test("/openapi.json states the bounds", async () => {
    const doc = (await kg.call("/openapi.json")).body;
    const create = doc.paths["/v1/keys.createKey"].post.requestBody.content["application/json"].schema;
    assert.equal(create.properties.name.maxLength, 255);
    assert.equal(create.properties.externalId.maxLength, 255);
    assert.equal(create.properties.roles.maxItems, 1000);
    assert.match(create.properties.meta.description, /64,000/);
    assert.ok(doc.paths["/v1/keys.createKey"].post.responses["413"]);
  });
});

describe("item 9: implicitly created permissions and roles", () => {
  test("createKey creates no permission that createPermission would refuse", async () => {
    const before = [await count("keys"), await count("permissions"), await count("roles")];
    for (const [permissions, message] of [
      [["*"], "permissions.0: String must contain at least 3 character(s)"],
      [["fine.one", "has space"], "permissions.1: Only alphanumeric, underscores, periods, colons and hyphens are allowed"],
      [["api.*.read_key"], "permissions.0: Only alphanumeric, underscores, periods, colons and hyphens are allowed"],
    ]) {
      expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, permissions }, s.rootKey), 400, "BAD_REQUEST", message);
    }
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, roles: ["ab"] }, s.rootKey), 400, "BAD_REQUEST", "roles.0: String must contain at least 3 character(s)");
    assert.deepEqual([await count("keys"), await count("permissions"), await count("roles")], before);
    // the same rules when a key's permissions are created through the key routes
    const { keyId } = await createKey();
    const add = await kg.post("keys.addPermissions", { keyId, permissions: [{ slug: "a b c", create: true }] }, s.rootKey);
    expectError(assert, add, 400, "BAD_REQUEST", "permissions.0: Only alphanumeric, underscores, periods, colons and hyphens are allowed");
    const set = await kg.post("keys.setPermissions", { keyId, permissions: [{ slug: "*", create: true }] }, s.rootKey);
    expectError(assert, set, 400, "BAD_REQUEST", "permissions.0: String must contain at least 3 character(s)");
    assert.deepEqual([await count("permissions"), await count("roles")], before.slice(1));
    // valid names are still created
    assert.equal((await kg.post("keys.createKey", { apiId: s.apiId, permissions: ["dns.record:write-1"] }, s.rootKey)).status, 200);
  });

});
