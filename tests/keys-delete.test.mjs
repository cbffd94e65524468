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

// ---- apis.listKeys' total ---------------------------------------------------------------------

describe("an api's key count (apis.listKeys' total)", () => {
  test("follows creates, imports, rerolls and deletions; one key deleted by many at once counts once", async () => {
    const ctx = await kg.setup();
    const other = await kg.otherApi(ctx);
    const stored = async (apiId) =>
      kg.count("SELECT COUNT(*) AS n FROM keys k JOIN apis a ON a.key_auth_id = k.key_auth_id WHERE a.id = ? AND k.deleted_at_m IS NULL", apiId);
    const total = async (apiId, expected, step) => {
      const r = await kg.get("apis.listKeys", { apiId, limit: 1 }, ctx.rootKey);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.total, expected, `${step}: total`);
      assert.equal(await stored(apiId), expected, `${step}: live keys stored`);
    };
    await total(ctx.apiId, 0, "new api");
    const keys = [];
    for (let i = 0; i < 4; i++) keys.push(await kg.createKey(ctx, {}));
    await total(ctx.apiId, 4, "createKey × 4");

    const imported = await kg.post(
      "migrations.createKeys",
      [
        { apiId: ctx.apiId, plaintext: `cnt_${randomBytes(8).toString("hex")}` },
        { apiId: other, plaintext: `cnt_${randomBytes(8).toString("hex")}` },
        { apiId: ctx.apiId, plaintext: `cnt_${randomBytes(8).toString("hex")}` },
      ],
      ctx.rootKey,
    );
    assert.equal(imported.status, 200, imported.text);
    await total(ctx.apiId, 6, "import of 2 here");
    await total(other, 1, "import of 1 in the other api");
    // an import that fails (a hash already there) changes nothing
    const again = await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: `cnt_${randomBytes(8).toString("hex")}` }, { apiId: ctx.apiId, hash: { value: (await kg.row("SELECT hash FROM keys WHERE id = ?", keys[0].keyId)).hash, variant: "sha256_base64" } }], ctx.rootKey);
    assert.equal(again.status, 409, again.text);
    await total(ctx.apiId, 6, "a failed import");

    const rerolled = await kg.call("/v2/keys.rerollKey", { method: "POST", body: { keyId: keys[1].keyId, expiration: 60_000 }, rootKey: ctx.rootKey });
    assert.equal(rerolled.status, 200, rerolled.text);
    await total(ctx.apiId, 7, "rerollKey (the old key stays until it expires)");

    // ten deletions of one key at once: it leaves the count once
    const deletes = await Promise.all(Array.from({ length: 10 }, () => kg.post("keys.deleteKey", { keyId: keys[0].keyId }, ctx.rootKey)));
    assert.ok(deletes.some((r) => r.status === 200), deletes.map((r) => r.text).join(" | "));
    for (const r of deletes) assert.ok(r.status === 200 || r.status === 404, r.text);
    await total(ctx.apiId, 6, "one key deleted by ten requests at once");
    // soft, then for good: counted once
    assert.equal((await kg.post("keys.deleteKey", { keyId: keys[2].keyId }, ctx.rootKey)).status, 200);
    await total(ctx.apiId, 5, "a soft delete");
    const permanent = await kg.call("/v2/keys.deleteKey", { method: "POST", body: { keyId: keys[3].keyId, permanent: true }, rootKey: ctx.rootKey });
    assert.equal(permanent.status, 200, permanent.text);
    await total(ctx.apiId, 4, "a permanent delete");
    // permanent deletions of the same key at once
    const both = await Promise.all(Array.from({ length: 5 }, () => kg.call("/v2/keys.deleteKey", { method: "POST", body: { keyId: rerolled.body.data.keyId, permanent: true }, rootKey: ctx.rootKey })));
    assert.ok(both.some((r) => r.status === 200), both.map((r) => r.text).join(" | "));
    await total(ctx.apiId, 3, "one key deleted for good by five requests at once");
    // a key created meanwhile still counts
    await kg.createKey(ctx, {});
    await total(ctx.apiId, 4, "createKey after the deletions");
  });
});
