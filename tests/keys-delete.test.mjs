// Integration tests of keys.deleteKey (split from keys.test.mjs).
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

// ---- keys.deleteKey ---------------------------------------------------------------------------

describe("keys.deleteKey", () => {
  test("soft delete (SDK): not verifiable, not readable, not listed, credits row kept", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await kg.createKey(ctx, { remaining: 10 });
    const keep = await kg.createKey(ctx, {});
    const res = await kg.sdk(ctx.rootKey).keys.delete({ keyId });
    assert.equal(res.error, undefined, JSON.stringify(res.error));
    assert.deepEqual(res.result, {});
    const row = await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", keyId);
    assert.ok(row.deleted_at_m > 0 && Math.abs(Date.now() - row.deleted_at_m) < 10_000, `deleted_at_m ${row.deleted_at_m}`);
    assert.ok(await kg.creditsOf(keyId), "credits row kept on soft delete");
    const v = await kg.verify(key);
    assert.equal(v.valid, false);
    assert.equal(v.code, "NOT_FOUND");
    expectError(assert, await kg.get("keys.getKey", { keyId }, ctx.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
    expectError(assert, await kg.post("keys.whoami", { key }, ctx.rootKey), 404, "NOT_FOUND", "Key not found");
    const list = await kg.get("apis.listKeys", { apiId: ctx.apiId }, ctx.rootKey);
    assert.deepEqual(list.body.keys.map((k) => k.id), [keep.keyId]);
    assert.equal(await kg.auditTargets(ctx.workspaceId, "key.delete", keyId), 1);
    // a deleted key cannot be deleted again
    expectError(assert, await kg.post("keys.deleteKey", { keyId }, ctx.rootKey), 404, "NOT_FOUND", `key ${keyId} not found`);
    assert.equal((await kg.verify(keep.key)).valid, true);
  });

  test("permanent delete removes the key and its credits, ratelimits, permission and role links", async () => {
    const ctx = await kg.setup();
    const { keyId, key } = await kg.createKey(ctx, { remaining: 1000, ratelimit: { limit: 10, duration: 60000 }, roles: ["r.del"], permissions: ["p.del"] });
    assert.equal((await kg.verify(key)).remaining, 999);
    const r = await kg.post("keys.deleteKey", { keyId, permanent: true }, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys WHERE id = ?", keyId), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM credits WHERE key_id = ?", keyId), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimits WHERE key_id = ?", keyId), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_permissions WHERE key_id = ?", keyId), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys_roles WHERE key_id = ?", keyId), 0);
    // the permission and role themselves stay
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM permissions WHERE workspace_id = ? AND slug = 'p.del'", ctx.workspaceId), 1);
    assert.equal((await kg.verify(key)).code, "NOT_FOUND");
    expectError(assert, await kg.get("keys.getKey", { keyId }, ctx.rootKey), 404, "NOT_FOUND");

    const legacy = await kg.createKey(ctx, {});
    await kg.seedLegacy(legacy.keyId, 50);
    assert.equal((await kg.post("keys.deleteKey", { keyId: legacy.keyId, permanent: true }, ctx.rootKey)).status, 200);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys WHERE id = ?", legacy.keyId), 0);
    assert.equal((await kg.verify(legacy.key)).code, "NOT_FOUND");
  });

  test("unknown ⇒ 404; other workspace ⇒ 403 UNAUTHORIZED; permissions", async () => {
    expectError(assert, await kg.post("keys.deleteKey", { keyId: "key_nope" }, s.rootKey), 404, "NOT_FOUND", "key key_nope not found");
    expectError(assert, await kg.post("keys.deleteKey", {}, s.rootKey), 400, "BAD_REQUEST", /^keyId: /);
    const other = await kg.setup();
    const foreign = await kg.createKey(other, { remaining: 5 });
    expectError(assert, await kg.post("keys.deleteKey", { keyId: foreign.keyId }, s.rootKey), 403, "UNAUTHORIZED", "you are not allowed to do this");
    expectError(assert, await kg.post("keys.deleteKey", { keyId: foreign.keyId, permanent: true }, s.rootKey), 403, "UNAUTHORIZED", "you are not allowed to do this");
    assert.equal((await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", foreign.keyId)).deleted_at_m, null);
    assert.ok(await kg.creditsOf(foreign.keyId));
    assert.equal((await kg.verify(foreign.key)).valid, true);

    const { keyId } = await kg.createKey(s, {});
    const weak = await kg.rootKey(s.workspaceId, [`api.${await kg.otherApi(s)}.delete_key`]);
    expectError(assert, await kg.post("keys.deleteKey", { keyId }, weak), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", keyId)).deleted_at_m, null);
    const byId = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.delete_key`]);
    assert.equal((await kg.post("keys.deleteKey", { keyId }, byId)).status, 200);
  });
});
