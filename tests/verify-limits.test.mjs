// keys.verifyKey with rate limits (v1 §3.2 step 9) and identity credits (decisions.md §3).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, at, midWindow, uniq } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

describe("rate limits in verification", () => {
  test("the key's default limit applies automatically and is reported", async () => {
    const { key } = await kg.createKey(s, { ratelimit: { limit: 10, duration: 60000 } });
    // both in one window (the real clock could cross into the next one between them)
    const t = midWindow(60000);
    const r = await kg.verifyKey({ key, ratelimits: [{ name: "default" }] }, at(t));
    assert.equal(r.body.valid, true);
    assert.equal(r.body.ratelimit.limit, 10);
    assert.equal(r.body.ratelimit.remaining, 9);
    assert.ok(r.body.ratelimit.reset > t);
    assert.equal((await kg.verifyKey({ key }, at(t))).body.ratelimit.remaining, 8);
  });

  test("a limit of 0 rejects with the identity echoed", async () => {
    const externalId = uniq();
    const { key, keyId } = await kg.createKey(s, { externalId, ratelimit: { limit: 1, duration: 60000 } });
    await kg.db.prepare("UPDATE ratelimits SET \"limit\" = 0 WHERE key_id = ?").bind(keyId).run();
    const r = await kg.verifyKey({ key });
    assert.equal(r.body.code, "RATE_LIMITED");
    assert.equal(r.body.valid, false);
    assert.equal(r.body.ownerId, externalId);
    assert.equal(r.body.identity.externalId, externalId);
    assert.equal(r.body.ratelimit.remaining, 0);
  });

  test("ad hoc limits (multilimit)", async () => {
    const { key } = await kg.createKey(s);
    const ok = await kg.verifyKey({ key, ratelimits: [{ name: "tokens", limit: 10, duration: 10000, cost: 4 }, { name: "requests", limit: 1, duration: 60000, cost: 1 }] });
    assert.equal(ok.body.code, "VALID");
    assert.equal(ok.body.ratelimit.limit, undefined, "no default limit applied");
    const { key: key2 } = await kg.createKey(s);
    const limited = await kg.verifyKey({ key: key2, ratelimits: [{ name: "requests", limit: 1, duration: 60000, cost: 2 }] });
    assert.equal(limited.body.code, "RATE_LIMITED");
  });

  test("an unknown named limit is a 400 with the spec's message", async () => {
    const { key, keyId } = await kg.createKey(s);
    expectError(assert, await kg.verifyKey({ key, ratelimits: [{ name: "nope" }] }), 400, "BAD_REQUEST",
      `ratelimit "nope" was requested but does not exist for key "${keyId}" and there is no identity connected`);
    const externalId = uniq();
    const identityId = await kg.createIdentity(s, { externalId });
    const withIdentity = await kg.createKey(s, { externalId });
    expectError(assert, await kg.verifyKey({ key: withIdentity.key, ratelimits: [{ name: "nope", cost: 2 }] }), 400, "BAD_REQUEST",
      `ratelimit "nope" was requested but does not exist for key "${withIdentity.keyId}" nor identity { id: ${identityId}, externalId: ${externalId}}`);
  });

  test("several limits are all-or-nothing: a rejected request consumes no tokens", async () => {
    const { key } = await kg.createKey(s);
    // one clock for the whole test, the middle of a 60 s window: with the real clock the test
    // could cross into the next window
    const clock = at(midWindow(60000));
    const a = { name: "a", limit: 10, duration: 60000 };
    const b = { name: "b", limit: 1, duration: 60000 };
    // b rejects cost 2, so a must not be charged either
    for (let i = 0; i < 5; i++) {
      assert.equal((await kg.verifyKey({ key, ratelimits: [{ ...a, cost: 1 }, { ...b, cost: 2 }] }, clock)).body.code, "RATE_LIMITED");
    }
    const full = await kg.verifyKey({ key, ratelimits: [{ ...a, cost: 10 }] }, clock);
    assert.equal(full.body.code, "VALID", "all 10 tokens of a are still there");
    assert.equal(full.body.ratelimit.remaining, 0);
    assert.equal((await kg.verifyKey({ key, ratelimits: [{ ...a, cost: 1 }] }, clock)).body.code, "RATE_LIMITED");
    // b was never charged either
    assert.equal((await kg.verifyKey({ key, ratelimits: [{ ...b, cost: 1 }] }, clock)).body.code, "VALID");
  });

  test("accuracy: 150 concurrent verifications against a limit of 40 ⇒ exactly 40 pass", async () => {
    const { key } = await kg.createKey(s, { ratelimit: { limit: 40, duration: 60000 } });
    const now = Date.now();
    const out = await Promise.all(Array.from({ length: 150 }, () => kg.verifyKey({ key }, at(now))));
    assert.equal(out.filter((r) => r.body.valid).length, 40);
    assert.equal(out.filter((r) => r.body.code === "RATE_LIMITED").length, 110);
  });

  test("fixed windows: the limit resets at the next window", async () => {
    const { key } = await kg.createKey(s, { ratelimit: { limit: 2, duration: 1000 } });
    const t = Math.floor(Date.now() / 1000) * 1000 + 100_000;
    assert.equal((await kg.verifyKey({ key }, at(t))).body.code, "VALID");
    const second = await kg.verifyKey({ key }, at(t + 500));
    assert.deepEqual([second.body.code, second.body.ratelimit.remaining, second.body.ratelimit.reset], ["VALID", 0, t + 1000]);
    assert.equal((await kg.verifyKey({ key }, at(t + 999))).body.code, "RATE_LIMITED");
    const next = await kg.verifyKey({ key }, at(t + 1000));
    assert.deepEqual([next.body.code, next.body.ratelimit.remaining, next.body.ratelimit.reset], ["VALID", 1, t + 2000]);
  });

  test("an identity's limits are shared by all its keys", async () => {
    const externalId = uniq();
    await kg.createIdentity(s, { externalId, ratelimits: [{ name: "requests", limit: 10, duration: 60000 }] });
    const k1 = await kg.createKey(s, { externalId });
    const k2 = await kg.createKey(s, { externalId });
    const now = Date.now();
    const out = await Promise.all(Array.from({ length: 30 }, (_, i) => kg.verifyKey({ key: i % 2 ? k1.key : k2.key }, at(now))));
    assert.equal(out.filter((r) => r.body.valid).length, 10);
    // a key without the identity is not affected
    const other = await kg.createKey(s);
    assert.equal((await kg.verifyKey({ key: other.key, ratelimits: [{ name: "requests", limit: 10, duration: 60000 }] }, at(now))).body.code, "VALID");
  });

  test("a key's limit overrides the identity's limit of the same name", async () => {
    const externalId = uniq();
    await kg.createIdentity(s, { externalId, ratelimits: [{ name: "default", limit: 1, duration: 60000 }] });
    const k = await kg.createKey(s, { externalId, ratelimit: { limit: 3, duration: 60000 } });
    const codes = [];
    const t = midWindow(60000); // all four in one window
    for (let i = 0; i < 4; i++) codes.push((await kg.verifyKey({ key: k.key }, at(t))).body.code);
    assert.deepEqual(codes, ["VALID", "VALID", "VALID", "RATE_LIMITED"]);
  });

  test("updateKey ratelimit changes apply at once, a name change keeps the limit", async () => {
    const k = await kg.createKey(s, { ratelimit: { limit: 10, duration: 60000 } });
    await kg.post("keys.updateKey", { keyId: k.keyId, ratelimit: { limit: 5, duration: 5000 } }, s.rootKey);
    const r = await kg.verifyKey({ key: k.key });
    assert.deepEqual([r.body.ratelimit.limit, r.body.ratelimit.remaining], [5, 4]);
    await kg.post("keys.updateKey", { keyId: k.keyId, name: "renamed" }, s.rootKey);
    assert.deepEqual([(await kg.verifyKey({ key: k.key })).body.ratelimit.limit, (await kg.get("keys.getKey", { keyId: k.keyId }, s.rootKey)).body.ratelimit.limit], [5, 5]);
    await kg.post("keys.updateKey", { keyId: k.keyId, ratelimit: null }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.ratelimit, undefined);
  });
});

describe("identity credits", () => {
  test("keys of an identity spend the identity's balance first", async () => {
    const externalId = uniq();
    const identityId = await kg.createIdentity(s, { externalId, credits: { remaining: 5 } });
    const k = await kg.createKey(s, { externalId, remaining: 100 });
    const r = await kg.verifyKey({ key: k.key });
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 4]);
    assert.equal((await kg.creditsOf(k.keyId))?.remaining, 100, "the key's own credits are untouched");
    const got = await kg.get("identities.getIdentity", { identityId }, s.rootKey);
    assert.equal(got.body.credits.remaining, 4);
    for (let i = 3; i >= 0; i--) assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, i);
    const exhausted = await kg.verifyKey({ key: k.key });
    assert.deepEqual([exhausted.body.code, exhausted.body.remaining], ["USAGE_EXCEEDED", 0]);
    // removing the identity's credits falls back to the key's own balance at once
    await kg.post("identities.updateIdentity", { identityId, credits: null }, s.rootKey);
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 99);
  });

  test("two keys share one balance exactly under concurrency", async () => {
    const externalId = uniq();
    await kg.createIdentity(s, { externalId, credits: { remaining: 25 } });
    const k1 = await kg.createKey(s, { externalId });
    const k2 = await kg.createKey(s, { externalId });
    const out = await Promise.all(Array.from({ length: 80 }, (_, i) => kg.verifyKey({ key: i % 2 ? k1.key : k2.key })));
    assert.equal(out.filter((r) => r.body.valid).length, 25);
    const row = await kg.row("SELECT remaining FROM credits WHERE identity_id = (SELECT identity_id FROM keys WHERE id = ?)", k1.keyId);
    assert.equal(row.remaining, 0);
  });

  test("updateIdentity credits are seen by the next verification; the SDK reads them", async () => {
    const externalId = uniq();
    const identityId = await kg.createIdentity(s, { externalId, credits: { remaining: 1 } });
    const k = await kg.createKey(s, { externalId });
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 0);
    assert.equal((await kg.verifyKey({ key: k.key })).body.code, "USAGE_EXCEEDED");
    const u = await kg.sdk(s.rootKey).identities.update({ identityId, credits: { remaining: 10 } });
    assert.equal(u.error, undefined, JSON.stringify(u.error));
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 9);
    const got = await kg.sdk(s.rootKey).identities.get({ identityId });
    assert.equal(got.result.credits.remaining, 9);
  });

  test("identity credits refill at verification time", async () => {
    const externalId = uniq();
    await kg.createIdentity(s, { externalId, credits: { remaining: 1, refill: { interval: "daily", amount: 20 } } });
    const k = await kg.createKey(s, { externalId });
    assert.equal((await kg.verifyKey({ key: k.key })).body.remaining, 0);
    const tomorrow = Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000;
    const r = await kg.verifyKey({ key: k.key }, at(tomorrow + 1));
    assert.deepEqual([r.body.valid, r.body.remaining], [true, 19]);
  });
});
