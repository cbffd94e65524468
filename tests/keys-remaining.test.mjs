// Integration tests of keys.updateRemaining (split from keys.test.mjs).
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
import { startKeygate, expectError, KEY_TABLES } from "./helpers.mjs";

let kg, s;
before(async () => {
  // the master key for recoverable keys (decisions.md §2: AES-256-GCM under ENCRYPTION_KEY)
  kg = await startKeygate({ bindings: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

// ---- keys.updateRemaining ---------------------------------------------------------------------

describe("keys.updateRemaining", () => {
  const updateRemaining = async (ctx, body) => {
    const r = await kg.post("keys.updateRemaining", body, ctx.rootKey);
    assert.equal(r.status, 200, `updateRemaining ${JSON.stringify(body)}: ${r.text}`);
    return r.body;
  };

  test("legacy(100): increment, decrement, set stay on the legacy column", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 100);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "increment", value: 10 }), { remaining: 110 });
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 110);
    assert.equal(await kg.creditsOf(keyId), null);
    assert.equal((await kg.verify(key)).remaining, 109);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "decrement", value: 10 }), { remaining: 99 });
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 99);
    assert.equal((await kg.verify(key)).remaining, 98);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 10 }), { remaining: 10 });
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 10);
    assert.equal(await kg.creditsOf(keyId), null);
    assert.equal((await kg.verify(key)).remaining, 9);
  });

  test("legacy(100): set 50 ⇒ legacy 50, no credits row", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 100);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 50 }), { remaining: 50 });
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 50);
    assert.equal(await kg.creditsOf(keyId), null);
    assert.equal((await kg.verify(key)).remaining, 49);
  });

  test("credits(100): increment and decrement the credits row (SDK)", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 100 });
    const unkey = kg.sdk(s.rootKey);
    const inc = await unkey.keys.updateRemaining({ keyId, op: "increment", value: 10 });
    assert.equal(inc.error, undefined, JSON.stringify(inc.error));
    assert.deepEqual(inc.result, { remaining: 110 });
    assert.equal((await kg.creditsOf(keyId)).remaining, 110);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, null);
    assert.equal((await kg.verify(key)).remaining, 109);
    const dec = await unkey.keys.updateRemaining({ keyId, op: "decrement", value: 10 });
    assert.deepEqual(dec.result, { remaining: 99 });
    assert.equal((await kg.creditsOf(keyId)).remaining, 99);
    assert.equal((await kg.verify(key)).remaining, 98);
    assert.equal(await kg.auditTargets(s.workspaceId, "key.update", keyId), 2);
  });

  test("no credits anywhere: set 50 ⇒ a new credits row", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    const before = Date.now();
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 50 }), { remaining: 50 });
    const row = await kg.creditsOf(keyId);
    assert.ok(row, "credits row");
    assert.equal(row.remaining, 50);
    assert.equal(row.key_id, keyId);
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal(row.identity_id, null);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.ok(row.refilled_at >= before, "refilled_at = now (§4.5)");
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, null);
    assert.equal((await kg.verify(key)).remaining, 49);
  });

  test("legacy(999) + credits(3000): set targets the credits row", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 999);
    await kg.seedCredits(s, keyId, 3000);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "set", value: 10 }), { remaining: 10 });
    assert.equal((await kg.creditsOf(keyId)).remaining, 10);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 999);
    assert.equal((await kg.verify(key)).remaining, 9);
    assert.deepEqual(await updateRemaining(s, { keyId, op: "increment", value: 5 }), { remaining: 14 });
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 999);
    assert.equal((await kg.verify(key)).remaining, 13);
  });

  test("set null: deletes the credits row, clears legacy, no-op on unlimited", async () => {
    const credits = await kg.createKey(s, { remaining: 30 });
    assert.deepEqual(await updateRemaining(s, { keyId: credits.keyId, op: "set", value: null }), { remaining: null });
    assert.equal(await kg.creditsOf(credits.keyId), null);
    assert.equal((await kg.verify(credits.key)).remaining, undefined);

    const both = await kg.createKey(s, {});
    await kg.seedLegacy(both.keyId, 40);
    await kg.seedCredits(s, both.keyId, 300);
    assert.deepEqual(await updateRemaining(s, { keyId: both.keyId, op: "set", value: null }), { remaining: 40 });
    assert.equal(await kg.creditsOf(both.keyId), null);
    assert.equal((await kg.verify(both.key)).remaining, 39);

    const legacy = await kg.createKey(s, {});
    await kg.seedLegacy(legacy.keyId, 20);
    assert.deepEqual(await updateRemaining(s, { keyId: legacy.keyId, op: "set", value: null }), { remaining: null });
    assert.equal((await kg.legacyOf(legacy.keyId)).remaining_requests, null);
    assert.equal((await kg.verify(legacy.key)).remaining, undefined);

    const unlimited = await kg.createKey(s, {});
    const before = await kg.counts(KEY_TABLES);
    assert.deepEqual(await updateRemaining(s, { keyId: unlimited.keyId, op: "set", value: null }), { remaining: null });
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    assert.equal((await kg.verify(unlimited.key)).remaining, undefined);
  });

  test("increment/decrement errors: unlimited key, null value, bad op", async () => {
    const unlimited = await kg.createKey(s, {});
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: unlimited.keyId, op: "increment", value: 5 }, s.rootKey),
      400, "BAD_REQUEST", "cannot increment a key with unlimited remaining requests, please 'set' a value instead.");
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: unlimited.keyId, op: "decrement", value: 5 }, s.rootKey),
      400, "BAD_REQUEST", "cannot decrement a key with unlimited remaining requests, please 'set' a value instead.");
    const credits = await kg.createKey(s, { remaining: 10 });
    const before2 = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "increment", value: null }, s.rootKey),
      400, "BAD_REQUEST", "cannot increment a key by null.");
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "decrement", value: null }, s.rootKey),
      400, "BAD_REQUEST", "cannot decrement a key by null.");
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "XXX", value: 1 }, s.rootKey), 400, "BAD_REQUEST", /^op: /);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "set" }, s.rootKey), 400, "BAD_REQUEST", /^value: /);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: credits.keyId, op: "set", value: "7" }, s.rootKey), 400, "BAD_REQUEST", /^value: /);
    expectError(assert, await kg.post("keys.updateRemaining", { op: "set", value: 7 }, s.rootKey), 400, "BAD_REQUEST", /^keyId: /);
    assert.deepEqual(await kg.counts(KEY_TABLES), before2);
    assert.equal(before.credits + 1, before2.credits);
    assert.equal((await kg.creditsOf(credits.keyId)).remaining, 10);
    assert.equal(await kg.creditsOf(unlimited.keyId), null);
  });

  test("decrement below zero ⇒ negative balance, verify USAGE_EXCEEDED with remaining 0", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 5 });
    assert.deepEqual(await updateRemaining(s, { keyId, op: "decrement", value: 10 }), { remaining: -5 });
    assert.equal((await kg.creditsOf(keyId)).remaining, -5);
    const v = await kg.verify(key);
    assert.equal(v.valid, false);
    assert.equal(v.code, "USAGE_EXCEEDED");
    assert.equal(v.remaining, 0);
    assert.equal((await kg.creditsOf(keyId)).remaining, -5);
  });

  test("unknown, other workspace ⇒ 404; permissions", async () => {
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: "key_nope", op: "set", value: 1 }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    const other = await kg.setup();
    const foreign = await kg.createKey(other, { remaining: 10 });
    expectError(assert, await kg.post("keys.updateRemaining", { keyId: foreign.keyId, op: "set", value: 99 }, s.rootKey),
      404, "NOT_FOUND", `key ${foreign.keyId} not found`);
    assert.equal((await kg.creditsOf(foreign.keyId)).remaining, 10);
    const { keyId } = await kg.createKey(s, { remaining: 10 });
    const weak = await kg.rootKey(s.workspaceId, [`api.${await kg.otherApi(s)}.update_key`]);
    expectError(assert, await kg.post("keys.updateRemaining", { keyId, op: "set", value: 99 }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await kg.creditsOf(keyId)).remaining, 10);
    const wildcard = await kg.rootKey(s.workspaceId, ["api.*.update_key"]);
    assert.deepEqual((await kg.post("keys.updateRemaining", { keyId, op: "set", value: 99 }, wildcard)).body, { remaining: 99 });
  });

  test("integration: spend 5 credits, top up, spend again", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await kg.createKey(ctx, { remaining: 5 });
    for (const expected of [4, 3, 2, 1, 0]) {
      const v = await kg.verify(key, { apiId: ctx.apiId });
      assert.equal(v.valid, true);
      assert.equal(v.remaining, expected);
    }
    const sixth = await kg.verify(key, { apiId: ctx.apiId });
    assert.equal(sixth.valid, false);
    assert.equal(sixth.code, "USAGE_EXCEEDED");
    assert.equal(sixth.remaining, 0);
    const inc = await kg.sdk(ctx.rootKey).keys.updateRemaining({ keyId, op: "increment", value: 5 });
    assert.deepEqual(inc.result, { remaining: 5 });
    const v = await kg.verify(key, { apiId: ctx.apiId });
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 4);
    assert.equal((await kg.creditsOf(keyId)).remaining, 4);
  });
});
