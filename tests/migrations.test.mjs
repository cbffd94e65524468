// Integration tests of migrations.createKeys and migrations.enqueueKeys (split from keys.test.mjs).
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
import { startKeygate, expectError, KEY_TABLES, sha256 } from "./helpers.mjs";

let kg, s;
before(async () => {
  // the master key for recoverable keys (decisions.md §2: AES-256-GCM under ENCRYPTION_KEY)
  kg = await startKeygate({ bindings: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
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
    const v1 = await kg.verify(plaintext, { apiId: ctx.apiId });
    assert.equal(v1.valid, true);
    assert.equal(v1.keyId, plainId);
    assert.deepEqual(v1.meta, { m: 1 });
    const v2 = await kg.verify(hashed, { apiId: ctx.apiId });
    assert.equal(v2.valid, true);
    assert.equal(v2.keyId, hashId);
    assert.equal(v2.identity.externalId, "ext_mig");
    // no credits: unlimited, nothing written
    assert.equal(await kg.creditsOf(plainId), null);
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
    const ca = await kg.creditsOf(a);
    assert.equal(ca.remaining, 10);
    assert.equal(ca.refill_amount, 100);
    assert.equal(ca.refill_day, 1);
    assert.ok(ca.refilled_at > 0);
    assert.equal(ca.workspace_id, ctx.workspaceId);
    assert.equal(ca.identity_id, null);
    const cb = await kg.creditsOf(b);
    assert.equal(cb.remaining, 7);
    assert.equal(cb.refill_amount, null);
    assert.equal(cb.refill_day, null, "no refill ⇒ refill_day NULL (coderabbit fix)");
    assert.equal(cb.refilled_at, null);
    const cc = await kg.creditsOf(c);
    assert.equal(cc.refill_day, null);
    assert.equal(cc.refill_amount, 30);
    for (const id of [a, b, c]) {
      assert.deepEqual(await kg.legacyOf(id), { remaining_requests: null, refill_amount: null, refill_day: null, last_refill_at: null });
    }
    assert.equal((await kg.verify(keys[0])).remaining, 9);
    assert.equal((await kg.creditsOf(a)).remaining, 9);
    assert.equal((await kg.verify(keys[1])).remaining, 6);
    const got = await kg.getKey(ctx, a);
    assert.deepEqual(got.refill, { interval: "monthly", amount: 100, refillDay: 1, lastRefillAt: ca.refilled_at });
  });

  test("duplicate hash ⇒ 409 and nothing inserted", async () => {
    const ctx = await kg.setup();
    const existing = await kg.createKey(ctx, {});
    const fresh = `fresh_${randomBytes(8).toString("hex")}`;
    const before = await kg.counts(KEY_TABLES);
    const r = await kg.post("migrations.createKeys", [
      { apiId: ctx.apiId, plaintext: fresh, remaining: 10, externalId: "ext_dup" },
      { apiId: ctx.apiId, hash: { value: sha256(existing.key), variant: "sha256_base64" } },
    ], ctx.rootKey);
    expectError(assert, r, 409, "CONFLICT");
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM keys WHERE hash = ?", sha256(fresh)), 0);
    assert.equal((await kg.verify(fresh)).code, "NOT_FOUND");
    // a duplicate inside one request too
    const twice = `twice_${randomBytes(8).toString("hex")}`;
    expectError(assert, await kg.post("migrations.createKeys", [
      { apiId: ctx.apiId, plaintext: twice },
      { apiId: ctx.apiId, hash: { value: sha256(twice), variant: "sha256_base64" } },
    ], ctx.rootKey), 409, "CONFLICT");
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
  });

  test("roles and permissions must exist (412), existing ones are connected", async () => {
    const ctx = await kg.setup();
    await kg.createKey(ctx, { roles: ["mig.role"], permissions: ["mig.perm"] });
    const before = await kg.counts(KEY_TABLES);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_missing_role_1", roles: ["mig.role", "role.nope"] }], ctx.rootKey),
      412, "PRECONDITION_FAILED", /^Roles \[.*"role\.nope".*\] are missing, please create them first$/);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_missing_perm_1", permissions: ["perm.nope"] }], ctx.rootKey),
      412, "PRECONDITION_FAILED", /^Permissions \[.*"perm\.nope".*\] are missing, please create them first$/);
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    const ok = await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_with_rbac_1", roles: ["mig.role"], permissions: ["mig.perm"] }], ctx.rootKey);
    assert.equal(ok.status, 200, ok.text);
    const got = await kg.getKey(ctx, ok.body.keyIds[0]);
    assert.deepEqual(got.roles, ["mig.role"]);
    assert.deepEqual(got.permissions, ["mig.perm"]);
    const v = await kg.verify("mig_with_rbac_1", { authorization: { permissions: "mig.perm" } });
    assert.equal(v.valid, true);
    // nothing was created for the refused requests
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM roles WHERE name = 'role.nope'"), 0);
  });

  test("validation and permissions, nothing written", async () => {
    const ctx = await kg.setup();
    const before = await kg.counts(KEY_TABLES);
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
    const other = await kg.otherApi(ctx);
    const weak = await kg.rootKey(ctx.workspaceId, [`api.${other}.create_key`]);
    expectError(assert, await kg.post("migrations.createKeys", [{ apiId: ctx.apiId, plaintext: "mig_v_7" }], weak), 403, "INSUFFICIENT_PERMISSIONS", "unauthorized");
    assert.deepEqual(await kg.counts(KEY_TABLES), before);
    assert.equal((await kg.verify("mig_v_good")).code, "NOT_FOUND");
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
