// The verification cache (issue "fast verification"): a warm key verifies without reading
// storage, yet every change made through keygate is seen by the very next verification this
// isolate serves; a change made behind keygate's back (as another isolate's would be on the edge)
// is seen after VERIFY_CACHE_TTL_MS, and never with 0.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startKeygate, ok, uniq, at, midWindow } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

/** A key verified once (so its data is cached), and its id. */
async function warmKey(body = {}, extra = {}) {
  const created = await kg.createKey(s, body);
  assert.equal((await kg.verify(created.key, extra)).code, "VALID");
  assert.equal((await kg.verify(created.key, extra)).code, "VALID");
  return created;
}

describe("a change through keygate is seen by the next verification", () => {
  test("updateKey: disabled, expired, re-enabled", async () => {
    const { key, keyId } = await warmKey();
    await ok(kg.post("keys.updateKey", { keyId, enabled: false }, s.rootKey));
    assert.equal((await kg.verify(key)).code, "DISABLED");
    await ok(kg.post("keys.updateKey", { keyId, enabled: true, expires: Date.now() - 1000 }, s.rootKey));
    assert.equal((await kg.verify(key)).code, "EXPIRED");
    await ok(kg.post("keys.updateKey", { keyId, expires: null }, s.rootKey));
    assert.equal((await kg.verify(key)).code, "VALID");
  });

  test("expiry is decided at every verification, not cached as a verdict", async () => {
    const { key } = await warmKey({ expires: Date.now() + 60_000 });
    assert.equal((await kg.verify(key, {}, { "X-Test-Now": String(Date.now() + 120_000) })).code, "EXPIRED");
    assert.equal((await kg.verify(key)).code, "VALID");
  });

  test("deleteKey", async () => {
    const { key, keyId } = await warmKey();
    await ok(kg.post("keys.deleteKey", { keyId }, s.rootKey));
    assert.equal((await kg.verify(key)).code, "NOT_FOUND");
  });

  test("a key's permissions, its roles, and a role's permissions", async () => {
    const perm = uniq("cache.perm");
    await ok(kg.post("permissions.createPermission", { name: perm }, s.rootKey));
    const role = await ok(kg.post("permissions.createRole", { name: uniq("cache-role"), permissions: [perm] }, s.rootKey));
    const query = { authorization: { permissions: perm } };
    const { key, keyId } = await warmKey();
    assert.equal((await kg.verify(key, query)).code, "INSUFFICIENT_PERMISSIONS");
    await ok(kg.post("keys.addRoles", { keyId, roles: [{ id: role.roleId }] }, s.rootKey));
    assert.equal((await kg.verify(key, query)).code, "VALID");
    // the role loses its permission (deleted): every key holding the role loses it at once
    const [held] = (await ok(kg.get("permissions.getRole", { roleId: role.roleId }, s.rootKey))).permissions;
    await ok(kg.post("permissions.deletePermission", { permissionId: held.id }, s.rootKey));
    assert.equal((await kg.verify(key, query)).code, "INSUFFICIENT_PERMISSIONS");
    await ok(kg.post("keys.addPermissions", { keyId, permissions: [{ name: perm, create: true }] }, s.rootKey));
    assert.equal((await kg.verify(key, query)).code, "VALID");
    await ok(kg.post("keys.removePermissions", { keyId, permissions: [{ name: perm }] }, s.rootKey));
    assert.equal((await kg.verify(key, query)).code, "INSUFFICIENT_PERMISSIONS");
  });

  test("identity changes: meta and rate limits", async () => {
    const externalId = uniq("cache-identity");
    const { key } = await warmKey({ externalId });
    const identityId = (await kg.verify(key)).identity.id;
    await ok(kg.post("identities.updateIdentity", { identityId, meta: { plan: "pro" }, ratelimits: [{ name: "tokens", limit: 1, duration: 60_000 }] }, s.rootKey));
    // both in one window of the new limit (the cache goes by the wall clock, not by this one)
    const t = at(midWindow(60_000));
    const v = await kg.verify(key, {}, t);
    assert.deepEqual(v.identity.meta, { plan: "pro" });
    assert.equal(v.code, "VALID");
    assert.equal((await kg.verify(key, {}, t)).code, "RATE_LIMITED");
  });

  test("an api's IP whitelist and the api's deletion", async () => {
    const api = await ok(kg.post("apis.createApi", { name: "cache-api" }, s.rootKey));
    const ctx = { apiId: api.apiId, rootKey: s.rootKey };
    const { key } = await kg.createKey(ctx, {});
    assert.equal((await kg.verify(key)).code, "VALID");
    await kg.admin("updateApi", { apiId: api.apiId, ipWhitelist: "100.100.100.100" });
    assert.equal((await kg.verify(key)).code, "FORBIDDEN");
    await kg.admin("updateApi", { apiId: api.apiId, ipWhitelist: null });
    assert.equal((await kg.verify(key)).code, "VALID");
    await ok(kg.post("apis.deleteApi", { apiId: api.apiId }, s.rootKey));
    assert.equal((await kg.verify(key)).code, "NOT_FOUND");
  });

  test("a workspace disabled and enabled again", async () => {
    const other = await kg.setup();
    const { key } = await kg.createKey(other, {});
    assert.equal((await kg.verify(key)).code, "VALID");
    await kg.admin("updateWorkspace", { workspaceId: other.workspaceId, enabled: false });
    const r = await kg.verifyKey({ key });
    assert.equal(r.status, 403, r.text);
    await kg.admin("updateWorkspace", { workspaceId: other.workspaceId, enabled: true });
    assert.equal((await kg.verify(key)).code, "VALID");
  });

  test("a key that did not exist verifies as soon as it is imported", async () => {
    const plaintext = `imported_${uniq("k")}_${Date.now()}`;
    assert.equal((await kg.verify(plaintext)).code, "NOT_FOUND");
    await ok(kg.post("migrations.createKeys", [{ apiId: s.apiId, plaintext }], s.rootKey));
    assert.equal((await kg.verify(plaintext)).code, "VALID");
  });
});

describe("changes behind keygate's back (another isolate's, on the edge)", () => {
  const disableBehind = (keyId) => kg.db.prepare("UPDATE keys SET enabled = 0 WHERE id = ?").bind(keyId).run();

  test("are not seen while the cached entry is young (the default TTL)", async () => {
    const { key, keyId } = await warmKey();
    await disableBehind(keyId);
    assert.equal((await kg.verify(key)).code, "VALID");
  });

  test("are not seen after changes through keygate elsewhere (other workspaces, other keys), but after a workspace-wide one", async () => {
    const mine = await kg.setup();
    const elsewhere = await kg.setup();
    const { key, keyId } = await kg.createKey(mine, {});
    const sibling = await kg.createKey(mine, {});
    const stranger = await kg.createKey(elsewhere, {});
    for (const k of [key, sibling.key, stranger.key]) assert.equal((await kg.verify(k)).code, "VALID");
    await disableBehind(keyId);
    // another workspace's key, its api and the workspace itself change: this key stays cached
    await ok(kg.post("keys.updateKey", { keyId: stranger.keyId, enabled: false }, elsewhere.rootKey));
    await ok(kg.post("apis.createApi", { name: "another" }, elsewhere.adminRootKey));
    await kg.admin("updateWorkspace", { workspaceId: elsewhere.workspaceId, enabled: true });
    assert.equal((await kg.verify(stranger.key)).code, "DISABLED", "the other workspace's change is seen there");
    assert.equal((await kg.verify(key)).code, "VALID", "cached: the change behind keygate's back is not seen yet");
    // another key of its own workspace changes (updateKey, updateRemaining, its roles, a reroll):
    // seen for that key, this one stays cached
    await ok(kg.post("keys.updateKey", { keyId: sibling.keyId, enabled: false }, mine.rootKey));
    await ok(kg.post("keys.updateRemaining", { keyId: sibling.keyId, op: "set", value: 5 }, mine.rootKey));
    await ok(kg.post("keys.addPermissions", { keyId: sibling.keyId, permissions: [{ name: uniq("p"), create: true }] }, mine.rootKey));
    assert.equal((await kg.verify(sibling.key)).code, "DISABLED", "the other key's change is seen");
    assert.equal((await kg.verify(key)).code, "VALID", "still cached after another key's changes");
    // a change of the workspace that may touch many keys (a new role): read again
    await ok(kg.post("permissions.createRole", { name: uniq("cache-role") }, mine.rootKey));
    assert.equal((await kg.verify(key)).code, "DISABLED");
  });

  test("are seen on the next verification with VERIFY_CACHE_TTL_MS=0", async () => {
    const kg0 = await startKeygate({ bindings: { VERIFY_CACHE_TTL_MS: "0" } });
    try {
      const s0 = await kg0.setup();
      const { key, keyId } = await kg0.createKey(s0, {});
      assert.equal((await kg0.verify(key)).code, "VALID");
      await kg0.db.prepare("UPDATE keys SET enabled = 0 WHERE id = ?").bind(keyId).run();
      assert.equal((await kg0.verify(key)).code, "DISABLED");
    } finally {
      await kg0.stop();
    }
  });

  test("are seen once VERIFY_CACHE_TTL_MS has passed", async () => {
    const short = await startKeygate({ bindings: { VERIFY_CACHE_TTL_MS: "300" } });
    try {
      const s1 = await short.setup();
      const { key, keyId } = await short.createKey(s1, {});
      assert.equal((await short.verify(key)).code, "VALID");
      await short.db.prepare("UPDATE keys SET enabled = 0 WHERE id = ?").bind(keyId).run();
      await sleep(700);
      assert.equal((await short.verify(key)).code, "DISABLED");
    } finally {
      await short.stop();
    }
  });
});
