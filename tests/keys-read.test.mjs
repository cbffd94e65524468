// Integration tests of the key-reading routes: keys.getKey, keys.whoami, apis.listKeys (split from
// keys.test.mjs).
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

// ---- keys.getKey ------------------------------------------------------------------------------

describe("keys.getKey", () => {
  test("basic fields through the SDK", async () => {
    const { keyId, key } = await kg.createKey(s, { name: "basic", externalId: "ext_basic", prefix: "bs" });
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
    const { keyId } = await kg.createKey(s, { remaining: 5000, refill: { interval: "monthly", amount: 2000, refillDay: 10 } });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.remaining, 5000);
    assert.equal(got.refill.interval, "monthly");
    assert.equal(got.refill.amount, 2000);
    assert.equal(got.refill.refillDay, 10);
    assert.equal(typeof got.refill.lastRefillAt, "number");
  });

  test("legacy(800, daily 100) is read from the legacy columns", async () => {
    const { keyId } = await kg.createKey(s, {});
    const lastRefillAt = Date.now() - 60_000;
    await kg.seedLegacy(keyId, 800, { amount: 100, day: null, lastRefillAt });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.remaining, 800);
    assert.deepEqual(got.refill, { interval: "daily", amount: 100, refillDay: null, lastRefillAt });
  });

  test("legacy(123, 50) + credits(7000, 3000) ⇒ the credits row wins", async () => {
    const { keyId } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 123, { amount: 50 });
    await kg.seedCredits(s, keyId, 7000, { amount: 3000, refilledAt: Date.now() });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.remaining, 7000);
    assert.equal(got.refill.amount, 3000);
    assert.equal(got.refill.interval, "daily");
    assert.equal(got.refill.refillDay, null);
  });

  test("unknown, soft-deleted, other workspace ⇒ 404; permissions", async () => {
    expectError(assert, await kg.get("keys.getKey", { keyId: "key_nope" }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    expectError(assert, await kg.get("keys.getKey", {}, s.rootKey), 400, "BAD_REQUEST", /^keyId: /);
    const other = await kg.setup();
    const foreign = await kg.createKey(other, {});
    expectError(assert, await kg.get("keys.getKey", { keyId: foreign.keyId }, s.rootKey), 404, "NOT_FOUND", `key ${foreign.keyId} not found`);
    const { keyId } = await kg.createKey(s, {});
    const otherApiId = await kg.otherApi(s);
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
    const { keyId, key } = await kg.createKey(s, { name: "who", meta: { a: 1 }, environment: "staging", externalId: "ext_who" });
    await kg.seedLegacy(keyId, 100);
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
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 100);
  });

  test("credits(2500), legacy(1500), legacy(999) + credits(3000), unlimited", async () => {
    const credits = await kg.createKey(s, { remaining: 2500 });
    assert.equal((await whoami(s, credits.key)).remaining, 2500);
    assert.equal((await kg.creditsOf(credits.keyId)).remaining, 2500);

    const legacy = await kg.createKey(s, {});
    await kg.seedLegacy(legacy.keyId, 1500);
    assert.equal((await whoami(s, legacy.key)).remaining, 1500);

    const both = await kg.createKey(s, {});
    await kg.seedLegacy(both.keyId, 999);
    await kg.seedCredits(s, both.keyId, 3000);
    assert.equal((await whoami(s, both.key)).remaining, 3000);

    const unlimited = await kg.createKey(s, { meta: {} });
    const w = await whoami(s, unlimited.key);
    assert.equal(w.remaining, undefined);
    assert.equal("meta" in w, false, "empty meta is omitted");
    assert.equal("identity" in w, false);
  });

  test("unknown key, other workspace ⇒ 404 Key not found; permissions", async () => {
    expectError(assert, await kg.post("keys.whoami", { key: "nope_123" }, s.rootKey), 404, "NOT_FOUND", "Key not found");
    expectError(assert, await kg.post("keys.whoami", {}, s.rootKey), 400, "BAD_REQUEST", /^key: /);
    const other = await kg.setup();
    const foreign = await kg.createKey(other, {});
    expectError(assert, await kg.post("keys.whoami", { key: foreign.key }, s.rootKey), 404, "NOT_FOUND", "Key not found");
    const { key } = await kg.createKey(s, {});
    const weak = await kg.rootKey(s.workspaceId, [`api.${await kg.otherApi(s)}.read_key`]);
    expectError(assert, await kg.post("keys.whoami", { key }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.read_key`]);
    assert.equal((await kg.post("keys.whoami", { key }, byId)).status, 200);
  });
});

// ---- apis.listKeys ----------------------------------------------------------------------------

describe("apis.listKeys", () => {
  test("credit fields of credits, legacy and legacy + credits keys (SDK)", async () => {
    const ctx = await kg.setup();
    const a = await kg.createKey(ctx, { remaining: 1000, refill: { interval: "monthly", amount: 500, refillDay: 15 } });
    const b = await kg.createKey(ctx, {});
    const bRefill = Date.now() - 5000;
    await kg.seedLegacy(b.keyId, 750, { amount: 100, lastRefillAt: bRefill });
    const c = await kg.createKey(ctx, {});
    await kg.seedLegacy(c.keyId, 999, { amount: 99 });
    const cRefill = Date.now() - 1000;
    await kg.seedCredits(ctx, c.keyId, 2000, { amount: 1000, refilledAt: cRefill });
    const d = await kg.createKey(ctx, {});

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
    for (let i = 0; i < 6; i++) ids.push((await kg.createKey(ctx, { name: `k${i}` })).keyId);
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
    const a1 = await kg.createKey(ctx, { externalId: "alice" });
    const a2 = await kg.createKey(ctx, { externalId: "alice" });
    await kg.createKey(ctx, { externalId: "bob" });
    await kg.createKey(ctx, {});
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
    const k = await kg.createKey(ctx, { roles: ["reader"], permissions: ["doc.read"] });
    const gone = await kg.createKey(ctx, {});
    assert.equal((await kg.post("keys.deleteKey", { keyId: gone.keyId }, ctx.rootKey)).status, 200);
    const r = await kg.get("apis.listKeys", { apiId: ctx.apiId }, ctx.rootKey);
    assert.deepEqual(r.body.keys.map((x) => x.id), [k.keyId]);
    assert.deepEqual(r.body.keys[0].roles, ["reader"]);
    assert.deepEqual(r.body.keys[0].permissions, ["doc.read"]);
  });

  test("auth: read_key and read_api both needed; unknown or foreign api ⇒ 404", async () => {
    const ctx = await kg.setup();
    await kg.createKey(ctx, {});
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
