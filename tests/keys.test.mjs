// Integration tests of the key-management routes: keys.createKey, keys.getKey, keys.whoami,
// apis.listKeys, keys.updateKey, keys.updateRemaining, keys.deleteKey, migrations.createKeys.
// Contract: shared/spec/v1-api.md §2.4, §2.5 (#3–#8, #18, #21), §4.4, §5.3 and
// shared/spec/decisions.md §1–§2 (which wins).
//
// "credits(x)" = a credits row for the key with remaining x; "legacy(x)" = keys.remaining_requests
// = x and no credits row. The legacy credit path cannot be created through the API (keygate's
// createKey always writes credits rows), so it is seeded with test-only D1 writes, as are the
// "legacy(x) + credits(y)" combinations (credits rows with ids `cr_test_…`).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { startKeygate, expectError } from "./helpers.mjs";

let kg, s;
before(async () => {
  // the master key for recoverable keys (decisions.md §2: AES-256-GCM under ENCRYPTION_KEY)
  kg = await startKeygate({ bindings: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

// ---- helpers ----------------------------------------------------------------------------------

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("base64");
const count = async (sql, ...args) => (await kg.row(sql, ...args)).n;

/** createKey that must succeed; returns {keyId, key}. */
async function newKey(ctx, body = {}) {
  const r = await kg.post("keys.createKey", { apiId: ctx.apiId, ...body }, ctx.rootKey);
  assert.equal(r.status, 200, `createKey: ${r.text}`);
  assert.match(r.body.keyId, /^key_/);
  assert.equal(typeof r.body.key, "string");
  return r.body;
}

/** keys.verifyKey (no Authorization), which must answer HTTP 200. */
async function verify(key, extra = {}) {
  const r = await kg.post("keys.verifyKey", { key, ...extra });
  assert.equal(r.status, 200, `verifyKey: ${r.text}`);
  return r.body;
}

async function getKey(ctx, keyId) {
  const r = await kg.get("keys.getKey", { keyId }, ctx.rootKey);
  assert.equal(r.status, 200, `getKey: ${r.text}`);
  return r.body;
}

const creditsOf = (keyId) => kg.row("SELECT * FROM credits WHERE key_id = ?", keyId);
const legacyOf = (keyId) =>
  kg.row("SELECT remaining_requests, refill_amount, refill_day, last_refill_at FROM keys WHERE id = ?", keyId);

/** Test-only: turn a key into a legacy-credits key (keys.remaining_requests & co). */
async function seedLegacy(keyId, remaining, { amount = null, day = null, lastRefillAt = null } = {}) {
  await kg.db
    .prepare("UPDATE keys SET remaining_requests = ?, refill_amount = ?, refill_day = ?, last_refill_at = ? WHERE id = ?")
    .bind(remaining, amount, day, lastRefillAt, keyId)
    .run();
}

let seq = 0;
/** Test-only: give a key a credits row directly (for legacy + credits combinations). */
async function seedCredits(ctx, keyId, remaining, { amount = null, day = null, refilledAt = null } = {}) {
  const id = `cr_test_${++seq}_${Date.now()}`;
  await kg.db
    .prepare(
      "INSERT INTO credits (id, workspace_id, key_id, remaining, refill_amount, refill_day, refilled_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id, ctx.workspaceId, keyId, remaining, amount, day, refilledAt, Date.now())
    .run();
  return id;
}

/** Row counts of every table a key route writes, to show a refused request wrote nothing
 * (root keys and their permissions live in keygate's own workspace and are left out, so
 * creating root keys for a test does not count). */
async function snapshot() {
  const tables = ["keys", "credits", "ratelimits", "identities", "permissions", "roles", "keys_permissions", "keys_roles", "encrypted_keys"];
  const out = {};
  for (const t of tables) out[t] = await count(`SELECT COUNT(*) AS n FROM ${t} WHERE workspace_id <> 'ws_keygate'`);
  return out;
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function base58Decode(text) {
  let n = 0n;
  for (const c of text) {
    const i = BASE58.indexOf(c);
    assert.ok(i >= 0, `not base58: ${c} in ${text}`);
    n = n * 58n + BigInt(i);
  }
  const bytes = [];
  while (n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const c of text) {
    if (c !== "1") break;
    bytes.unshift(0);
  }
  return bytes;
}

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

async function auditTargets(workspaceId, event, keyId) {
  return count(
    "SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.workspace_id = ? AND l.event = ? AND t.type = 'key' AND t.id = ?",
    workspaceId,
    event,
    keyId,
  );
}

/** A second api in the workspace of ctx (for "permission on another api" cases). */
async function otherApi(ctx) {
  const r = await kg.post("apis.createApi", { name: "other-api" }, ctx.adminRootKey);
  assert.equal(r.status, 200, r.text);
  return r.body.apiId;
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
    const row = await creditsOf(keyId);
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
    assert.deepEqual(await legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    const got = await unkey.keys.get({ keyId });
    assert.equal(got.result.remaining, 100);
    assert.equal(got.result.refill, undefined);
    assert.equal(await auditTargets(s.workspaceId, "key.create", keyId), 1);
    // the key verifies
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 99);
  });

  test("remaining + monthly refill on day 15 ⇒ credits 50/100/15 with refilled_at", async () => {
    const before = Date.now();
    const { keyId } = await newKey(s, { remaining: 50, refill: { interval: "monthly", amount: 100, refillDay: 15 } });
    const row = await creditsOf(keyId);
    assert.equal(row.remaining, 50);
    assert.equal(row.refill_amount, 100);
    assert.equal(row.refill_day, 15);
    assert.ok(row.refilled_at >= before && row.refilled_at <= Date.now() + 1000, `refilled_at ${row.refilled_at}`);
    assert.deepEqual(await legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    const got = await getKey(s, keyId);
    assert.equal(got.remaining, 50);
    assert.deepEqual(got.refill, { interval: "monthly", amount: 100, refillDay: 15, lastRefillAt: row.refilled_at });
  });

  test("no remaining ⇒ no credits row and no legacy columns (not even refill_day)", async () => {
    const { keyId, key } = await newKey(s, {});
    assert.equal(await creditsOf(keyId), null);
    assert.deepEqual(await legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    const got = await getKey(s, keyId);
    assert.equal(got.remaining, undefined);
    assert.equal(got.refill, undefined);
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.code, "VALID");
    assert.equal(v.remaining, undefined);
  });

  test("remaining 5 then verify ⇒ valid, remaining 4, credits 4", async () => {
    const { keyId, key } = await newKey(s, { remaining: 5 });
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 4);
    assert.equal((await creditsOf(keyId)).remaining, 4);
  });

  test("monthly refill without refillDay ⇒ refill_day 1; daily ⇒ refill_day NULL", async () => {
    const monthly = await newKey(s, { remaining: 10, refill: { interval: "monthly", amount: 20 } });
    const m = await creditsOf(monthly.keyId);
    assert.equal(m.refill_day, 1);
    assert.equal(m.refill_amount, 20);
    assert.equal(m.remaining, 10);
    assert.deepEqual((await getKey(s, monthly.keyId)).refill, { interval: "monthly", amount: 20, refillDay: 1, lastRefillAt: m.refilled_at });

    const daily = await newKey(s, { remaining: 10, refill: { interval: "daily", amount: 20 } });
    const d = await creditsOf(daily.keyId);
    assert.equal(d.refill_day, null);
    assert.equal(d.refill_amount, 20);
    assert.ok(d.refilled_at > 0);
    assert.deepEqual((await getKey(s, daily.keyId)).refill, { interval: "daily", amount: 20, refillDay: null, lastRefillAt: d.refilled_at });
  });

  test("cross-field credit rules of the spec, nothing written", async () => {
    const before = await snapshot();
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: 0 }, s.rootKey), 400, "BAD_REQUEST", "remaining must be greater than 0.");
    // decisions.md §2: a negative remaining is a 400 like 0 (message not pinned; it must name remaining)
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: -5 }, s.rootKey), 400, "BAD_REQUEST", /remaining/);
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, refill: { interval: "monthly", amount: 100 } }, s.rootKey),
      400, "BAD_REQUEST", "remaining must be set if you are using refill.");
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: 10, refill: { interval: "daily", amount: 100, refillDay: 4 } }, s.rootKey),
      400, "BAD_REQUEST", "when interval is set to 'daily', 'refillDay' must be null.");
    assert.deepEqual(await snapshot(), before);
  });

  test("unknown, cross-workspace api ⇒ 404; recoverable on a non-encrypting api ⇒ 412", async () => {
    const before = await snapshot();
    expectError(assert, await kg.post("keys.createKey", { apiId: "api_nope" }, s.rootKey), 404, "NOT_FOUND", "api api_nope not found");
    const other = await kg.setup();
    expectError(assert, await kg.post("keys.createKey", { apiId: other.apiId }, s.rootKey), 404, "NOT_FOUND", `api ${other.apiId} not found`);
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, recoverable: true }, s.rootKey),
      412, "PRECONDITION_FAILED", `api ${s.apiId} does not support recoverable keys`);
    assert.deepEqual(await snapshot(), before);
  });

  test("an api without a keyspace ⇒ 412 (test-only D1 write: the API always creates one)", async () => {
    const apiId = await otherApi(s);
    await kg.db.prepare("UPDATE apis SET key_auth_id = NULL WHERE id = ?").bind(apiId).run();
    const before = await snapshot();
    expectError(assert, await kg.post("keys.createKey", { apiId, remaining: 10 }, s.rootKey),
      412, "PRECONDITION_FAILED", `api ${apiId} is not setup to handle keys`);
    expectError(assert, await kg.get("apis.listKeys", { apiId }, s.rootKey), 412, "PRECONDITION_FAILED", `api ${apiId} is not setup to handle keys`);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId, plaintext: "no_keyspace_1" }], s.rootKey), 412, "PRECONDITION_FAILED");
    assert.deepEqual(await snapshot(), before);
  });

  test("bad input ⇒ 400 naming the field, nothing written", async () => {
    const before = await snapshot();
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
    assert.deepEqual(await snapshot(), before);
  });

  test("a root key for another api only is refused; one for this api is enough", async () => {
    const other = await otherApi(s);
    const weak = await kg.rootKey(s.workspaceId, [`api.${other}.create_key`]);
    const before = await snapshot();
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, remaining: 10 }, weak), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"api.*.create_key"', '"api.${s.apiId}.create_key"'], have: ['"api.${other}.create_key"']`);
    assert.deepEqual(await snapshot(), before);
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.create_key`]);
    const ok = await kg.post("keys.createKey", { apiId: s.apiId }, byId);
    assert.equal(ok.status, 200, ok.text);
    const wildcard = await kg.rootKey(s.workspaceId, ["api.*.create_key"]);
    assert.equal((await kg.post("keys.createKey", { apiId: s.apiId }, wildcard)).status, 200);
  });

  test("key material: prefix, start, hash, byteLength", async () => {
    const withPrefix = await newKey(s, { prefix: "prefix" });
    assert.ok(withPrefix.key.startsWith("prefix_"));
    assertKeyMaterial(withPrefix.key, { prefix: "prefix", bytes: 16 });
    const row = await kg.row("SELECT hash, start, key_auth_id, workspace_id FROM keys WHERE id = ?", withPrefix.keyId);
    assert.equal(row.hash, sha256(withPrefix.key));
    assert.equal(row.hash.length, 44);
    assert.ok(row.start.startsWith("prefix_"));
    assert.equal(row.start, withPrefix.key.slice(0, "prefix".length + 5));
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal((await getKey(s, withPrefix.keyId)).start, row.start);

    const plain = await newKey(s, { byteLength: 32 });
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
    const { keyId, key } = await newKey(ctx, {});
    assert.ok(key.startsWith("_prefix_"), key);
    assertKeyMaterial(key, { prefix: "_prefix", bytes: 66 });
    const row = await kg.row("SELECT hash, start FROM keys WHERE id = ?", keyId);
    assert.equal(row.start, "_pref");
    assert.equal(row.hash, sha256(key));
    assert.equal((await verify(key)).valid, true);
    // the request's prefix and byteLength win over the api's defaults
    const own = await newKey(ctx, { prefix: "own", byteLength: 20 });
    assertKeyMaterial(own.key, { prefix: "own", bytes: 20 });
    assert.equal((await kg.row("SELECT start FROM keys WHERE id = ?", own.keyId)).start, own.key.slice(0, 8));
  });

  test("fields are stored and echoed; enabled defaults to true", async () => {
    const expires = Date.now() + 3_600_000;
    const { keyId, key } = await newKey(s, { name: "my key", meta: { plan: "pro", n: 1 }, expires, environment: "prod" });
    const got = await getKey(s, keyId);
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
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.environment, "prod");
    assert.equal(v.name, "my key");

    const disabled = await newKey(s, { enabled: false });
    assert.equal((await getKey(s, disabled.keyId)).enabled, false);
    const dv = await verify(disabled.key);
    assert.equal(dv.valid, false);
    assert.equal(dv.code, "DISABLED");
  });

  test("ratelimit ⇒ a `default` ratelimits row with auto_apply", async () => {
    const { keyId, key } = await newKey(s, { ratelimit: { limit: 10, duration: 60000 } });
    const rl = await kg.rows("SELECT * FROM ratelimits WHERE key_id = ?", keyId);
    assert.equal(rl.length, 1);
    assert.equal(rl[0].name, "default");
    assert.equal(rl[0].auto_apply, 1);
    assert.equal(rl[0].limit, 10);
    assert.equal(rl[0].duration, 60000);
    assert.equal(rl[0].workspace_id, s.workspaceId);
    assert.deepEqual((await getKey(s, keyId)).ratelimit, { async: false, limit: 10, duration: 60000, refillRate: 10, refillInterval: 60000 });
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.ratelimit.limit, 10);
    assert.equal(v.ratelimit.remaining, 9);

    // deprecated refillRate / refillInterval stand in for limit / duration
    const old = await newKey(s, { ratelimit: { limit: 7, refillRate: 7, refillInterval: 30000 } });
    const oldRow = await kg.row("SELECT \"limit\" AS l, duration FROM ratelimits WHERE key_id = ? AND name = 'default'", old.keyId);
    assert.deepEqual(oldRow, { l: 7, duration: 30000 });
  });

  test("roles and permissions by name: connected, created when missing with `*`", async () => {
    const ctx = await kg.setup();
    const first = await newKey(ctx, { roles: ["role.admin"], permissions: ["doc.read"] });
    const second = await newKey(ctx, { roles: ["role.admin", "role.viewer"], permissions: ["doc.read", "doc.write"] });
    // created once each, permission name = slug
    const perms = await kg.rows("SELECT name, slug FROM permissions WHERE workspace_id = ? ORDER BY slug", ctx.workspaceId);
    assert.deepEqual(perms, [{ name: "doc.read", slug: "doc.read" }, { name: "doc.write", slug: "doc.write" }]);
    const roles = await kg.rows("SELECT name FROM roles WHERE workspace_id = ? ORDER BY name", ctx.workspaceId);
    assert.deepEqual(roles.map((r) => r.name), ["role.admin", "role.viewer"]);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", first.keyId), 1);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", second.keyId), 2);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_roles WHERE key_id = ?", second.keyId), 2);
    const got = await getKey(ctx, second.keyId);
    assert.deepEqual([...got.roles].sort(), ["role.admin", "role.viewer"]);
    assert.deepEqual([...got.permissions].sort(), ["doc.read", "doc.write"]);
    const v = await verify(second.key, { authorization: { permissions: { and: ["doc.read", "doc.write"] } } });
    assert.equal(v.valid, true, JSON.stringify(v));
    assert.deepEqual([...v.roles].sort(), ["role.admin", "role.viewer"]);
    const denied = await verify(first.key, { authorization: { permissions: "doc.write" } });
    assert.equal(denied.code, "INSUFFICIENT_PERMISSIONS");
  });

  test("missing permissions or roles need rbac create rights", async () => {
    const ctx = await kg.setup();
    await newKey(ctx, { roles: ["existing.role"], permissions: ["existing.perm"] });
    const createOnly = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);
    // existing ones need nothing more
    const ok = await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["existing.role"], permissions: ["existing.perm"] }, createOnly);
    assert.equal(ok.status, 200, ok.text);
    const before = await snapshot();
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, permissions: ["existing.perm", "new.perm"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", /rbac\.\*\.create_permission/);
    expectError(assert, await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["new.role"] }, createOnly),
      403, "INSUFFICIENT_PERMISSIONS", /rbac\.\*\.create_role/);
    assert.deepEqual(await snapshot(), before);
    const withRbac = await kg.rootKey(ctx.workspaceId, ["api.*.create_key", "rbac.*.create_permission", "rbac.*.create_role"]);
    const created = await kg.post("keys.createKey", { apiId: ctx.apiId, roles: ["new.role"], permissions: ["new.perm"] }, withRbac);
    assert.equal(created.status, 200, created.text);
    const got = await getKey(ctx, created.body.keyId);
    assert.deepEqual(got.roles, ["new.role"]);
    assert.deepEqual(got.permissions, ["new.perm"]);
  });

  test("externalId / ownerId ⇒ identity created or linked", async () => {
    const ctx = await kg.setup();
    const a = await newKey(ctx, { externalId: "user_alice" });
    const identity = await kg.row("SELECT * FROM identities WHERE workspace_id = ? AND external_id = 'user_alice'", ctx.workspaceId);
    assert.ok(identity, "identity created");
    assert.match(identity.id, /^id_/);
    assert.equal(identity.environment, "default");
    const rowA = await kg.row("SELECT identity_id, owner_id FROM keys WHERE id = ?", a.keyId);
    assert.deepEqual(rowA, { identity_id: identity.id, owner_id: "user_alice" });
    // the deprecated ownerId links the same identity
    const b = await newKey(ctx, { ownerId: "user_alice" });
    assert.equal(await count("SELECT COUNT(*) AS n FROM identities WHERE workspace_id = ? AND external_id = 'user_alice'", ctx.workspaceId), 1);
    assert.equal((await kg.row("SELECT identity_id FROM keys WHERE id = ?", b.keyId)).identity_id, identity.id);
    const got = await getKey(ctx, b.keyId);
    assert.equal(got.ownerId, "user_alice");
    assert.equal(got.identity.id, identity.id);
    assert.equal(got.identity.externalId, "user_alice");
    const v = await verify(a.key);
    assert.equal(v.identity.id, identity.id);
    assert.equal(v.identity.externalId, "user_alice");
    // an identity of another workspace with the same externalId is not reused
    const other = await kg.setup();
    const c = await newKey(other, { externalId: "user_alice" });
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

// ---- keys.getKey ------------------------------------------------------------------------------

describe("keys.getKey", () => {
  test("basic fields through the SDK", async () => {
    const { keyId, key } = await newKey(s, { name: "basic", externalId: "ext_basic", prefix: "bs" });
    const got = await kg.sdk(s.rootKey).keys.get({ keyId });
    assert.equal(got.error, undefined, JSON.stringify(got.error));
    const k = got.result;
    assert.equal(k.id, keyId);
    assert.equal(k.apiId, s.apiId);
    assert.equal(k.workspaceId, s.workspaceId);
    assert.equal(k.name, "basic");
    assert.equal(k.start, key.slice(0, 7));
    assert.equal(typeof k.createdAt, "number");
    assert.equal(k.identity.externalId, "ext_basic");
    assert.match(k.identity.id, /^id_/);
    assert.deepEqual(k.roles, []);
    assert.deepEqual(k.permissions, []);
    assert.equal(k.enabled, true);
    assert.equal(k.plaintext, undefined);
    assert.equal(k.remaining, undefined);
  });

  test("credits(5000, monthly 2000 on day 10)", async () => {
    const { keyId } = await newKey(s, { remaining: 5000, refill: { interval: "monthly", amount: 2000, refillDay: 10 } });
    const got = await getKey(s, keyId);
    assert.equal(got.remaining, 5000);
    assert.equal(got.refill.interval, "monthly");
    assert.equal(got.refill.amount, 2000);
    assert.equal(got.refill.refillDay, 10);
    assert.equal(typeof got.refill.lastRefillAt, "number");
  });

  test("legacy(800, daily 100) is read from the legacy columns", async () => {
    const { keyId } = await newKey(s, {});
    const lastRefillAt = Date.now() - 60_000;
    await seedLegacy(keyId, 800, { amount: 100, day: null, lastRefillAt });
    const got = await getKey(s, keyId);
    assert.equal(got.remaining, 800);
    assert.deepEqual(got.refill, { interval: "daily", amount: 100, refillDay: null, lastRefillAt });
  });

  test("legacy(123, 50) + credits(7000, 3000) ⇒ the credits row wins", async () => {
    const { keyId } = await newKey(s, {});
    await seedLegacy(keyId, 123, { amount: 50 });
    await seedCredits(s, keyId, 7000, { amount: 3000, refilledAt: Date.now() });
    const got = await getKey(s, keyId);
    assert.equal(got.remaining, 7000);
    assert.equal(got.refill.amount, 3000);
    assert.equal(got.refill.interval, "daily");
    assert.equal(got.refill.refillDay, null);
  });

  test("unknown, soft-deleted, other workspace ⇒ 404; permissions", async () => {
    expectError(assert, await kg.get("keys.getKey", { keyId: "key_nope" }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    expectError(assert, await kg.get("keys.getKey", {}, s.rootKey), 400, "BAD_REQUEST", /^keyId: /);
    const other = await kg.setup();
    const foreign = await newKey(other, {});
    expectError(assert, await kg.get("keys.getKey", { keyId: foreign.keyId }, s.rootKey), 404, "NOT_FOUND", `key ${foreign.keyId} not found`);
    const { keyId } = await newKey(s, {});
    const otherApiId = await otherApi(s);
    const weak = await kg.rootKey(s.workspaceId, [`api.${otherApiId}.read_key`]);
    expectError(assert, await kg.get("keys.getKey", { keyId }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.read_key`]);
    assert.equal((await kg.get("keys.getKey", { keyId }, byId)).status, 200);
    // decrypt needs decrypt_key
    expectError(assert, await kg.get("keys.getKey", { keyId, decrypt: true }, byId), 403, "UNAUTHORIZED", "you're not allowed to decrypt this key");
    assert.equal((await kg.post("keys.deleteKey", { keyId }, s.rootKey)).status, 200);
    expectError(assert, await kg.get("keys.getKey", { keyId }, s.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
  });
});

// ---- keys.whoami ------------------------------------------------------------------------------

describe("keys.whoami", () => {
  const whoami = async (ctx, key) => {
    const r = await kg.post("keys.whoami", { key }, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    return r.body;
  };

  test("legacy(100) with name, meta, environment, identity ⇒ echoed", async () => {
    const { keyId, key } = await newKey(s, { name: "who", meta: { a: 1 }, environment: "staging", externalId: "ext_who" });
    await seedLegacy(keyId, 100);
    const w = await whoami(s, key);
    const identity = await kg.row("SELECT id FROM identities WHERE workspace_id = ? AND external_id = 'ext_who'", s.workspaceId);
    assert.deepEqual(w, {
      id: keyId,
      name: "who",
      remaining: 100,
      identity: { id: identity.id, externalId: "ext_who" },
      meta: { a: 1 },
      createdAt: (await kg.row("SELECT created_at_m FROM keys WHERE id = ?", keyId)).created_at_m,
      enabled: true,
      environment: "staging",
    });
    // whoami spends nothing
    assert.equal((await legacyOf(keyId)).remaining_requests, 100);
  });

  test("credits(2500), legacy(1500), legacy(999) + credits(3000), unlimited", async () => {
    const credits = await newKey(s, { remaining: 2500 });
    assert.equal((await whoami(s, credits.key)).remaining, 2500);
    assert.equal((await creditsOf(credits.keyId)).remaining, 2500);

    const legacy = await newKey(s, {});
    await seedLegacy(legacy.keyId, 1500);
    assert.equal((await whoami(s, legacy.key)).remaining, 1500);

    const both = await newKey(s, {});
    await seedLegacy(both.keyId, 999);
    await seedCredits(s, both.keyId, 3000);
    assert.equal((await whoami(s, both.key)).remaining, 3000);

    const unlimited = await newKey(s, { meta: {} });
    const w = await whoami(s, unlimited.key);
    assert.equal(w.remaining, undefined);
    assert.equal("meta" in w, false, "empty meta is omitted");
    assert.equal("identity" in w, false);
  });

  test("unknown key, other workspace ⇒ 404 Key not found; permissions", async () => {
    expectError(assert, await kg.post("keys.whoami", { key: "nope_123" }, s.rootKey), 404, "NOT_FOUND", "Key not found");
    expectError(assert, await kg.post("keys.whoami", {}, s.rootKey), 400, "BAD_REQUEST", /^key: /);
    const other = await kg.setup();
    const foreign = await newKey(other, {});
    expectError(assert, await kg.post("keys.whoami", { key: foreign.key }, s.rootKey), 404, "NOT_FOUND", "Key not found");
    const { key } = await newKey(s, {});
    const weak = await kg.rootKey(s.workspaceId, [`api.${await otherApi(s)}.read_key`]);
    expectError(assert, await kg.post("keys.whoami", { key }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.read_key`]);
    assert.equal((await kg.post("keys.whoami", { key }, byId)).status, 200);
  });
});

// ---- apis.listKeys ----------------------------------------------------------------------------

describe("apis.listKeys", () => {
  test("credit fields of credits, legacy and legacy + credits keys (SDK)", async () => {
    const ctx = await kg.setup();
    const a = await newKey(ctx, { remaining: 1000, refill: { interval: "monthly", amount: 500, refillDay: 15 } });
    const b = await newKey(ctx, {});
    const bRefill = Date.now() - 5000;
    await seedLegacy(b.keyId, 750, { amount: 100, lastRefillAt: bRefill });
    const c = await newKey(ctx, {});
    await seedLegacy(c.keyId, 999, { amount: 99 });
    const cRefill = Date.now() - 1000;
    await seedCredits(ctx, c.keyId, 2000, { amount: 1000, refilledAt: cRefill });
    const d = await newKey(ctx, {});

    const res = await kg.sdk(ctx.rootKey).apis.listKeys({ apiId: ctx.apiId });
    assert.equal(res.error, undefined, JSON.stringify(res.error));
    const byId = Object.fromEntries(res.result.keys.map((k) => [k.id, k]));
    assert.equal(res.result.keys.length, 4);
    assert.equal(res.result.total, 4);

    assert.equal(byId[a.keyId].remaining, 1000);
    assert.equal(byId[a.keyId].refill.interval, "monthly");
    assert.equal(byId[a.keyId].refill.amount, 500);
    assert.equal(byId[a.keyId].refill.refillDay, 15);
    assert.equal(typeof byId[a.keyId].refill.lastRefillAt, "number");

    assert.equal(byId[b.keyId].remaining, 750);
    assert.deepEqual(byId[b.keyId].refill, { interval: "daily", amount: 100, refillDay: null, lastRefillAt: bRefill });

    assert.equal(byId[c.keyId].remaining, 2000);
    assert.deepEqual(byId[c.keyId].refill, { interval: "daily", amount: 1000, refillDay: null, lastRefillAt: cRefill });

    assert.equal(byId[d.keyId].remaining, undefined);
    assert.equal(byId[d.keyId].refill, undefined);
    for (const k of res.result.keys) {
      assert.equal(k.apiId, ctx.apiId);
      assert.equal(k.workspaceId, ctx.workspaceId);
    }
  });

  test("paging with limit and cursor; total", async () => {
    const ctx = await kg.setup();
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await newKey(ctx, { name: `k${i}` })).keyId);
    const first = await kg.get("apis.listKeys", { apiId: ctx.apiId, limit: 2 }, ctx.rootKey);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.keys.length, 2);
    assert.equal(first.body.total, 6);
    assert.equal(first.body.cursor, first.body.keys[1].id);
    // 2 + 3 ⇒ 5 distinct keys
    const second = await kg.get("apis.listKeys", { apiId: ctx.apiId, limit: 3, cursor: first.body.cursor }, ctx.rootKey);
    assert.equal(second.body.keys.length, 3);
    const five = new Set([...first.body.keys, ...second.body.keys].map((k) => k.id));
    assert.equal(five.size, 5);
    // walk every page of 2
    const seen = [];
    let cursor;
    for (let page = 0; page < 10; page++) {
      const r = await kg.get("apis.listKeys", { apiId: ctx.apiId, limit: 2, cursor }, ctx.rootKey);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.total, 6);
      if (r.body.keys.length === 0) {
        assert.equal(r.body.cursor, undefined);
        break;
      }
      assert.ok(r.body.keys.length <= 2);
      seen.push(...r.body.keys.map((k) => k.id));
      cursor = r.body.cursor;
    }
    assert.equal(new Set(seen).size, seen.length, "no key twice");
    assert.deepEqual([...seen].sort(), [...ids].sort(), "every key found");
    expectError(assert, await kg.get("apis.listKeys", { apiId: ctx.apiId, limit: 0 }, ctx.rootKey), 400, "BAD_REQUEST", /^limit: /);
    expectError(assert, await kg.get("apis.listKeys", { apiId: ctx.apiId, limit: 101 }, ctx.rootKey), 400, "BAD_REQUEST", /^limit: /);
  });

  test("externalId and ownerId filters", async () => {
    const ctx = await kg.setup();
    const a1 = await newKey(ctx, { externalId: "alice" });
    const a2 = await newKey(ctx, { externalId: "alice" });
    await newKey(ctx, { externalId: "bob" });
    await newKey(ctx, {});
    const alice = await kg.get("apis.listKeys", { apiId: ctx.apiId, externalId: "alice" }, ctx.rootKey);
    assert.equal(alice.status, 200, alice.text);
    assert.deepEqual(alice.body.keys.map((k) => k.id).sort(), [a1.keyId, a2.keyId].sort());
    for (const k of alice.body.keys) assert.equal(k.identity.externalId, "alice");
    const unknown = await kg.get("apis.listKeys", { apiId: ctx.apiId, externalId: "nobody" }, ctx.rootKey);
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.body, { keys: [], total: 0 });
    const byOwner = await kg.get("apis.listKeys", { apiId: ctx.apiId, ownerId: "bob" }, ctx.rootKey);
    assert.equal(byOwner.body.keys.length, 1);
    assert.equal(byOwner.body.keys[0].ownerId, "bob");
  });

  test("permissions are slugs, roles names; deleted keys are not listed", async () => {
    const ctx = await kg.setup();
    const k = await newKey(ctx, { roles: ["reader"], permissions: ["doc.read"] });
    const gone = await newKey(ctx, {});
    assert.equal((await kg.post("keys.deleteKey", { keyId: gone.keyId }, ctx.rootKey)).status, 200);
    const r = await kg.get("apis.listKeys", { apiId: ctx.apiId }, ctx.rootKey);
    assert.deepEqual(r.body.keys.map((x) => x.id), [k.keyId]);
    assert.deepEqual(r.body.keys[0].roles, ["reader"]);
    assert.deepEqual(r.body.keys[0].permissions, ["doc.read"]);
  });

  test("auth: read_key and read_api both needed; unknown or foreign api ⇒ 404", async () => {
    const ctx = await kg.setup();
    await newKey(ctx, {});
    const readKeyOnly = await kg.rootKey(ctx.workspaceId, ["api.*.read_key"]);
    expectError(assert, await kg.get("apis.listKeys", { apiId: ctx.apiId }, readKeyOnly), 403, "INSUFFICIENT_PERMISSIONS");
    const both = await kg.rootKey(ctx.workspaceId, [`api.${ctx.apiId}.read_key`, `api.${ctx.apiId}.read_api`]);
    const ok = await kg.get("apis.listKeys", { apiId: ctx.apiId }, both);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.keys.length, 1);
    expectError(assert, await kg.get("apis.listKeys", { apiId: "api_nope" }, ctx.rootKey), 404, "NOT_FOUND", "api api_nope not found");
    expectError(assert, await kg.get("apis.listKeys", { apiId: s.apiId }, ctx.rootKey), 404, "NOT_FOUND", `api ${s.apiId} not found`);
    expectError(assert, await kg.get("apis.listKeys", {}, ctx.rootKey), 400, "BAD_REQUEST", /^apiId: /);
  });
});

// ---- keys.updateKey ---------------------------------------------------------------------------

describe("keys.updateKey", () => {
  const update = async (ctx, body) => {
    const r = await kg.post("keys.updateKey", body, ctx.rootKey);
    assert.equal(r.status, 200, `updateKey ${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(r.body, {});
  };

  test("update all on a key without credits ⇒ credits row 0, default ratelimit 10/1000 (SDK)", async () => {
    const { keyId, key } = await newKey(s, {});
    const res = await kg.sdk(s.rootKey).keys.update({
      keyId,
      name: "renamed",
      ownerId: "owner_all",
      meta: { updated: true },
      ratelimit: { async: false, limit: 10, refillRate: 5, refillInterval: 1000 },
      remaining: 0,
    });
    assert.equal(res.error, undefined, JSON.stringify(res.error));
    assert.deepEqual(res.result, {});
    assert.equal((await legacyOf(keyId)).remaining_requests, null);
    const row = await creditsOf(keyId);
    assert.equal(row.remaining, 0);
    assert.equal(row.workspace_id, s.workspaceId);
    const rl = await kg.row("SELECT \"limit\" AS l, duration, auto_apply FROM ratelimits WHERE key_id = ? AND name = 'default'", keyId);
    assert.deepEqual(rl, { l: 10, duration: 1000, auto_apply: 1 });
    const got = await getKey(s, keyId);
    assert.equal(got.name, "renamed");
    assert.equal(got.ownerId, "owner_all");
    assert.equal(got.identity.externalId, "owner_all");
    assert.deepEqual(got.meta, { updated: true });
    assert.equal(got.remaining, 0);
    assert.ok(got.updatedAt >= got.createdAt);
    const v = await verify(key);
    assert.equal(v.valid, false);
    assert.equal(v.code, "USAGE_EXCEEDED");
    assert.equal(v.remaining, 0);
    assert.equal(await auditTargets(s.workspaceId, "key.update", keyId), 1);
  });

  test("legacy(100) + remaining 50 ⇒ legacy 50, no credits row", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 100);
    await update(s, { keyId, remaining: 50 });
    assert.equal((await legacyOf(keyId)).remaining_requests, 50);
    assert.equal(await creditsOf(keyId), null);
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 49);
    assert.equal((await legacyOf(keyId)).remaining_requests, 49);
  });

  test("credits(100) + remaining 200 ⇒ credits 200, legacy NULL", async () => {
    const { keyId, key } = await newKey(s, { remaining: 100 });
    const creditId = (await creditsOf(keyId)).id;
    await update(s, { keyId, remaining: 200 });
    const row = await creditsOf(keyId);
    assert.equal(row.id, creditId, "same row");
    assert.equal(row.remaining, 200);
    assert.equal((await legacyOf(keyId)).remaining_requests, null);
    assert.equal((await verify(key)).remaining, 199);
    assert.equal((await creditsOf(keyId)).remaining, 199);
  });

  test("credits(100) used, then updated: the next verify sees the new balance", async () => {
    const { keyId, key } = await newKey(s, { remaining: 100 });
    assert.equal((await verify(key)).remaining, 99);
    await update(s, { keyId, remaining: 20 });
    assert.equal((await verify(key)).remaining, 19);
    assert.equal((await creditsOf(keyId)).remaining, 19);
  });

  test("no credits + remaining 150 ⇒ a new credits row, legacy NULL", async () => {
    const { keyId, key } = await newKey(s, {});
    const before = Date.now();
    await update(s, { keyId, remaining: 150 });
    const row = await creditsOf(keyId);
    assert.ok(row, "credits row");
    assert.match(row.id, /^cr_/);
    assert.equal(row.remaining, 150);
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal(row.identity_id, null);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.ok(row.refilled_at >= before, "refilled_at = now on a new row (§4.5)");
    assert.equal((await legacyOf(keyId)).remaining_requests, null);
    assert.equal((await verify(key)).remaining, 149);
  });

  test("no credits + remaining and refill ⇒ a new credits row with the refill", async () => {
    const { keyId, key } = await newKey(s, {});
    await update(s, { keyId, remaining: 100, refill: { interval: "monthly", amount: 300, refillDay: 5 } });
    const row = await creditsOf(keyId);
    assert.equal(row.remaining, 100);
    assert.equal(row.refill_amount, 300);
    assert.equal(row.refill_day, 5);
    assert.deepEqual(await legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    assert.equal((await verify(key)).remaining, 99);
  });

  test("legacy(999) + credits(3000) + remaining 50 ⇒ the credits row, legacy untouched", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 999);
    await seedCredits(s, keyId, 3000);
    await update(s, { keyId, remaining: 50 });
    assert.equal((await creditsOf(keyId)).remaining, 50);
    assert.equal((await legacyOf(keyId)).remaining_requests, 999);
    assert.equal((await verify(key)).remaining, 49);
    assert.equal((await legacyOf(keyId)).remaining_requests, 999);
  });

  test("credits(100) + monthly refill 500 on day 15 ⇒ on the credits row, legacy refill NULL", async () => {
    const { keyId, key } = await newKey(s, { remaining: 100 });
    await update(s, { keyId, refill: { interval: "monthly", amount: 500, refillDay: 15 } });
    const row = await creditsOf(keyId);
    assert.equal(row.refill_amount, 500);
    assert.equal(row.refill_day, 15);
    assert.equal(row.remaining, 100);
    const legacy = await legacyOf(keyId);
    assert.equal(legacy.refill_amount, null);
    assert.equal(legacy.refill_day, null);
    assert.equal(legacy.remaining_requests, null);
    const got = await getKey(s, keyId);
    assert.equal(got.refill.interval, "monthly");
    assert.equal(got.refill.amount, 500);
    assert.equal(got.refill.refillDay, 15);
    // setting a refill does not change the balance
    assert.equal((await verify(key)).remaining, 99);
  });

  test("legacy(10) + monthly refill 130 ⇒ legacy refill 130 on day 1, no credits row", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 10);
    await update(s, { keyId, refill: { interval: "monthly", amount: 130 } });
    const legacy = await legacyOf(keyId);
    assert.equal(legacy.remaining_requests, 10);
    assert.equal(legacy.refill_amount, 130);
    assert.equal(legacy.refill_day, 1);
    assert.equal(await creditsOf(keyId), null);
    const got = await getKey(s, keyId);
    assert.equal(got.remaining, 10);
    assert.equal(got.refill.interval, "monthly");
    assert.equal(got.refill.amount, 130);
    assert.equal(got.refill.refillDay, 1);
    assert.equal((await verify(key)).remaining, 9);
    assert.equal((await legacyOf(keyId)).remaining_requests, 9);
  });

  test("refill: null clears the refill of the credits row", async () => {
    const { keyId, key } = await newKey(s, { remaining: 40, refill: { interval: "daily", amount: 50 } });
    await update(s, { keyId, refill: null });
    const row = await creditsOf(keyId);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.equal(row.refilled_at, null);
    assert.equal(row.remaining, 40);
    assert.equal((await getKey(s, keyId)).refill, undefined);
    assert.equal((await verify(key)).remaining, 39);
  });

  test("remaining: null ⇒ credits row deleted (unlimited); legacy becomes effective again", async () => {
    const credits = await newKey(s, { remaining: 100 });
    await update(s, { keyId: credits.keyId, remaining: null });
    assert.equal(await creditsOf(credits.keyId), null);
    const v = await verify(credits.key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, undefined);
    assert.equal((await getKey(s, credits.keyId)).remaining, undefined);

    const both = await newKey(s, {});
    await seedLegacy(both.keyId, 70);
    await seedCredits(s, both.keyId, 500);
    await update(s, { keyId: both.keyId, remaining: null });
    assert.equal(await creditsOf(both.keyId), null);
    assert.equal((await verify(both.key)).remaining, 69);
    assert.equal((await legacyOf(both.keyId)).remaining_requests, 69);

    const legacy = await newKey(s, {});
    await seedLegacy(legacy.keyId, 100);
    await update(s, { keyId: legacy.keyId, remaining: null });
    assert.equal((await legacyOf(legacy.keyId)).remaining_requests, null);
    assert.equal(await creditsOf(legacy.keyId), null);
    assert.equal((await verify(legacy.key)).remaining, undefined);
  });

  test("remaining: null on a key without credits ⇒ 200 no-op (decisions.md §2)", async () => {
    const { keyId, key } = await newKey(s, {});
    const before = await snapshot();
    await update(s, { keyId, remaining: null });
    assert.deepEqual(await snapshot(), before);
    assert.equal(await creditsOf(keyId), null);
    assert.equal((await legacyOf(keyId)).remaining_requests, null);
    const v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, undefined);
  });

  test("refill on a key without credits ⇒ 400, nothing written (decisions.md §2)", async () => {
    const { keyId, key } = await newKey(s, { name: "unchanged" });
    const before = await snapshot();
    expectError(assert, await kg.post("keys.updateKey", { keyId, refill: { interval: "daily", amount: 10 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set refill on a key with unlimited requests");
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", refill: { interval: "monthly", amount: 10 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set refill on a key with unlimited requests");
    // remaining: null together with a refill, even on a key with credits
    const credits = await newKey(s, { remaining: 10 });
    const before2 = await snapshot();
    expectError(assert, await kg.post("keys.updateKey", { keyId: credits.keyId, remaining: null, refill: { interval: "daily", amount: 10 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set refill on a key with unlimited requests");
    assert.deepEqual(await snapshot(), before2);
    assert.equal((await creditsOf(credits.keyId)).remaining, 10);
    assert.equal(before.credits, before2.credits - 1);
    assert.equal(await creditsOf(keyId), null);
    assert.equal((await getKey(s, keyId)).name, "unchanged");
    assert.equal((await verify(key)).remaining, undefined);
  });

  test("daily refill with refillDay ⇒ 400, nothing changed", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 10);
    const before = await snapshot();
    expectError(assert, await kg.post("keys.updateKey", { keyId, remaining: 10, refill: { interval: "daily", amount: 10, refillDay: 4 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set 'refillDay' if 'interval' is 'daily'");
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual(await legacyOf(keyId), { remaining_requests: 10, refill_amount: null, refill_day: null, last_refill_at: null });
    assert.equal((await verify(key)).remaining, 9);
  });

  test("unknown, soft-deleted, other workspace ⇒ 404; permissions; bad input", async () => {
    expectError(assert, await kg.post("keys.updateKey", { keyId: "key_nope", name: "x" }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    const doomed = await newKey(s, {});
    assert.equal((await kg.post("keys.deleteKey", { keyId: doomed.keyId }, s.rootKey)).status, 200);
    expectError(assert, await kg.post("keys.updateKey", { keyId: doomed.keyId, name: "x" }, s.rootKey), 404, "NOT_FOUND", `key ${doomed.keyId} not found`);
    const other = await kg.setup();
    const foreign = await newKey(other, { remaining: 10 });
    expectError(assert, await kg.post("keys.updateKey", { keyId: foreign.keyId, remaining: 99 }, s.rootKey), 404, "NOT_FOUND", `key ${foreign.keyId} not found`);
    assert.equal((await creditsOf(foreign.keyId)).remaining, 10);

    const { keyId } = await newKey(s, { name: "keep" });
    const weak = await kg.rootKey(s.workspaceId, [`api.${await otherApi(s)}.update_key`]);
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "nope" }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.update_key`]);
    assert.equal((await kg.post("keys.updateKey", { keyId, name: "kept" }, byId)).status, 200);
    assert.equal((await getKey(s, keyId)).name, "kept");

    const before = await snapshot();
    for (const [body, message] of [
      [{ name: "x" }, /^keyId: /],
      [{ keyId, remaining: "ten" }, /^remaining: /],
      [{ keyId, refill: { interval: "daily", amount: 0 } }, /^refill\.amount: /],
      [{ keyId, refill: { interval: "yearly", amount: 5 } }, /^refill\.interval: /],
      [{ keyId, ratelimit: { limit: 0, duration: 1000 } }, /^ratelimit\.limit: /],
      [{ keyId, enabled: "no" }, /^enabled: /],
    ]) {
      expectError(assert, await kg.post("keys.updateKey", body, s.rootKey), 400, "BAD_REQUEST", message);
    }
    assert.deepEqual(await snapshot(), before);
    assert.equal((await getKey(s, keyId)).name, "kept");
  });

  test("ratelimit changes are seen by verification; name change keeps it; null removes it", async () => {
    const { keyId, key } = await newKey(s, { ratelimit: { limit: 10, duration: 60000 } });
    await update(s, { keyId, name: "only the name" });
    let v = await verify(key);
    assert.equal(v.ratelimit.limit, 10);
    assert.equal(v.ratelimit.remaining, 9);
    await update(s, { keyId, ratelimit: { limit: 5, duration: 5000 } });
    assert.deepEqual(
      await kg.row("SELECT \"limit\" AS l, duration FROM ratelimits WHERE key_id = ? AND name = 'default'", keyId),
      { l: 5, duration: 5000 },
    );
    assert.equal(await count("SELECT COUNT(*) AS n FROM ratelimits WHERE key_id = ?", keyId), 1);
    v = await verify(key);
    assert.equal(v.ratelimit.limit, 5);
    assert.equal(v.ratelimit.remaining, 4);
    await update(s, { keyId, ratelimit: null });
    assert.equal(await count("SELECT COUNT(*) AS n FROM ratelimits WHERE key_id = ?", keyId), 0);
    v = await verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.ratelimit, undefined);
    assert.equal((await getKey(s, keyId)).ratelimit, undefined);
  });

  test("identity connect/disconnect, expires, meta, enabled; omitted fields untouched", async () => {
    const expires = Date.now() + 3_600_000;
    const { keyId, key } = await newKey(s, { name: "fields", meta: { a: 1 }, expires, environment: "env1" });
    await update(s, { keyId, externalId: "ext_update" });
    const identity = await kg.row("SELECT id FROM identities WHERE workspace_id = ? AND external_id = 'ext_update'", s.workspaceId);
    assert.ok(identity);
    assert.deepEqual(await kg.row("SELECT identity_id, owner_id FROM keys WHERE id = ?", keyId), { identity_id: identity.id, owner_id: "ext_update" });
    let got = await getKey(s, keyId);
    assert.equal(got.name, "fields");
    assert.deepEqual(got.meta, { a: 1 });
    assert.equal(got.expires, expires);
    assert.equal((await verify(key)).identity.externalId, "ext_update");

    await update(s, { keyId, externalId: null, expires: null, meta: null });
    assert.deepEqual(await kg.row("SELECT identity_id, owner_id, expires, meta FROM keys WHERE id = ?", keyId),
      { identity_id: null, owner_id: null, expires: null, meta: null });
    got = await getKey(s, keyId);
    assert.equal(got.identity, undefined);
    assert.equal(got.expires, undefined);
    assert.equal(got.meta, undefined);
    assert.equal(got.name, "fields");
    // the identity itself is kept
    assert.equal(await count("SELECT COUNT(*) AS n FROM identities WHERE id = ?", identity.id), 1);

    await update(s, { keyId, ownerId: "owner_update" });
    assert.equal((await getKey(s, keyId)).identity.externalId, "owner_update");

    await update(s, { keyId, enabled: false });
    assert.equal((await verify(key)).code, "DISABLED");
    await update(s, { keyId, enabled: true });
    assert.equal((await verify(key)).code, "VALID");

    await update(s, { keyId, expires: Date.now() - 1000 });
    assert.equal((await verify(key)).code, "EXPIRED");
    assert.equal((await kg.row("SELECT environment FROM keys WHERE id = ?", keyId)).environment, "env1");
  });

  test("roles and permissions are set (setRoles / setPermissions semantics)", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await newKey(ctx, { roles: ["role.old"], permissions: ["perm.old"] });
    await update(ctx, { keyId, roles: [{ name: "role.new", create: true }], permissions: [{ name: "perm.new", create: true }] });
    const got = await getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["role.new"]);
    assert.deepEqual(got.permissions, ["perm.new"]);
    const v = await verify(key, { authorization: { permissions: "perm.new" } });
    assert.equal(v.valid, true);
    assert.equal((await verify(key, { authorization: { permissions: "perm.old" } })).code, "INSUFFICIENT_PERMISSIONS");
  });
});

// ---- keys.updateRemaining ---------------------------------------------------------------------

describe("keys.updateRemaining", () => {
  const updateRemaining = async (ctx, body) => {
    const r = await kg.post("keys.updateRemaining", body, ctx.rootKey);
    assert.equal(r.status, 200, `updateRemaining ${JSON.stringify(body)}: ${r.text}`);
    return r.body;
  };

  test("legacy(100): increment, decrement, set stay on the legacy column", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 100);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "increment", value: 10 }), { remaining: 110 });
    assert.equal((await legacyOf(keyId)).remaining_requests, 110);
    assert.equal(await creditsOf(keyId), null);
    assert.equal((await verify(key)).remaining, 109);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "decrement", value: 10 }), { remaining: 99 });
    assert.equal((await legacyOf(keyId)).remaining_requests, 99);
    assert.equal((await verify(key)).remaining, 98);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 10 }), { remaining: 10 });
    assert.equal((await legacyOf(keyId)).remaining_requests, 10);
    assert.equal(await creditsOf(keyId), null);
    assert.equal((await verify(key)).remaining, 9);
  });

  test("legacy(100): set 50 ⇒ legacy 50, no credits row", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 100);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 50 }), { remaining: 50 });
    assert.equal((await legacyOf(keyId)).remaining_requests, 50);
    assert.equal(await creditsOf(keyId), null);
    assert.equal((await verify(key)).remaining, 49);
  });

  test("credits(100): increment and decrement the credits row (SDK)", async () => {
    const { keyId, key } = await newKey(s, { remaining: 100 });
    const unkey = kg.sdk(s.rootKey);
    const inc = await unkey.keys.updateRemaining({ keyId, op: "increment", value: 10 });
    assert.equal(inc.error, undefined, JSON.stringify(inc.error));
    assert.deepEqual(inc.result, { remaining: 110 });
    assert.equal((await creditsOf(keyId)).remaining, 110);
    assert.equal((await legacyOf(keyId)).remaining_requests, null);
    assert.equal((await verify(key)).remaining, 109);
    const dec = await unkey.keys.updateRemaining({ keyId, op: "decrement", value: 10 });
    assert.deepEqual(dec.result, { remaining: 99 });
    assert.equal((await creditsOf(keyId)).remaining, 99);
    assert.equal((await verify(key)).remaining, 98);
    assert.equal(await auditTargets(s.workspaceId, "key.update", keyId), 2);
  });

  test("no credits anywhere: set 50 ⇒ a new credits row", async () => {
    const { keyId, key } = await newKey(s, {});
    const before = Date.now();
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 50 }), { remaining: 50 });
    const row = await creditsOf(keyId);
    assert.ok(row, "credits row");
    assert.equal(row.remaining, 50);
    assert.equal(row.key_id, keyId);
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal(row.identity_id, null);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.ok(row.refilled_at >= before, "refilled_at = now (§4.5)");
    assert.equal((await legacyOf(keyId)).remaining_requests, null);
    assert.equal((await verify(key)).remaining, 49);
  });

  test("legacy(999) + credits(3000): set targets the credits row", async () => {
    const { keyId, key } = await newKey(s, {});
    await seedLegacy(keyId, 999);
    await seedCredits(s, keyId, 3000);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 10 }), { remaining: 10 });
    assert.equal((await creditsOf(keyId)).remaining, 10);
    assert.equal((await legacyOf(keyId)).remaining_requests, 999);
    assert.equal((await verify(key)).remaining, 9);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "increment", value: 5 }), { remaining: 14 });
    assert.equal((await legacyOf(keyId)).remaining_requests, 999);
    assert.equal((await verify(key)).remaining, 13);
  });

  test("set null: deletes the credits row, clears legacy, no-op on unlimited", async () => {
    const credits = await newKey(s, { remaining: 30 });
    assert.deepEqual(await updateRemaining(s, { keyId: credits.keyId, op: "set", value: null }), { remaining: null });
    assert.equal(await creditsOf(credits.keyId), null);
    assert.equal((await verify(credits.key)).remaining, undefined);

    const both = await newKey(s, {});
    await seedLegacy(both.keyId, 40);
    await seedCredits(s, both.keyId, 300);
    assert.deepEqual(await updateRemaining(s, { keyId: both.keyId, op: "set", value: null }), { remaining: 40 });
    assert.equal(await creditsOf(both.keyId), null);
    assert.equal((await verify(both.key)).remaining, 39);

    const legacy = await newKey(s, {});
    await seedLegacy(legacy.keyId, 20);
    assert.deepEqual(await updateRemaining(s, { keyId: legacy.keyId, op: "set", value: null }), { remaining: null });
    assert.equal((await legacyOf(legacy.keyId)).remaining_requests, null);
    assert.equal((await verify(legacy.key)).remaining, undefined);

    const unlimited = await newKey(s, {});
    const before = await snapshot();
    assert.deepEqual(await updateRemaining(s, { keyId: unlimited.keyId, op: "set", value: null }), { remaining: null });
    assert.deepEqual(await snapshot(), before);
    assert.equal((await verify(unlimited.key)).remaining, undefined);
  });

  test("increment/decrement errors: unlimited key, null value, bad op", async () => {
    const unlimited = await newKey(s, {});
    const before = await snapshot();
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: unlimited.keyId, op: "increment", value: 5 }, s.rootKey),
      400, "BAD_REQUEST", "cannot increment a key with unlimited remaining requests, please 'set' a value instead.");
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: unlimited.keyId, op: "decrement", value: 5 }, s.rootKey),
      400, "BAD_REQUEST", "cannot decrement a key with unlimited remaining requests, please 'set' a value instead.");
    const credits = await newKey(s, { remaining: 10 });
    const before2 = await snapshot();
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "increment", value: null }, s.rootKey),
      400, "BAD_REQUEST", "cannot increment a key by null.");
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "decrement", value: null }, s.rootKey),
      400, "BAD_REQUEST", "cannot decrement a key by null.");
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "XXX", value: 1 }, s.rootKey), 400, "BAD_REQUEST", /^op: /);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "set" }, s.rootKey), 400, "BAD_REQUEST", /^value: /);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "set", value: "7" }, s.rootKey), 400, "BAD_REQUEST", /^value: /);
    expectError(assert, await kg.post("keys.updateRemaining", { op: "set", value: 7 }, s.rootKey), 400, "BAD_REQUEST", /^keyId: /);
    assert.deepEqual(await snapshot(), before2);
    assert.equal(before.credits + 1, before2.credits);
    assert.equal((await creditsOf(credits.keyId)).remaining, 10);
    assert.equal(await creditsOf(unlimited.keyId), null);
  });

  test("decrement below zero ⇒ negative balance, verify USAGE_EXCEEDED with remaining 0", async () => {
    const { keyId, key } = await newKey(s, { remaining: 5 });
    assert.deepEqual(await updateRemaining(s, { keyId, op: "decrement", value: 10 }), { remaining: -5 });
    assert.equal((await creditsOf(keyId)).remaining, -5);
    const v = await verify(key);
    assert.equal(v.valid, false);
    assert.equal(v.code, "USAGE_EXCEEDED");
    assert.equal(v.remaining, 0);
    assert.equal((await creditsOf(keyId)).remaining, -5);
  });

  test("unknown, other workspace ⇒ 404; permissions", async () => {
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: "key_nope", op: "set", value: 1 }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    const other = await kg.setup();
    const foreign = await newKey(other, { remaining: 10 });
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: foreign.keyId, op: "set", value: 99 }, s.rootKey),
      404, "NOT_FOUND", `key ${foreign.keyId} not found`);
    assert.equal((await creditsOf(foreign.keyId)).remaining, 10);
    const { keyId } = await newKey(s, { remaining: 10 });
    const weak = await kg.rootKey(s.workspaceId, [`api.${await otherApi(s)}.update_key`]);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId, op: "set", value: 99 }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await creditsOf(keyId)).remaining, 10);
    const wildcard = await kg.rootKey(s.workspaceId, ["api.*.update_key"]);
    assert.deepEqual((await kg.post("keys.updateRemaining", { keyId, op: "set", value: 99 }, wildcard)).body, { remaining: 99 });
  });

  test("integration: spend 5 credits, top up, spend again", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await newKey(ctx, { remaining: 5 });
    for (const expected of [4, 3, 2, 1, 0]) {
      const v = await verify(key, { apiId: ctx.apiId });
      assert.equal(v.valid, true);
      assert.equal(v.remaining, expected);
    }
    const sixth = await verify(key, { apiId: ctx.apiId });
    assert.equal(sixth.valid, false);
    assert.equal(sixth.code, "USAGE_EXCEEDED");
    assert.equal(sixth.remaining, 0);
    const inc = await kg.sdk(ctx.rootKey).keys.updateRemaining({ keyId, op: "increment", value: 5 });
    assert.deepEqual(inc.result, { remaining: 5 });
    const v = await verify(key, { apiId: ctx.apiId });
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 4);
    assert.equal((await creditsOf(keyId)).remaining, 4);
  });
});

// ---- keys.deleteKey ---------------------------------------------------------------------------

describe("keys.deleteKey", () => {
  test("soft delete (SDK): not verifiable, not readable, not listed, credits row kept", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await newKey(ctx, { remaining: 10 });
    const keep = await newKey(ctx, {});
    const res = await kg.sdk(ctx.rootKey).keys.delete({ keyId });
    assert.equal(res.error, undefined, JSON.stringify(res.error));
    assert.deepEqual(res.result, {});
    const row = await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", keyId);
    assert.ok(row.deleted_at_m > 0 && Math.abs(Date.now() - row.deleted_at_m) < 10_000, `deleted_at_m ${row.deleted_at_m}`);
    assert.ok(await creditsOf(keyId), "credits row kept on soft delete");
    const v = await verify(key);
    assert.equal(v.valid, false);
    assert.equal(v.code, "NOT_FOUND");
    expectError(assert, await kg.get("keys.getKey", { keyId }, ctx.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
    expectError(assert, await kg.post("keys.whoami", { key }, ctx.rootKey), 404, "NOT_FOUND", "Key not found");
    const list = await kg.get("apis.listKeys", { apiId: ctx.apiId }, ctx.rootKey);
    assert.deepEqual(list.body.keys.map((k) => k.id), [keep.keyId]);
    assert.equal(await auditTargets(ctx.workspaceId, "key.delete", keyId), 1);
    // a deleted key cannot be deleted again
    expectError(assert, await kg.post("keys.deleteKey", { keyId }, ctx.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
    assert.equal((await verify(keep.key)).valid, true);
  });

  test("permanent delete removes the key and its credits, ratelimits, permission and role links", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await newKey(ctx, { remaining: 1000, ratelimit: { limit: 10, duration: 60000 }, roles: ["r.del"], permissions: ["p.del"] });
    assert.equal((await verify(key)).remaining, 999);
    const r = await kg.post("keys.deleteKey", { keyId, permanent: true }, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys WHERE id = ?", keyId), 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM credits WHERE key_id = ?", keyId), 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM ratelimits WHERE key_id = ?", keyId), 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", keyId), 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys_roles WHERE key_id = ?", keyId), 0);
    // the permission and role themselves stay
    assert.equal(await count("SELECT COUNT(*) AS n FROM permissions WHERE workspace_id = ? AND slug = 'p.del'", ctx.workspaceId), 1);
    assert.equal((await verify(key)).code, "NOT_FOUND");
    expectError(assert, await kg.get("keys.getKey", { keyId }, ctx.rootKey), 404, "NOT_FOUND");

    const legacy = await newKey(ctx, {});
    await seedLegacy(legacy.keyId, 50);
    assert.equal((await kg.post("keys.deleteKey", { keyId: legacy.keyId, permanent: true }, ctx.rootKey)).status, 200);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys WHERE id = ?", legacy.keyId), 0);
    assert.equal((await verify(legacy.key)).code, "NOT_FOUND");
  });

  test("unknown ⇒ 404; other workspace ⇒ 403 UNAUTHORIZED; permissions", async () => {
    expectError(assert, await kg.post("keys.deleteKey", { keyId: "key_nope" }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    expectError(assert, await kg.post("keys.deleteKey", {}, s.rootKey), 400, "BAD_REQUEST", /^keyId: /);
    const other = await kg.setup();
    const foreign = await newKey(other, { remaining: 5 });
    expectError(assert, await kg.post("keys.deleteKey", { keyId: foreign.keyId }, s.rootKey), 403, "UNAUTHORIZED", "you are not allowed to do this");
    expectError(assert, await kg.post("keys.deleteKey", { keyId: foreign.keyId, permanent: true }, s.rootKey), 403, "UNAUTHORIZED", "you are not allowed to do this");
    assert.equal((await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", foreign.keyId)).deleted_at_m, null);
    assert.ok(await creditsOf(foreign.keyId));
    assert.equal((await verify(foreign.key)).valid, true);

    const { keyId } = await newKey(s, {});
    const weak = await kg.rootKey(s.workspaceId, [`api.${await otherApi(s)}.delete_key`]);
    expectError(assert, await kg.post("keys.deleteKey", { keyId }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", keyId)).deleted_at_m, null);
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.delete_key`]);
    assert.equal((await kg.post("keys.deleteKey", { keyId }, byId)).status, 200);
  });
});

// ---- migrations.createKeys --------------------------------------------------------------------

describe("migrations.createKeys", () => {
  test("hash and plaintext keys verify; ids in request order (SDK)", async () => {
    const ctx = await kg.setup();
    const plaintext = `mig_${randomBytes(12).toString("hex")}`;
    const hashed = `old_${randomBytes(12).toString("hex")}`;
    const res = await kg.sdk(ctx.rootKey).migrations.createKeys([
      { apiId: ctx.apiId, plaintext, name: "plain", meta: { m: 1 }, environment: "legacy", enabled: true },
      { apiId: ctx.apiId, hash: { value: sha256(hashed), variant: "sha256_base64" }, start: "old_", externalId: "ext_mig" },
    ]);
    assert.equal(res.error, undefined, JSON.stringify(res.error));
    const [plainId, hashId] = res.result.keyIds;
    assert.equal(res.result.keyIds.length, 2);
    assert.match(plainId, /^key_/);
    const plainRow = await kg.row("SELECT hash, start, name, environment, key_auth_id FROM keys WHERE id = ?", plainId);
    assert.equal(plainRow.hash, sha256(plaintext));
    assert.equal(plainRow.start, plaintext.slice(0, 4));
    assert.equal(plainRow.name, "plain");
    assert.equal(plainRow.environment, "legacy");
    const hashRow = await kg.row("SELECT hash, start, identity_id, owner_id FROM keys WHERE id = ?", hashId);
    assert.equal(hashRow.hash, sha256(hashed));
    assert.equal(hashRow.start, "old_");
    assert.equal(hashRow.owner_id, "ext_mig");
    const identity = await kg.row("SELECT id FROM identities WHERE workspace_id = ? AND external_id = 'ext_mig'", ctx.workspaceId);
    assert.equal(hashRow.identity_id, identity.id);
    const v1 = await verify(plaintext, { apiId: ctx.apiId });
    assert.equal(v1.valid, true);
    assert.equal(v1.keyId, plainId);
    assert.deepEqual(v1.meta, { m: 1 });
    const v2 = await verify(hashed, { apiId: ctx.apiId });
    assert.equal(v2.valid, true);
    assert.equal(v2.keyId, hashId);
    assert.equal(v2.identity.externalId, "ext_mig");
    // no credits: unlimited, nothing written
    assert.equal(await creditsOf(plainId), null);
    assert.equal(v1.remaining, undefined);
    const list = await kg.get("apis.listKeys", { apiId: ctx.apiId }, ctx.rootKey);
    assert.equal(list.body.total, 2);
  });

  test("credits rows are built like createKey's; no legacy columns", async () => {
    const ctx = await kg.setup();
    const keys = ["a", "b", "c"].map((x) => `mig_${x}_${randomBytes(8).toString("hex")}`);
    const r = await kg.post("migrations.createKeys", [
      { apiId: ctx.apiId, plaintext: keys[0], remaining: 10, refill: { interval: "monthly", amount: 100 } },
      { apiId: ctx.apiId, plaintext: keys[1], remaining: 7 },
      { apiId: ctx.apiId, plaintext: keys[2], remaining: 3, refill: { interval: "daily", amount: 30 } },
    ], ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    const [a, b, c] = r.body.keyIds;
    const ca = await creditsOf(a);
    assert.equal(ca.remaining, 10);
    assert.equal(ca.refill_amount, 100);
    assert.equal(ca.refill_day, 1);
    assert.ok(ca.refilled_at > 0);
    assert.equal(ca.workspace_id, ctx.workspaceId);
    assert.equal(ca.identity_id, null);
    const cb = await creditsOf(b);
    assert.equal(cb.remaining, 7);
    assert.equal(cb.refill_amount, null);
    assert.equal(cb.refill_day, null, "no refill ⇒ refill_day NULL (coderabbit fix)");
    assert.equal(cb.refilled_at, null);
    const cc = await creditsOf(c);
    assert.equal(cc.refill_day, null);
    assert.equal(cc.refill_amount, 30);
    for (const id of [a, b, c]) {
      assert.deepEqual(await legacyOf(id), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    }
    assert.equal((await verify(keys[0])).remaining, 9);
    assert.equal((await creditsOf(a)).remaining, 9);
    assert.equal((await verify(keys[1])).remaining, 6);
    const got = await getKey(ctx, a);
    assert.deepEqual(got.refill, { interval: "monthly", amount: 100, refillDay: 1, lastRefillAt: ca.refilled_at });
  });

  test("duplicate hash ⇒ 409 and nothing inserted", async () => {
    const ctx = await kg.setup();
    const existing = await newKey(ctx, {});
    const fresh = `fresh_${randomBytes(8).toString("hex")}`;
    const before = await snapshot();
    const r = await kg.post("migrations.createKeys", [
      { apiId: ctx.apiId, plaintext: fresh, remaining: 10, externalId: "ext_dup" },
      { apiId: ctx.apiId, hash: { value: sha256(existing.key), variant: "sha256_base64" } },
    ], ctx.rootKey);
    expectError(assert, r, 409, "CONFLICT");
    assert.deepEqual(await snapshot(), before);
    assert.equal(await count("SELECT COUNT(*) AS n FROM keys WHERE hash = ?", sha256(fresh)), 0);
    assert.equal((await verify(fresh)).code, "NOT_FOUND");
    // a duplicate inside one request too
    const twice = `twice_${randomBytes(8).toString("hex")}`;
    expectError(assert, await kg.post("migrations.createKeys", [
      { apiId: ctx.apiId, plaintext: twice },
      { apiId: ctx.apiId, hash: { value: sha256(twice), variant: "sha256_base64" } },
    ], ctx.rootKey), 409, "CONFLICT");
    assert.deepEqual(await snapshot(), before);
  });

  test("roles and permissions must exist (412), existing ones are connected", async () => {
    const ctx = await kg.setup();
    await newKey(ctx, { roles: ["mig.role"], permissions: ["mig.perm"] });
    const before = await snapshot();
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_missing_role_1", roles: ["mig.role", "role.nope"] }], ctx.rootKey),
      412, "PRECONDITION_FAILED", /^Roles \[.*"role\.nope".*\] are missing, please create them first$/);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_missing_perm_1", permissions: ["perm.nope"] }], ctx.rootKey),
      412, "PRECONDITION_FAILED", /^Permissions \[.*"perm\.nope".*\] are missing, please create them first$/);
    assert.deepEqual(await snapshot(), before);
    const ok = await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_with_rbac_1", roles: ["mig.role"], permissions: ["mig.perm"] }], ctx.rootKey);
    assert.equal(ok.status, 200, ok.text);
    const got = await getKey(ctx, ok.body.keyIds[0]);
    assert.deepEqual(got.roles, ["mig.role"]);
    assert.deepEqual(got.permissions, ["mig.perm"]);
    const v = await verify("mig_with_rbac_1", { authorization: { permissions: "mig.perm" } });
    assert.equal(v.valid, true);
    // nothing was created for the refused requests
    assert.equal(await count("SELECT COUNT(*) AS n FROM roles WHERE name = 'role.nope'"), 0);
  });

  test("validation and permissions, nothing written", async () => {
    const ctx = await kg.setup();
    const before = await snapshot();
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, name: "neither" }], ctx.rootKey),
      400, "BAD_REQUEST", "provide either `hash` or `plaintext`");
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_v_1", refill: { interval: "daily", amount: 5 } }], ctx.rootKey),
      400, "BAD_REQUEST", "remaining must be set if you are using refill.");
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_v_2", remaining: 5, refill: { interval: "daily", amount: 5, refillDay: 3 } }], ctx.rootKey),
      400, "BAD_REQUEST");
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_v_3", remaining: 0 }], ctx.rootKey), 400, "BAD_REQUEST", /remaining/);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, hash: { value: "abc", variant: "md5" } }], ctx.rootKey), 400, "BAD_REQUEST", /variant/);
    expectError(assert, await kg.post("migrations.createKeys", { apiId: ctx.apiId, plaintext: "mig_v_4" }, ctx.rootKey), 400, "BAD_REQUEST");
    const tooMany = Array.from({ length: 101 }, (_, i) => ({ apiId: ctx.apiId, plaintext: `mig_many_${i}` }));
    expectError(assert, await kg.post("migrations.createKeys", tooMany, ctx.rootKey), 400, "BAD_REQUEST");
    // one bad key refuses the whole request
    expectError(assert, await kg.post("migrations.createKeys", [
      { apiId: ctx.apiId, plaintext: "mig_v_good" },
      { apiId: ctx.apiId },
    ], ctx.rootKey), 400, "BAD_REQUEST");
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: "api_nope", plaintext: "mig_v_5" }], ctx.rootKey), 404, "NOT_FOUND", "api api_nope not found");
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: s.apiId, plaintext: "mig_v_6" }], ctx.rootKey), 404, "NOT_FOUND", `api ${s.apiId} not found`);
    const other = await otherApi(ctx);
    const weak = await kg.rootKey(ctx.workspaceId, [`api.${other}.create_key`]);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_v_7" }], weak), 403, "INSUFFICIENT_PERMISSIONS", "unauthorized");
    assert.deepEqual(await snapshot(), before);
    assert.equal((await verify("mig_v_good")).code, "NOT_FOUND");
    const byId = await kg.rootKey(ctx.workspaceId, [`api.${ctx.apiId}.create_key`]);
    const ok = await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_v_8" }], byId);
    assert.equal(ok.status, 200, ok.text);
  });

  test("migrations.enqueueKeys answers as upstream without a queue (SDK)", async () => {
    const r = await kg.sdk(s.rootKey).migrations.enqueueKeys({ migrationId: "m1", apiId: s.apiId, keys: [{ plaintext: "x_1" }] });
    assert.equal(r.error.code, "PRECONDITION_FAILED");
    assert.equal(r.error.message, "queue migrations are not enabled");
  });
});
