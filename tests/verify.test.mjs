// keys.verifyKey: the ordered checks of v1 §3.2, the response of §3.3, credits (§3.4, §4), exact
// concurrency, refills, and the immediate effect of every balance change.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, at, midWindow, ok } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

describe("verification outcomes", () => {
  test("a plain key is valid; the SDK sees the same", async () => {
    const { key, keyId } = await kg.createKey(s);
    const r = await kg.verifyKey({ key, apiId: s.apiId });
    assert.equal(r.status, 200);
    assert.equal(r.body.valid, true);
    assert.equal(r.body.code, "VALID");
    assert.equal(r.body.keyId, keyId);
    assert.match(r.body.requestId, /^req_/);
    assert.equal(r.body.remaining, undefined);
    assert.deepEqual(r.body.permissions, []);
    assert.deepEqual(r.body.roles, []);
    const sdk = await kg.sdk(s.rootKey).keys.verify({ key, apiId: s.apiId });
    assert.equal(sdk.error, undefined);
    assert.equal(sdk.result.valid, true);
    assert.equal(sdk.result.keyId, keyId);
  });

  test("bad input is a 400 naming the field", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 10 });
    expectError(assert, await kg.verifyKey({ something: "else" }), 400, "BAD_REQUEST", "key: Required");
    expectError(assert, await kg.verifyKey({ key, remaining: { cost: -1 } }), 400, "BAD_REQUEST", "remaining.cost: Number must be greater than or equal to 0");
    expectError(assert, await kg.verifyKey({ key, remaining: { cost: 1.5 } }), 400, "BAD_REQUEST", "remaining.cost: Expected integer, received float");
    expectError(assert, await kg.verifyKey({ key, remaining: { cost: "1" } }), 400, "BAD_REQUEST", "remaining.cost: Expected number, received string");
    expectError(assert, await kg.verifyKey({ key, tags: Array(11).fill("t") }), 400, "BAD_REQUEST", "tags: Array must contain at most 10 element(s)");
    expectError(assert, await kg.verifyKey({ key, authorization: { permissions: { xor: ["a"] } } }), 400, "BAD_REQUEST", "permission query is invalid");
    // nothing was spent by the refused requests
    assert.equal((await kg.creditsOf(keyId)).remaining, 10);
  });

  test("unknown, soft-deleted keys and deleted apis are NOT_FOUND with nothing else", async () => {
    const r = await kg.verifyKey({ key: "nope_123" });
    assert.deepEqual(Object.keys(r.body).sort(), ["code", "requestId", "valid"]);
    assert.equal(r.body.code, "NOT_FOUND");
    assert.equal(r.body.valid, false);

    const k = await kg.createKey(s);
    await kg.post("keys.deleteKey", { keyId: k.keyId }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "NOT_FOUND");

    const other = await kg.post("apis.createApi", { name: "doomed-api" }, s.rootKey);
    const k2 = await kg.createKey({ apiId: other.body.apiId, rootKey: s.rootKey }, {});
    assert.equal((await kg.verifyKey({ key: k2.key })).body.code, "VALID");
    await kg.post("apis.deleteApi", { apiId: other.body.apiId }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k2.key })).body.code, "NOT_FOUND");

    // a soft-deleted keyspace (test-only write)
    const third = await kg.post("apis.createApi", { name: "ks-deleted" }, s.rootKey);
    const k3 = await kg.createKey({ apiId: third.body.apiId, rootKey: s.rootKey }, {});
    await kg.db.prepare("UPDATE key_auth SET deleted_at_m = 1 WHERE id = (SELECT key_auth_id FROM apis WHERE id = ?)").bind(third.body.apiId).run();
    assert.equal((await kg.verifyKey({ key: k3.key })).body.code, "NOT_FOUND");
  });

  test("expiry", async () => {
    const { key } = await kg.createKey(s, { expires: Date.now() + 1500 });
    assert.equal((await kg.verifyKey({ key })).body.code, "VALID");
    await new Promise((r) => setTimeout(r, 1700));
    const r = await kg.verifyKey({ key });
    assert.equal(r.status, 200);
    assert.equal(r.body.valid, false);
    assert.equal(r.body.code, "EXPIRED");
  });

  test("an expired key echoes every field", async () => {
    const expires = Date.now() - 1000;
    const { key } = await kg.createKey(s, {
      expires, name: "hello world", ownerId: "owner-1", environment: "prod", meta: { hello: "world" },
      permissions: ["permission"], roles: ["role"],
    });
    const r = await kg.verifyKey({ key });
    assert.equal(r.body.code, "EXPIRED");
    assert.equal(r.body.valid, false);
    assert.equal(r.body.name, "hello world");
    assert.equal(r.body.ownerId, "owner-1");
    assert.equal(r.body.environment, "prod");
    assert.deepEqual(r.body.meta, { hello: "world" });
    assert.equal(r.body.expires, expires);
    assert.deepEqual(r.body.permissions, ["permission"]);
    assert.deepEqual(r.body.roles, ["role"]);
  });

  test("disabled keys, and the disabled check comes before the api check", async () => {
    const { key } = await kg.createKey(s, { enabled: false, meta: { a: 1 } });
    const r = await kg.verifyKey({ key, apiId: s.apiId });
    assert.equal(r.body.code, "DISABLED");
    assert.equal(r.body.valid, false);
    assert.deepEqual(r.body.meta, { a: 1 });
    assert.equal(r.body.enabled, false);

    const second = await kg.post("apis.createApi", { name: "second-api" }, s.rootKey);
    const inSecond = await kg.createKey({ apiId: second.body.apiId, rootKey: s.rootKey }, { environment: "test" });
    const ok = await kg.verifyKey({ key: inSecond.key, apiId: second.body.apiId });
    assert.equal(ok.body.code, "VALID");
    assert.equal(ok.body.environment, "test");
    assert.equal((await kg.verifyKey({ key: inSecond.key, apiId: s.apiId })).body.code, "FORBIDDEN");
    const disabledSecond = await kg.createKey({ apiId: second.body.apiId, rootKey: s.rootKey }, { enabled: false });
    assert.equal((await kg.verifyKey({ key: disabledSecond.key, apiId: s.apiId })).body.code, "DISABLED");
  });

  test("identity is returned; its external id is the ownerId", async () => {
    const { key } = await kg.createKey(s, { externalId: "identity-external-456" });
    const r = await kg.verifyKey({ key });
    assert.equal(r.body.identity.externalId, "identity-external-456");
    assert.match(r.body.identity.id, /^id_/);
    assert.deepEqual(r.body.identity.meta, {});
    assert.equal(r.body.ownerId, "identity-external-456");
    ok(await kg.post("identities.updateIdentity", { identityId: r.body.identity.id, meta: { hello: "world" } }, s.rootKey));
    assert.deepEqual((await kg.verifyKey({ key })).body.identity.meta, { hello: "world" });
    const plain = await kg.createKey(s, { ownerId: "key-owner-123" });
    assert.equal((await kg.verifyKey({ key: plain.key })).body.ownerId, "key-owner-123");
  });

  test("IP whitelist", async () => {
    const api = await kg.post("apis.createApi", { name: "whitelisted" }, s.rootKey);
    await kg.admin("updateApi", { apiId: api.body.apiId, ipWhitelist: "100.100.100.100" });
    const { key } = await kg.createKey({ apiId: api.body.apiId, rootKey: s.rootKey }, {});
    // the caller IP is CF-Connecting-IP (a client-sent True-Client-IP counts for nothing: edge.test.mjs)
    assert.equal((await kg.verifyKey({ key, apiId: api.body.apiId }, { "CF-Connecting-IP": "100.100.100.100" })).body.code, "VALID");
    assert.equal((await kg.verifyKey({ key }, { "CF-Connecting-IP": "100.100.100.100" })).body.code, "VALID");
    assert.equal((await kg.verifyKey({ key }, { "CF-Connecting-IP": "1.2.3.4" })).body.code, "FORBIDDEN");
    assert.equal((await kg.verifyKey({ key })).body.code, "FORBIDDEN");
    assert.equal((await kg.verifyKey({ key, apiId: s.apiId }, { "CF-Connecting-IP": "100.100.100.100" })).body.code, "FORBIDDEN");
  });

  test("permission queries", async () => {
    const { key } = await kg.createKey(s, { permissions: ["perm1", "perm2"] });
    const check = async (permissions) => (await kg.verifyKey({ key, authorization: { permissions } })).body.code;
    assert.equal(await check("perm1"), "VALID");
    assert.equal(await check("perm3"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await check({ and: ["perm1", "perm2"] }), "VALID");
    assert.equal(await check({ and: ["perm1", "perm3"] }), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await check({ or: ["perm3", { and: ["perm1", "perm2"] }] }), "VALID");
    assert.equal(await check(null), "VALID");
  });

  test("a disabled workspace is a 403 envelope", async () => {
    const other = await kg.setup();
    const { key } = await kg.createKey(other, {});
    await kg.admin("updateWorkspace", { workspaceId: other.workspaceId, enabled: false });
    const r = await kg.verifyKey({ key });
    expectError(assert, r, 403, "FORBIDDEN", "workspace is disabled");
    await kg.admin("updateWorkspace", { workspaceId: other.workspaceId, enabled: true });
    assert.equal((await kg.verifyKey({ key })).body.code, "VALID");
  });
});

describe("credits", () => {
  test("credits rows: 100 → 99, cost 5, cost 0, exhausted, too expensive", async () => {
    const a = await kg.createKey(s, { remaining: 100 });
    const r = await kg.verifyKey({ key: a.key });
    assert.equal(r.body.valid, true);
    assert.equal(r.body.remaining, 99);
    assert.equal((await kg.creditsOf(a.keyId)).remaining, 99);

    const b = await kg.createKey(s, { remaining: 50 });
    assert.equal((await kg.verifyKey({ key: b.key, remaining: { cost: 5 } })).body.remaining, 45);
    assert.equal((await kg.creditsOf(b.keyId)).remaining, 45);

    const c = await kg.createKey(s, { remaining: 1 });
    const first = await kg.verifyKey({ key: c.key });
    assert.deepEqual([first.body.valid, first.body.remaining], [true, 0]);
    const second = await kg.verifyKey({ key: c.key });
    assert.deepEqual([second.body.valid, second.body.code, second.body.remaining], [false, "USAGE_EXCEEDED", 0]);
    const zero = await kg.verifyKey({ key: c.key, remaining: { cost: 0 } });
    assert.deepEqual([zero.body.valid, zero.body.code, zero.body.remaining], [true, "VALID", 0]);
    assert.equal((await kg.creditsOf(c.keyId)).remaining, 0);

    const d = await kg.createKey(s, { remaining: 99 });
    const expensive = await kg.verifyKey({ key: d.key, remaining: { cost: 101 } });
    assert.deepEqual([expensive.body.valid, expensive.body.code, expensive.body.remaining], [false, "USAGE_EXCEEDED", 99]);
    assert.equal((await kg.creditsOf(d.keyId)).remaining, 99);
  });

  test("legacy column: 10 → 9, cost 2, cost 0 on 0, too expensive", async () => {
    const a = await kg.legacyKey(s, 10);
    const r = await kg.verifyKey({ key: a.key });
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 9]);
    assert.equal((await kg.legacyOf(a.keyId)).remaining_requests, 9);
    assert.equal(await kg.creditsOf(a.keyId), null);

    const b = await kg.legacyKey(s, 10);
    assert.equal((await kg.verifyKey({ key: b.key, remaining: { cost: 2 } })).body.remaining, 8);

    const c = await kg.legacyKey(s, 0);
    const zero = await kg.verifyKey({ key: c.key, remaining: { cost: 0 } });
    assert.deepEqual([zero.body.valid, zero.body.remaining], [true, 0]);

    const d = await kg.legacyKey(s, 50);
    const expensive = await kg.verifyKey({ key: d.key, remaining: { cost: 100 } });
    assert.deepEqual([expensive.body.valid, expensive.body.code], [false, "USAGE_EXCEEDED"]);
    assert.equal((await kg.legacyOf(d.keyId)).remaining_requests, 50);
  });

  test("a credits row wins over the legacy column", async () => {
    const k = await kg.legacyKey(s, 999);
    await kg.db.prepare("INSERT INTO credits (id, workspace_id, key_id, remaining, created_at) VALUES (?, ?, ?, 3000, 0)").bind(`cr_t_${k.keyId}`, s.workspaceId, k.keyId).run();
    const r = await kg.verifyKey({ key: k.key });
    assert.equal(r.body.remaining, 2999);
    assert.equal((await kg.legacyOf(k.keyId)).remaining_requests, 999);
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 2999);
  });

  test("a negative balance rejects cost 1 with remaining 0 and accepts cost 0 as is", async () => {
    const k = await kg.createKey(s, { remaining: 5 });
    await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "decrement", value: 10 }, s.rootKey);
    const r = await kg.verifyKey({ key: k.key });
    assert.deepEqual([r.body.code, r.body.remaining], ["USAGE_EXCEEDED", 0]);
    const z = await kg.verifyKey({ key: k.key, remaining: { cost: 0 } });
    assert.deepEqual([z.body.code, z.body.remaining], ["VALID", -5]);
  });

  test("a rate-limited verification spends no credits; legacy 0 with a ratelimit is USAGE_EXCEEDED", async () => {
    const k = await kg.createKey(s, { remaining: 10, ratelimit: { limit: 1, duration: 60000 } });
    const t = midWindow(60000); // both in one window
    assert.equal((await kg.verifyKey({ key: k.key }, at(t))).body.remaining, 9);
    const limited = await kg.verifyKey({ key: k.key }, at(t));
    assert.equal(limited.body.code, "RATE_LIMITED");
    assert.equal(limited.body.remaining, undefined);
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 9);

    const l = await kg.legacyKey(s, 0, {}, { ratelimit: { limit: 10, duration: 60000 } });
    assert.equal((await kg.verifyKey({ key: l.key })).body.code, "USAGE_EXCEEDED");
  });

  test("remaining 100: 100 verifies return 99..0, the 101st is rejected, getKey says 0", async () => {
    const k = await kg.createKey(s, { remaining: 100 });
    for (let expected = 99; expected >= 0; expected--) {
      const r = await kg.verifyKey({ key: k.key });
      assert.deepEqual([r.body.valid, r.body.remaining], [true, expected]);
    }
    const last = await kg.verifyKey({ key: k.key });
    assert.deepEqual([last.body.valid, last.body.remaining], [false, 0]);
    assert.equal((await kg.get("keys.getKey", { keyId: k.keyId }, s.rootKey)).body.remaining, 0);
  });

  test("verification events record the outcome and the credits spent", async () => {
    const k = await kg.createKey(s, { remaining: 10 });
    await kg.verifyKey({ key: k.key, remaining: { cost: 3 }, tags: ["b", "a"] });
    await kg.verifyKey({ key: k.key, remaining: { cost: 30 } });
    const query = { apiId: s.apiId, keyId: k.keyId, start: Date.now() - 3_600_000, groupBy: "tags" };
    const r = await kg.get("analytics.getVerifications", query, s.rootKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.map((p) => [p.tags, p.valid, p.usageExceeded, p.spentCredits]), [
      [["a", "b"], 1, 0, 3],
      [[], 0, 1, 0],
    ]);
  });
});

describe("concurrency (real concurrent requests)", () => {
  async function burst(key, n, body = {}) {
    const results = await Promise.all(Array.from({ length: n }, () => kg.verifyKey({ key, ...body })));
    for (const r of results) assert.equal(r.status, 200, r.text);
    return results.map((r) => r.body);
  }

  test("remaining 1, 200 concurrent verifies: exactly 1 valid", async () => {
    const k = await kg.createKey(s, { remaining: 1 });
    const out = await burst(k.key, 200);
    assert.equal(out.filter((b) => b.valid).length, 1);
    assert.equal(out.filter((b) => b.code === "USAGE_EXCEEDED").length, 199);
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 0);
  });

  test("remaining 100, 300 concurrent verifies: exactly 100 valid, balance 0 in getKey and D1", async () => {
    const k = await kg.createKey(s, { remaining: 100 });
    const out = await burst(k.key, 300);
    assert.equal(out.filter((b) => b.valid).length, 100);
    const seen = out.filter((b) => b.valid).map((b) => b.remaining).sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i), "each balance from 99 to 0 is handed out once");
    assert.equal((await kg.get("keys.getKey", { keyId: k.keyId }, s.rootKey)).body.remaining, 0);
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 0);
  });

  test("cost 10 on 500, 80 concurrent verifies: exactly 50 valid", async () => {
    const k = await kg.createKey(s, { remaining: 500 });
    const out = await burst(k.key, 80, { remaining: { cost: 10 } });
    assert.equal(out.filter((b) => b.valid).length, 50);
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 0);
  });

  test("legacy column, 60 concurrent verifies on 25: exactly 25 valid", async () => {
    const k = await kg.legacyKey(s, 25);
    const out = await burst(k.key, 60);
    assert.equal(out.filter((b) => b.valid).length, 25);
    assert.equal((await kg.legacyOf(k.keyId)).remaining_requests, 0);
  });

  test("increments racing verifications lose nothing", async () => {
    const k = await kg.createKey(s, { remaining: 50 });
    const verifies = Array.from({ length: 100 }, () => kg.verifyKey({ key: k.key }));
    const increments = Array.from({ length: 10 }, () => kg.post("keys.updateRemaining", { keyId: k.keyId, op: "increment", value: 5 }, s.rootKey));
    const [v, inc] = await Promise.all([Promise.all(verifies), Promise.all(increments)]);
    for (const r of inc) assert.equal(r.status, 200);
    const valid = v.filter((r) => r.body.valid).length;
    // 50 + 10×5 = 100 credits in total; every valid verification took exactly one
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 100 - valid);
    assert.ok(valid >= 50, `${valid} valid`);
  });
});

describe("every balance change is seen by the very next verification", () => {
  test("updateRemaining increment / set / decrement (credits row)", async () => {
    const k = await kg.createKey(s, { remaining: 5 });
    for (let i = 4; i >= 0; i--) assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, i);
    const exhausted = await kg.verifyKey({ key: k.key });
    assert.deepEqual([exhausted.body.valid, exhausted.body.remaining], [false, 0]);
    const inc = await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "increment", value: 5 }, s.rootKey);
    assert.deepEqual(inc.body, { remaining: 5 });
    assert.deepEqual([(await kg.verifyKey({ key: k.key })).body.valid, (await kg.verifyKey({ key: k.key })).body.remaining], [true, 3]);
    await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "set", value: 1 }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 0);
    await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "set", value: null }, s.rootKey);
    const unlimited = await kg.verifyKey({ key: k.key });
    assert.deepEqual([unlimited.body.valid, unlimited.body.remaining], [true, undefined]);
  });

  test("updateRemaining on the legacy column", async () => {
    const k = await kg.legacyKey(s, 1);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 0);
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "USAGE_EXCEEDED");
    await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "increment", value: 3 }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 2);
    assert.equal((await kg.legacyOf(k.keyId)).remaining_requests, 2);
    assert.equal(await kg.creditsOf(k.keyId), null);
  });

  test("updateKey remaining, null, and a new credits row", async () => {
    const k = await kg.createKey(s, { remaining: 2 });
    await kg.verifyKey({ key: k.key });
    await kg.verifyKey({ key: k.key });
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "USAGE_EXCEEDED");
    assert.equal((await kg.post("keys.updateKey", { keyId: k.keyId, remaining: 10 }, s.rootKey)).status, 200);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 9);
    await kg.post("keys.updateKey", { keyId: k.keyId, remaining: null }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, undefined);
    assert.equal(await kg.creditsOf(k.keyId), null);
    await kg.post("keys.updateKey", { keyId: k.keyId, remaining: 3 }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 2);
  });

  test("updateKey on the legacy column", async () => {
    const k = await kg.legacyKey(s, 0);
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "USAGE_EXCEEDED");
    await kg.post("keys.updateKey", { keyId: k.keyId, remaining: 7 }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 6);
    assert.equal((await kg.legacyOf(k.keyId)).remaining_requests, 6);
  });

  test("deleteKey and enabled:false take effect at once", async () => {
    const k = await kg.createKey(s, { remaining: 10 });
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 9);
    await kg.post("keys.updateKey", { keyId: k.keyId, enabled: false }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "DISABLED");
    await kg.post("keys.updateKey", { keyId: k.keyId, enabled: true }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 8);
    await kg.post("keys.deleteKey", { keyId: k.keyId, permanent: true }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "NOT_FOUND");
  });
});

describe("refills", () => {
  const DAY = 86_400_000;
  const startOfToday = () => Math.floor(Date.now() / DAY) * DAY;


  test("moving the stored refill time back makes the next verification refill, once", async () => {
    const k = await kg.createKey(s, { remaining: 3, refill: { interval: "daily", amount: 10 } });
    // the last refill was yesterday (test-only write), so today's boundary has passed
    await kg.db.prepare("UPDATE credits SET refilled_at = ? WHERE key_id = ?").bind(startOfToday() - 3_600_000, k.keyId).run();
    const r = await kg.verifyKey({ key: k.key });
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 9]);
    const row = await kg.creditsOf(k.keyId);
    assert.equal(row.remaining, 9);
    assert.ok(row.refilled_at >= startOfToday());
    // not again within the same day
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 8);
    assert.equal((await kg.get("keys.getKey", { keyId: k.keyId }, s.rootKey)).body.refill.lastRefillAt, row.refilled_at);
  });

  test("a warm limiter refills when the next midnight passes", async () => {
    const k = await kg.createKey(s, { remaining: 3, refill: { interval: "daily", amount: 10 } });
    for (let i = 0; i < 3; i++) await kg.verifyKey({ key: k.key });
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "USAGE_EXCEEDED");
    const tomorrow = startOfToday() + DAY;
    assert.equal((await kg.verifyKey({ key: k.key }, at(tomorrow - 1))).body.code, "USAGE_EXCEEDED");
    const r = await kg.verifyKey({ key: k.key }, at(tomorrow + 1));
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 9]);
    assert.equal((await kg.creditsOf(k.keyId)).refilled_at, tomorrow + 1);
    assert.equal((await kg.verifyKey({ key: k.key }, at(tomorrow + 5000))).body.remaining, 8);
    // 100 concurrent verifications right after the next boundary: one refill, exactly 10 valid
    const dayAfter = tomorrow + DAY;
    const burst = await Promise.all(Array.from({ length: 100 }, () => kg.verifyKey({ key: k.key }, at(dayAfter + 10))));
    assert.equal(burst.filter((b) => b.body.valid).length, 10);
    assert.equal((await kg.creditsOf(k.keyId)).remaining, 0);
  });

  test("monthly refill on day 31 happens on the last day of shorter months", async () => {
    // the first month-end boundary after now: 00:00 UTC of this month's last day, or next month's
    const now = new Date();
    let lastDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0);
    if (lastDay <= now.getTime()) lastDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 0);
    const k = await kg.createKey(s, { remaining: 1, refill: { interval: "monthly", amount: 100, refillDay: 31 } });
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 0);
    assert.equal((await kg.verifyKey({ key: k.key }, at(lastDay - 1))).body.code, "USAGE_EXCEEDED");
    const r = await kg.verifyKey({ key: k.key }, at(lastDay + 60_000));
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 99]);
    assert.equal((await kg.verifyKey({ key: k.key }, at(lastDay + 10 * DAY))).body.remaining, 98);
    const g = await kg.get("keys.getKey", { keyId: k.keyId }, s.rootKey);
    assert.deepEqual(g.body.refill, { interval: "monthly", amount: 100, refillDay: 31, lastRefillAt: lastDay + 60_000 });
  });

  test("a balance above the refill amount is left alone and the boundary still counts", async () => {
    const k = await kg.createKey(s, { remaining: 50, refill: { interval: "daily", amount: 10 } });
    await kg.db.prepare("UPDATE credits SET refilled_at = ? WHERE key_id = ?").bind(startOfToday() - 1000, k.keyId).run();
    await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "set", value: 50 }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 49);
    assert.ok((await kg.creditsOf(k.keyId)).refilled_at >= startOfToday());
    await kg.post("keys.updateRemaining", { keyId: k.keyId, op: "set", value: 2 }, s.rootKey);
    // same day: no second refill although the balance is now below the amount
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 1);
  });

  test("legacy refill at verification time", async () => {
    const k = await kg.legacyKey(s, 0, { amount: 20, day: null, lastRefillAt: startOfToday() - 5000 });
    const r = await kg.verifyKey({ key: k.key });
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 19]);
    assert.equal((await kg.legacyOf(k.keyId)).remaining_requests, 19);
  });

  test("the scheduled handler refills due balances for reads", async () => {
    const daily = await kg.createKey(s, { remaining: 5, refill: { interval: "daily", amount: 40 } });
    const fresh = await kg.createKey(s, { remaining: 5, refill: { interval: "daily", amount: 40 } });
    const legacy = await kg.legacyKey(s, 1, { amount: 30, lastRefillAt: startOfToday() - 1000 });
    const deleted = await kg.createKey(s, { remaining: 5, refill: { interval: "daily", amount: 40 } });
    await kg.db.prepare("UPDATE credits SET refilled_at = ? WHERE key_id IN (?, ?)").bind(startOfToday() - 1000, daily.keyId, deleted.keyId).run();
    await kg.post("keys.deleteKey", { keyId: deleted.keyId }, s.rootKey);
    const worker = await kg.mf.getWorker("keygate");
    await worker.scheduled({ cron: "0 * * * *" });
    assert.equal((await kg.get("keys.getKey", { keyId: daily.keyId }, s.rootKey)).body.remaining, 40);
    assert.equal((await kg.get("keys.getKey", { keyId: fresh.keyId }, s.rootKey)).body.remaining, 5);
    assert.equal((await kg.legacyOf(legacy.keyId)).remaining_requests, 30);
    assert.equal((await kg.creditsOf(deleted.keyId)).remaining, 5);
    // the refill the cron made is not made again by the verification
    assert.equal((await kg.verifyKey({ key: daily.key })).body.remaining, 39);
    assert.equal((await kg.verifyKey({ key: legacy.key })).body.remaining, 29);
  });
});
