// Integration tests of keys.updateKey (split from keys.test.mjs).
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

// ---- keys.updateKey ---------------------------------------------------------------------------

describe("keys.updateKey", () => {
  const update = async (ctx, body) => {
    const r = await kg.post("keys.updateKey", body, ctx.rootKey);
    assert.equal(r.status, 200, `updateKey ${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(r.body, {});
  };

  test("update all on a key without credits ⇒ credits row 0, default ratelimit 10/1000 (SDK)", async () => {
    const { keyId, key } = await kg.createKey(s, {});
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
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, null);
    const row = await kg.creditsOf(keyId);
    assert.equal(row.remaining, 0);
    assert.equal(row.workspace_id, s.workspaceId);
    const rl = await kg.row("SELECT \"limit\" AS l, duration, auto_apply FROM ratelimits WHERE key_id = ? AND name = 'default'", keyId);
    assert.deepEqual(rl, { l: 10, duration: 1000, auto_apply: 1 });
    const got = await kg.getKey(s, keyId);
    assert.equal(got.name, "renamed");
    assert.equal(got.ownerId, "owner_all");
    assert.equal(got.identity.externalId, "owner_all");
    assert.deepEqual(got.meta, { updated: true });
    assert.equal(got.remaining, 0);
    assert.ok(got.updatedAt >= got.createdAt);
    const v = await kg.verify(key);
    assert.equal(v.valid, false);
    assert.equal(v.code, "USAGE_EXCEEDED");
    assert.equal(v.remaining, 0);
    assert.equal(await kg.auditTargets(s.workspaceId, "key.update", keyId), 1);
  });

  test("legacy(100) + remaining 50 ⇒ legacy 50, no credits row", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 100);
    await update(s, { keyId, remaining: 50 });
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 50);
    assert.equal(await kg.creditsOf(keyId), null);
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, 49);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 49);
  });

  test("credits(100) + remaining 200 ⇒ credits 200, legacy NULL", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 100 });
    const creditId = (await kg.creditsOf(keyId)).id;
    await update(s, { keyId, remaining: 200 });
    const row = await kg.creditsOf(keyId);
    assert.equal(row.id, creditId, "same row");
    assert.equal(row.remaining, 200);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, null);
    assert.equal((await kg.verify(key)).remaining, 199);
    assert.equal((await kg.creditsOf(keyId)).remaining, 199);
  });

  test("credits(100) used, then updated: the next verify sees the new balance", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 100 });
    assert.equal((await kg.verify(key)).remaining, 99);
    await update(s, { keyId, remaining: 20 });
    assert.equal((await kg.verify(key)).remaining, 19);
    assert.equal((await kg.creditsOf(keyId)).remaining, 19);
  });

  test("no credits + remaining 150 ⇒ a new credits row, legacy NULL", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    const before = Date.now();
    await update(s, { keyId, remaining: 150 });
    const row = await kg.creditsOf(keyId);
    assert.ok(row, "credits row");
    assert.match(row.id, /^cr_/);
    assert.equal(row.remaining, 150);
    assert.equal(row.workspace_id, s.workspaceId);
    assert.equal(row.identity_id, null);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.ok(row.refilled_at >= before, "refilled_at = now on a new row (§4.5)");
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, null);
    assert.equal((await kg.verify(key)).remaining, 149);
  });

  test("no credits + remaining and refill ⇒ a new credits row with the refill", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await update(s, { keyId, remaining: 100, refill: { interval: "monthly", amount: 300, refillDay: 5 } });
    const row = await kg.creditsOf(keyId);
    assert.equal(row.remaining, 100);
    assert.equal(row.refill_amount, 300);
    assert.equal(row.refill_day, 5);
    assert.deepEqual(await kg.legacyOf(keyId), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    assert.equal((await kg.verify(key)).remaining, 99);
  });

  test("legacy(999) + credits(3000) + remaining 50 ⇒ the credits row, legacy untouched", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 999);
    await kg.seedCredits(s, keyId, 3000);
    await update(s, { keyId, remaining: 50 });
    assert.equal((await kg.creditsOf(keyId)).remaining, 50);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 999);
    assert.equal((await kg.verify(key)).remaining, 49);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 999);
  });

  test("credits(100) + monthly refill 500 on day 15 ⇒ on the credits row, legacy refill NULL", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 100 });
    await update(s, { keyId, refill: { interval: "monthly", amount: 500, refillDay: 15 } });
    const row = await kg.creditsOf(keyId);
    assert.equal(row.refill_amount, 500);
    assert.equal(row.refill_day, 15);
    assert.equal(row.remaining, 100);
    const legacy = await kg.legacyOf(keyId);
    assert.equal(legacy.refill_amount, null);
    assert.equal(legacy.refill_day, null);
    assert.equal(legacy.remaining_requests, null);
    const got = await kg.getKey(s, keyId);
    assert.equal(got.refill.interval, "monthly");
    assert.equal(got.refill.amount, 500);
    assert.equal(got.refill.refillDay, 15);
    // setting a refill does not change the balance
    assert.equal((await kg.verify(key)).remaining, 99);
  });

  test("legacy(10) + monthly refill 130 ⇒ legacy refill 130 on day 1, no credits row", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 10);
    await update(s, { keyId, refill: { interval: "monthly", amount: 130 } });
    const legacy = await kg.legacyOf(keyId);
    assert.equal(legacy.remaining_requests, 10);
    assert.equal(legacy.refill_amount, 130);
    assert.equal(legacy.refill_day, 1);
    assert.equal(await kg.creditsOf(keyId), null);
    const got = await kg.getKey(s, keyId);
    assert.equal(got.remaining, 10);
    assert.equal(got.refill.interval, "monthly");
    assert.equal(got.refill.amount, 130);
    assert.equal(got.refill.refillDay, 1);
    assert.equal((await kg.verify(key)).remaining, 9);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, 9);
  });

  test("refill: null clears the refill of the credits row", async () => {
    const { keyId, key } = await kg.createKey(s, { remaining: 40, refill: { interval: "daily", amount: 50 } });
    await update(s, { keyId, refill: null });
    const row = await kg.creditsOf(keyId);
    assert.equal(row.refill_amount, null);
    assert.equal(row.refill_day, null);
    assert.equal(row.refilled_at, null);
    assert.equal(row.remaining, 40);
    assert.equal((await kg.getKey(s, keyId)).refill, undefined);
    assert.equal((await kg.verify(key)).remaining, 39);
  });

  test("remaining: null ⇒ credits row deleted (unlimited); legacy becomes effective again", async () => {
    const credits = await kg.createKey(s, { remaining: 100 });
    await update(s, { keyId: credits.keyId, remaining: null });
    assert.equal(await kg.creditsOf(credits.keyId), null);
    const v = await kg.verify(credits.key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, undefined);
    assert.equal((await kg.getKey(s, credits.keyId)).remaining, undefined);

    const both = await kg.createKey(s, {});
    await kg.seedLegacy(both.keyId, 70);
    await kg.seedCredits(s, both.keyId, 500);
    await update(s, { keyId: both.keyId, remaining: null });
    assert.equal(await kg.creditsOf(both.keyId), null);
    assert.equal((await kg.verify(both.key)).remaining, 69);
    assert.equal((await kg.legacyOf(both.keyId)).remaining_requests, 69);

    const legacy = await kg.createKey(s, {});
    await kg.seedLegacy(legacy.keyId, 100);
    await update(s, { keyId: legacy.keyId, remaining: null });
    assert.equal((await kg.legacyOf(legacy.keyId)).remaining_requests, null);
    assert.equal(await kg.creditsOf(legacy.keyId), null);
    assert.equal((await kg.verify(legacy.key)).remaining, undefined);
  });

  test("remaining: null on a key without credits ⇒ 200 no-op (decisions.md §2)", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    const before = await kg.counts(KEY_TABLES);
    await update(s, { keyId, remaining: null });
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    assert.equal(await kg.creditsOf(keyId), null);
    assert.equal((await kg.legacyOf(keyId)).remaining_requests, null);
    const v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.remaining, undefined);
  });

  test("refill on a key without credits ⇒ 400, nothing written (decisions.md §2)", async () => {
    const { keyId, key } = await kg.createKey(s, { name: "unchanged" });
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.updateKey", { keyId, refill: { interval: "daily", amount: 10 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set refill on a key with unlimited requests");
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "changed", refill: { interval: "monthly", amount: 10 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set refill on a key with unlimited requests");
    // remaining: null together with a refill, even on a key with credits
    const credits = await kg.createKey(s, { remaining: 10 });
    const before2 = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.updateKey", { keyId: credits.keyId, remaining: null, refill: { interval: "daily", amount: 10 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set refill on a key with unlimited requests");
    assert.deepEqual(await kg.counts(KEY_TABLES), before2);
    assert.equal((await kg.creditsOf(credits.keyId)).remaining, 10);
    assert.equal(before.credits, before2.credits - 1);
    assert.equal(await kg.creditsOf(keyId), null);
    assert.equal((await kg.getKey(s, keyId)).name, "unchanged");
    assert.equal((await kg.verify(key)).remaining, undefined);
  });

  test("daily refill with refillDay ⇒ 400, nothing changed", async () => {
    const { keyId, key } = await kg.createKey(s, {});
    await kg.seedLegacy(keyId, 10);
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("keys.updateKey", { keyId, remaining: 10, refill: { interval: "daily", amount: 10, refillDay: 4 } }, s.rootKey),
      400, "BAD_REQUEST", "Cannot set 'refillDay' if 'interval' is 'daily'");
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    assert.deepEqual(await kg.legacyOf(keyId), { remaining_requests: 10, refill_amount: null, refill_day: null, last_refill_at: null });
    assert.equal((await kg.verify(key)).remaining, 9);
  });

  test("unknown, soft-deleted, other workspace ⇒ 404; permissions; bad input", async () => {
    expectError(assert, await kg.post("keys.updateKey", { keyId: "key_nope", name: "x" }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    const doomed = await kg.createKey(s, {});
    assert.equal((await kg.post("keys.deleteKey", { keyId: doomed.keyId }, s.rootKey)).status, 200);
    expectError(assert, await kg.post("keys.updateKey", { keyId: doomed.keyId, name: "x" }, s.rootKey), 404, "NOT_FOUND", `key ${doomed.keyId} not found`);
    const other = await kg.setup();
    const foreign = await kg.createKey(other, { remaining: 10 });
    expectError(assert, await kg.post("keys.updateKey", { keyId: foreign.keyId, remaining: 99 }, s.rootKey), 404, "NOT_FOUND", `key ${foreign.keyId} not found`);
    assert.equal((await kg.creditsOf(foreign.keyId)).remaining, 10);

    const { keyId } = await kg.createKey(s, { name: "keep" });
    const weak = await kg.rootKey(s.workspaceId, [`api.${await kg.otherApi(s)}.update_key`]);
    expectError(assert, await kg.post("keys.updateKey", { keyId, name: "nope" }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.update_key`]);
    assert.equal((await kg.post("keys.updateKey", { keyId, name: "kept" }, byId)).status, 200);
    assert.equal((await kg.getKey(s, keyId)).name, "kept");

    const before = await kg.counts(KEY_TABLES);
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
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    assert.equal((await kg.getKey(s, keyId)).name, "kept");
  });

  test("ratelimit changes are seen by verification; name change keeps it; null removes it", async () => {
    const { keyId, key } = await kg.createKey(s, { ratelimit: { limit: 10, duration: 60000 } });
    await update(s, { keyId, name: "only the name" });
    let v = await kg.verify(key);
    assert.equal(v.ratelimit.limit, 10);
    assert.equal(v.ratelimit.remaining, 9);
    await update(s, { keyId, ratelimit: { limit: 5, duration: 5000 } });
    assert.deepEqual(
      await kg.row("SELECT \"limit\" AS l, duration FROM ratelimits WHERE key_id = ? AND name = 'default'", keyId),
      { l: 5, duration: 5000 },
    );
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimits WHERE key_id = ?", keyId), 1);
    v = await kg.verify(key);
    assert.equal(v.ratelimit.limit, 5);
    assert.equal(v.ratelimit.remaining, 4);
    await update(s, { keyId, ratelimit: null });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimits WHERE key_id = ?", keyId), 0);
    v = await kg.verify(key);
    assert.equal(v.valid, true);
    assert.equal(v.ratelimit, undefined);
    assert.equal((await kg.getKey(s, keyId)).ratelimit, undefined);
  });

  test("identity connect/disconnect, expires, meta, enabled; omitted fields untouched", async () => {
    const expires = Date.now() + 3_600_000;
    const { keyId, key } = await kg.createKey(s, { name: "fields", meta: { a: 1 }, expires, environment: "env1" });
    await update(s, { keyId, externalId: "ext_update" });
    const identity = await kg.row("SELECT id FROM identities WHERE workspace_id = ? AND external_id = 'ext_update'", s.workspaceId);
    assert.ok(identity);
    assert.deepEqual(await kg.row("SELECT identity_id, owner_id FROM keys WHERE id = ?", keyId), { identity_id: identity.id, owner_id: "ext_update" });
    let got = await kg.getKey(s, keyId);
    assert.equal(got.name, "fields");
    assert.deepEqual(got.meta, { a: 1 });
    assert.equal(got.expires, expires);
    assert.equal((await kg.verify(key)).identity.externalId, "ext_update");

    await update(s, { keyId, externalId: null, expires: null, meta: null });
    assert.deepEqual(await kg.row("SELECT identity_id, owner_id, expires, meta FROM keys WHERE id = ?", keyId),
      { identity_id: null, owner_id: null, expires: null, meta: null });
    got = await kg.getKey(s, keyId);
    assert.equal(got.identity, undefined);
    assert.equal(got.expires, undefined);
    assert.equal(got.meta, undefined);
    assert.equal(got.name, "fields");
    // the identity itself is kept
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM identities WHERE id = ?", identity.id), 1);

    await update(s, { keyId, ownerId: "owner_update" });
    assert.equal((await kg.getKey(s, keyId)).identity.externalId, "owner_update");

    await update(s, { keyId, enabled: false });
    assert.equal((await kg.verify(key)).code, "DISABLED");
    await update(s, { keyId, enabled: true });
    assert.equal((await kg.verify(key)).code, "VALID");

    await update(s, { keyId, expires: Date.now() - 1000 });
    assert.equal((await kg.verify(key)).code, "EXPIRED");
    assert.equal((await kg.row("SELECT environment FROM keys WHERE id = ?", keyId)).environment, "env1");
  });

  test("roles and permissions are set (setRoles / setPermissions semantics)", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await kg.createKey(ctx, { roles: ["role.old"], permissions: ["perm.old"] });
    await update(ctx, { keyId, roles: [{ name: "role.new", create: true }], permissions: [{ name: "perm.new", create: true }] });
    const got = await kg.getKey(ctx, keyId);
    assert.deepEqual(got.roles, ["role.new"]);
    assert.deepEqual(got.permissions, ["perm.new"]);
    const v = await kg.verify(key, { authorization: { permissions: "perm.new" } });
    assert.equal(v.valid, true);
    assert.equal((await kg.verify(key, { authorization: { permissions: "perm.old" } })).code, "INSUFFICIENT_PERMISSIONS");
  });
});
