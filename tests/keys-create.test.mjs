// Integration tests of keys.createKey (split from keys.test.mjs).
// Contract: shared/spec/v1-api.md §2.4, §2.5 (#3–#8, #18, #21), §4.4, §5.3 and
// shared/spec/decisions.md §1–§2 (which wins).
//
// "credits(x)" = a credits row for the key with remaining x; "legacy(x)" = keys.remaining_requests
// = x and no credits row. The legacy credit path cannot be created through the API (keygate's
// createKey always writes credits rows), so it is seeded with test-only D1 writes (kg.seedLegacy),
// as are the "legacy(x) + credits(y)" combinations (kg.seedCredits: credits rows with ids `cr_test_…`).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startKeygate, expectError, KEY_TABLES, sha256, base58Decode } from "./helpers.mjs";

let kg, s;
before(async () => {
  // the master key for recoverable keys (decisions.md §2: AES-256-GCM under ENCRYPTION_KEY)
  kg = await startKeygate({ bindings: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

/** Asserts the v1 key layout: base58([1, N, N random bytes]) after an optional `prefix_`. */
function assertKeyMaterial(key, { prefix, bytes }) {
  let secret = key;
  if (prefix) {
    assert.ok(key.startsWith(`${prefix}_`), `${key} starts with ${prefix}_`);
    secret = key.slice(prefix.length + 1);
  } else {
    assert.ok(!key.includes("_"), `${key} has no prefix`);
  }
  const decoded = base58Decode(secret);
  assert.equal(decoded[0], 1, "version byte");
  assert.equal(decoded[1], bytes, "byte length");
  assert.equal(decoded.length, bytes + 2);
}

// ---- keys.createKey ---------------------------------------------------------------------------

describe("keys.createKey", () => {
  test("remaining ⇒ a credits row, no legacy columns (SDK)", async () => {
    const unkey = kg.sdk(s.rootKey);
    const before = Date.now();
    const created = await unkey.keys.create({ apiId: s.apiId, remaining: 100 });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const { keyId, key } = created.result;
    assert.match(keyId, /^key_/);
    const row = await kg.creditsOf(keyId);
    assert.ok(row, "credits row");
    assert.match(row.id, /^cr_/);
    assert.equal(row.remaining, 100);
    assert.equal(row.key_id, keyId);
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal(row.identity_id, null);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.equal(row.refilled_at, null);
    assert.ok(row.created_at >= before);
    assert.deepEqual(await kg.legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    const got = await unkey.keys.get({ keyId });
    assert.equal(got.result.remaining, 100);
    assert.equal(got.result.refill, undefined);
    assert.equal(await kg.auditTargets(s.workspaceId, "key.create", keyId), 1);
    // the key verifies
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 99);
  });

  test("remaining + monthly refill on day 15 ⇒ credits 50/100/15 with refilled_at", async () => {
    const before = Date.now();
    const { keyId } = await kg.createKey(s, { remaining: 50, refill: { interval: "monthly", amount: 100, refillDay: 15 } });
    const row = await kg.creditsOf(keyId);
    assert.equal(row.remaining, 50);
    assert.equal(row.refill_amount, 100);
    assert.equal(row.refill_day, 15);
    assert.ok(row.refilled_at >= before && row.refilled_at <= Date.now() + 1000, `refilled_at ${row.refilled_at}`);
    assert.deepEqual(await kg.legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.remaining, 50);
    assert.deepEqual(got.refill, { interval: "monthly", amount: 100, refillDay: 15, lastRefillAt: row.refilled_at });
  });

  test("no remaining ⇒ no credits row and no legacy columns (not even refill_day)", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    assert.equal(await kg.creditsOf(keyId), null);
    assert.deepEqual(await kg.legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.remaining, undefined);
    assert.equal(got.refill, undefined);
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.code, "VALID");
    assert.equal(v.remaining, undefined);
  });

  test("remaining 5 then verify ⇒ valid, remaining 4, credits 4", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 5 });
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 4);
    assert.equal((await kg.creditsOf(keyId)).remaining, 4);
  });

  test("monthly refill without refillDay ⇒ refill_day 1; daily ⇒ refill_day NULL", async () => {
    const monthly = await kg.createKey(s, { remaining: 10, refill: { interval: "monthly", amount: 20 } });
    const m = await kg.creditsOf(monthly.keyId);
    assert.equal(m.refill_day, 1);
    assert.equal(m.refill_amount, 20);
    assert.equal(m.remaining, 10);
    assert.deepEqual((await kg.getKey(s, monthly.keyId)).refill, { interval: "monthly", amount: 20, refillDay: 1, lastRefillAt: m.refilled_at });

    const daily = await kg.createKey(s, { remaining: 10, refill: { interval: "daily", amount: 20 } });
    const d = await kg.creditsOf(daily.keyId);
    assert.equal(d.refill_day, null);
    assert.equal(d.refill_amount, 20);
    assert.ok(d.refilled_at > 0);
    assert.deepEqual((await kg.getKey(s, daily.keyId)).refill, { interval: "daily", amount: 20, refillDay: null, lastRefillAt: d.refilled_at });
  });

  test("cross-field credit rules of the spec, nothing written", async () => {
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: 0 }, s.rootKey), 400, "BAD_REQUEST", "remaining must be greater than 0.");
    // decisions.md §2: a negative remaining is a 400 like 0 (message not pinned; it must name remaining)
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: -5 }, s.rootKey), 400, "BAD_REQUEST", /remaining/);
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, refill: { interval: "monthly", amount: 100 } }, s.rootKey),
      400, "BAD_REQUEST", "remaining must be set if you are using refill.");
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: 10, refill: { interval: "daily", amount: 100, refillDay: 4 } }, s.rootKey),
      400, "BAD_REQUEST", "when interval is set to 'daily', 'refillDay' must be null.");
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
  });

  test("unknown, cross-workspace api ⇒ 404; recoverable on a non-encrypting api ⇒ 412", async () => {
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.createKey", { apiId: "api_nope" }, s.rootKey), 404, "NOT_FOUND", "api api_nope not found");
    const other = await kg.setup();
    expectError(assert, await kg.post("keys.createKey", { apiId: other.apiId }, s.rootKey), 404, "NOT_FOUND", `api ${other.apiId} not found`);
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, recoverable: true }, s.rootKey),
      412, "PRECONDITION_FAILED", `api ${s.apiId} does not support recoverable keys`);
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
  });

  test("an api without a keyspace ⇒ 412 (test-only D1 write: the API always creates one)", async () => {
    const apiId = await kg.otherApi(s);
    await kg.db.prepare("UPDATE apis SET key_auth_id = NULL WHERE id = ?").bind(apiId).run();
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.createKey", { apiId, remaining: 10 }, s.rootKey),
      412, "PRECONDITION_FAILED", `api ${apiId} is not setup to handle keys`);
    expectError(assert, await kg.get("apis.listKeys", { apiId }, s.rootKey), 412, "PRECONDITION_FAILED", `api ${apiId} is not setup to handle keys`);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId, plaintext: "no_keyspace_1" }], s.rootKey), 412, "PRECONDITION_FAILED");
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
  });

  test("bad input ⇒ 400 naming the field, nothing written", async () => {
    const before = await kg.counts(KEY_TABLES);
    const bad = [
      [{ remaining: 10 }, /^apiId: /, true],
      [{ apiId: s.apiId, ratelimit: { type: "x", limit: 10, duration: 60000 } }, /^ratelimit\.type: /],
      [{ apiId: s.apiId, ratelimit: { limit: 0, duration: 60000 } }, /^ratelimit\.limit: /],
      [{ apiId: s.apiId, ratelimit: { limit: 10, duration: 10 } }, /^ratelimit\.duration: /],
      [{ apiId: s.apiId, byteLength: 8 }, /^byteLength: /],
      [{ apiId: s.apiId, byteLength: 256 }, /^byteLength: /],
      [{ apiId: s.apiId, prefix: "p".repeat(17) }, /^prefix: /],
      [{ apiId: s.apiId, remaining: "ten" }, /^remaining: /],
      [{ apiId: s.apiId, remaining: 1.5 }, /^remaining: /],
      [{ apiId: s.apiId, remaining: 10, refill: { interval: "weekly", amount: 10 } }, /^refill\.interval: /],
      [{ apiId: s.apiId, remaining: 10, refill: { interval: "daily", amount: 0 } }, /^refill\.amount: /],
      [{ apiId: s.apiId, remaining: 10, refill: { interval: "monthly", amount: 10, refillDay: 32 } }, /^refill\.refillDay: /],
      [{ apiId: s.apiId, roles: [""] }, /^roles\.0: /],
      [{ apiId: s.apiId, permissions: ["x".repeat(513)] }, /^permissions\.0: /],
      [{ apiId: s.apiId, environment: "e".repeat(257) }, /^environment: /],
      [{ apiId: s.apiId, meta: "not an object" }, /^meta: /],
      [{ apiId: s.apiId, enabled: "yes" }, /^enabled: /],
      [{ apiId: s.apiId, expires: "tomorrow" }, /^expires: /],
    ];
    for (const [body, message] of bad) {
      const r = await kg.post("keys.createKey", body, s.rootKey);
      expectError(assert, r, 400, "BAD_REQUEST", message);
    }
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
  });

  test("a root key for another api only is refused; one for this api is enough", async () => {
    const other = await kg.otherApi(s);
    const weak = await kg.rootKey(s.workspaceId, [`api.${other}.create_key`]);
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: 10 }, weak), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"api.*.create_key"', '"api.${s.apiId}.create_key"'], have: ['"api.${other}.create_key"']`);
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.create_key`]);
    const ok = await kg.post("keys.createKey", { apiId: s.apiId }, byId);
    assert.equal(ok.status, 200, ok.text);
    const wildcard = await kg.rootKey(s.workspaceId, ["api.*.create_key"]);
    assert.equal((await kg.post("keys.createKey", { apiId: s.apiId }, wildcard)).status, 200);
  });

  test("key material: prefix, start, hash, byteLength", async () => {
    const withPrefix = await kg.createKey(s, { prefix: "prefix" });
    assert.ok(withPrefix.key.startsWith("prefix_"));
    assertKeyMaterial(withPrefix.key, { prefix: "prefix", bytes: 16 });
    const row = await kg.row("SELECT hash, start, key_auth_id, workspace_id FROM keys WHERE id = ?", withPrefix.keyId);
    assert.equal(row.hash, sha256(withPrefix.key));
    assert.equal(row.hash.length, 44);
    assert.ok(row.start.startsWith("prefix_"));
    assert.equal(row.start, withPrefix.key.slice(0, "prefix".length + 5));
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal((await kg.getKey(s, withPrefix.keyId)).start, row.start);

    const plain = await kg.createKey(s, { byteLength: 32 });
    assertKeyMaterial(plain.key, { bytes: 32 });
    const plainRow = await kg.row("SELECT hash, start FROM keys WHERE id = ?", plain.keyId);
    assert.equal(plainRow.hash, sha256(plain.key));
    assert.equal(plainRow.start, plain.key.slice(0, 5));
    // two keys never share material
    assert.notEqual(plain.key, withPrefix.key);
  });

  test("api defaults (prefix _prefix, 66 bytes) ⇒ start _pref", async () => {
    const ctx = await kg.setup();
    await kg.admin("updateApi", { apiId: ctx.apiId, defaultPrefix: "_prefix", defaultBytes: 66 });
    const { keyId, key } = await kg.createKey(ctx, {});
    assert.ok(key.startsWith("_prefix_"), key);
    assertKeyMaterial(key, { prefix: "_prefix", bytes: 66 });
    const row = await kg.row("SELECT hash, start FROM keys WHERE id = ?", keyId);
    assert.equal(row.start, "_pref");
    assert.equal(row.hash, sha256(key));
    assert.equal((await kg.verify(key)).valid, true);
    // the request's prefix and byteLength win over the api's defaults
    const own = await kg.createKey(ctx, { prefix: "own", byteLength: 20 });
    assertKeyMaterial(own.key, { prefix: "own", bytes: 20 });
    assert.equal((await kg.row("SELECT start FROM keys WHERE id = ?", own.keyId)).start, own.key.slice(0, 8));
  });

  test("fields are stored and echoed; enabled defaults to true", async () => {
    const expires = Date.now() + 3_600_000;
    const { keyId, key } = await kg.createKey(s, { name: "my key", meta: { plan: "pro", n: 1 }, expires, environment: "prod" });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.id, keyId);
    assert.equal(got.apiId, s.apiId);
    assert.equal(got.workspaceId, s.workspaceId);
    assert.equal(got.name, "my key");
    assert.deepEqual(got.meta, { plan: "pro", n: 1 });
    assert.equal(got.expires, expires);
    assert.equal(got.enabled, true);
    assert.ok(got.createdAt > 0 && got.createdAt <= Date.now() + 1000);
    const row = await kg.row("SELECT enabled, environment, meta FROM keys WHERE id = ?", keyId);
    assert.equal(row.enabled, 1);
    assert.equal(row.environment, "prod");
    assert.deepEqual(JSON.parse(row.meta), { plan: "pro", n: 1 });
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.environment, "prod");
    assert.equal(v.name, "my key");

    const disabled = await kg.createKey(s, { enabled: false });
    assert.equal((await kg.getKey(s, disabled.keyId)).enabled, false);
    const dv = await kg.verify(disabled.key);
    assert.equal(dv.valid, false);
    assert.equal(dv.code, "DISABLED");
  });

  test("ratelimit ⇒ a `default` ratelimits row with auto_apply", async () => {
    const { keyId, key } = await kg.createKey(s, { ratelimit: { limit: 10, duration: 60000 } });
    const rl = await kg.rows("SELECT * FROM ratelimits WHERE key_id = ?", keyId);
    assert.equal(rl.length, 1);
    assert.equal(rl[0].name, "default");
    assert.equal(rl[0].auto_apply, 1);
    assert.equal(rl[0].limit, 10);
    assert.equal(rl[0].duration, 60000);
    assert.equal(rl[0].workspace_id, s.workspaceId);
    assert.deepEqual((await kg.getKey(s, keyId)).ratelimit, { async: false, limit: 10, duration: 60000, refillRate: 10, refillInterval: 60000 });
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.ratelimit.limit, 10);
    assert.equal(v.ratelimit.remaining, 9);

    // deprecated refillRate / refillInterval stand in for limit / duration
    const old = await kg.createKey(s, { ratelimit: { limit: 7, refillRate: 7, refillInterval: 30000 } });
    const oldRow = await kg.row("SELECT \"limit\" AS l, duration FROM ratelimits WHERE key_id = ? AND name = 'default'", old.keyId);
    assert.deepEqual(oldRow, { l: 7, duration: 30000 });
  });

  test("roles and permissions by name: connected, created when missing with `*`", async () => {
    const ctx = await kg.setup();
    const first = await kg.createKey(ctx, { roles: ["role.admin"], permissions: ["doc.read"] });
    const second = await kg.createKey(ctx, { roles: ["role.admin", "role.viewer"], permissions: ["doc.read", "doc.write"] });
    // created once each, permission name = slug
    const perms = await kg.rows("SELECT name, slug FROM permissions WHERE workspace_id = ? ORDER BY slug", ctx.workspaceId);
    assert.deepEqual(perms, [{ name: "doc.read", slug: "doc.read" }, { name: "doc.write", slug: "doc.write" }]);
    const roles = await kg.rows("SELECT name FROM roles WHERE workspace_id = ? ORDER BY name", ctx.workspaceId);
    assert.deepEqual(roles.map((r) => r.name), ["role.admin", "role.viewer"]);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", first.keyId), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", second.keyId), 2);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_roles WHERE key_id = ?", second.keyId), 2);
    const got = await kg.getKey(ctx, second.keyId);
    assert.deepEqual([...got.roles].sort(), ["role.admin", "role.viewer"]);
    assert.deepEqual([...got.permissions].sort(), ["doc.read", "doc.write"]);
    const v = await kg.verify(second.key, { authorization: { permissions: { and: ["doc.read", "doc.write"] } } });
    assert.equal(v.valid, true, JSON.stringify(v));
    assert.deepEqual([...v.roles].sort(), ["role.admin", "role.viewer"]);
    const denied = await kg.verify(first.key, { authorization: { permissions: "doc.write" } });
    assert.equal(denied.code, "INSUFFICIENT_PERMISSIONS");
  });

  test("missing permissions or roles need rbac create rights", async () => {
    const ctx = await kg.setup();
    await kg.createKey(ctx, { roles: ["existing.role"], permissions: ["existing.perm"] });
    const createOnly = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);
    // existing ones need nothing more
    const ok = await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["existing.role"], permissions: ["existing.perm"] }, createOnly);
    assert.equal(ok.status, 200, ok.text);
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["existing.perm", "new.perm"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", /rbac\.\*\.create_permission/);
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["new.role"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", /rbac\.\*\.create_role/);
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    const withRbac = await kg.rootKey(ctx.workspaceId, ["api.*.create_key", "rbac.*.create_permission", "rbac.*.create_role"]);
    const created = await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["new.role"], permissions: ["new.perm"] }, withRbac);
    assert.equal(created.status, 200, created.text);
    const got = await kg.getKey(ctx, created.body.keyId);
    assert.deepEqual(got.roles, ["new.role"]);
    assert.deepEqual(got.permissions, ["new.perm"]);
  });

  test("externalId / ownerId ⇒ identity created or linked", async () => {
    const ctx = await kg.setup();
    const a = await kg.createKey(ctx, { externalId: "user_alice" });
    const identity = await kg.row("SELECT * FROM identities WHERE workspace_id = ? AND external_id = 'user_alice'", ctx.workspaceId);
    assert.ok(identity, "identity created");
    assert.match(identity.id, /^id_/);
    assert.equal(identity.environment, "default");
    const rowA = await kg.row("SELECT identity_id, owner_id FROM keys WHERE id = ?", a.keyId);
    assert.deepEqual(rowA, { identity_id: identity.id, owner_id: "user_alice" });
    // the deprecated ownerId links the same identity
    const b = await kg.createKey(ctx, { ownerId: "user_alice" });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM identities WHERE workspace_id = ? AND external_id = 'user_alice'", ctx.workspaceId), 1);
    assert.equal((await kg.row("SELECT identity_id FROM keys WHERE id = ?", b.keyId)).identity_id, identity.id);
    const got = await kg.getKey(ctx, b.keyId);
    assert.equal(got.ownerId, "user_alice");
    assert.equal(got.identity.id, identity.id);
    assert.equal(got.identity.externalId, "user_alice");
    const v = await kg.verify(a.key);
    assert.equal(v.identity.id, identity.id);
    assert.equal(v.identity.externalId, "user_alice");
    // an identity of another workspace with the same externalId is not reused
    const other = await kg.setup();
    const c = await kg.createKey(other, { externalId: "user_alice" });
    const otherIdentity = (await kg.row("SELECT identity_id FROM keys WHERE id = ?", c.keyId)).identity_id;
    assert.notEqual(otherIdentity, identity.id);
    assert.equal((await kg.row("SELECT workspace_id FROM identities WHERE id = ?", otherIdentity)).workspace_id, other.workspaceId);
  });

  test("recoverable on an api that stores encrypted keys ⇒ encrypted copy, decrypt returns it", async () => {
    const ctx = await kg.setup();
    await kg.admin("updateApi", { apiId: ctx.apiId, storeEncryptedKeys: true });
    const r = await kg.post("keys.createKey", { apiId: ctx.apiId, recoverable: true }, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    const enc = await kg.row("SELECT * FROM encrypted_keys WHERE key_id = ?", r.body.keyId);
    assert.ok(enc, "encrypted_keys row");
    assert.equal(enc.workspace_id, ctx.workspaceId);
    assert.ok(!enc.encrypted.includes(r.body.key), "stored encrypted, not in clear");
    const got = await kg.get("keys.getKey", { keyId: r.body.keyId, decrypt: true }, ctx.rootKey);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.plaintext, r.body.key);
    // encrypting needs encrypt_key rights
    const noEncrypt = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, recoverable: true }, noEncrypt), 403, "INSUFFICIENT_PERMISSIONS");
  });
});
