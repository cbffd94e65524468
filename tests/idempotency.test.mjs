// Idempotency-Key (issue 10 item 6) on keys.verifyKey, keys.updateRemaining / keys.updateCredits
// and ratelimits.limit / ratelimit.limit, v1 and v2: the same key (per workspace) within 24 h
// answers the first outcome (with `Idempotent-Replayed: true`) without charging or counting
// again, also when the identical requests are in flight at once; a key reused for a different
// request is refused (409); records expire after 24 h and their storage is given back.
// Contract: docs/decisions.md "Idempotency-Key".
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startKeygate, expectError, uniq, at, midWindow } from "./helpers.mjs";
import { sdk, v2, expectV2Error, workspaceV2 } from "./v2-helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const DAY = 24 * 60 * 60 * 1000;
const idem = (key, extra = {}) => ({ "Idempotency-Key": key, ...extra });
const replayed = (r) => r.headers.get("idempotent-replayed") === "true";
/** A body without its request id (every answer has its own). */
const outcome = ({ requestId: _, ...rest }) => rest;
const remainingOf = async (ctx, keyId) => (await kg.getKey(ctx, keyId)).remaining;

async function creditsKey(ctx, remaining = 10, extra = {}) {
  return kg.createKey(ctx, { remaining, ...extra });
}

describe("keys.verifyKey (v1)", () => {
  test("a replay answers the first outcome, says so, and charges once; a new key charges again", async () => {
    const { key, keyId } = await creditsKey(s);
    const k = randomUUID();
    const first = await kg.verifyKey({ key }, idem(k));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.code, "VALID");
    assert.equal(first.body.remaining, 9);
    assert.equal(replayed(first), false, "a first answer is not a replay");
    const again = await kg.verifyKey({ key }, idem(k));
    assert.equal(again.status, 200);
    assert.deepEqual(outcome(again.body), outcome(first.body), "the same outcome");
    assert.equal(replayed(again), true, "Idempotent-Replayed: true");
    assert.equal(await remainingOf(s, keyId), 9, "charged once");

    const other = await kg.verifyKey({ key }, idem(randomUUID()));
    assert.equal(other.body.remaining, 8, "another Idempotency-Key is another request");
    assert.equal(replayed(other), false);
    const plain = await kg.verifyKey({ key });
    assert.equal(plain.body.remaining, 7, "no header: charged as always");
    assert.equal(replayed(plain), false);
    assert.equal(await remainingOf(s, keyId), 7);
  });

  test("20 identical requests in flight at once charge exactly once and all answer the same", async () => {
    const { key, keyId } = await creditsKey(s, 100);
    const k = randomUUID();
    const answers = await Promise.all(Array.from({ length: 20 }, () => kg.verifyKey({ key, remaining: { cost: 3 } }, idem(k))));
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.code, "VALID");
      assert.equal(r.body.remaining, 97, "every answer is the first outcome");
    }
    assert.equal(answers.filter(replayed).length, 19, "one charged, 19 replayed");
    assert.equal(await remainingOf(s, keyId), 97);
    // and alongside 20 distinct keys at once: each charges
    const distinct = await Promise.all(Array.from({ length: 20 }, () => kg.verifyKey({ key }, idem(randomUUID()))));
    assert.ok(distinct.every((r) => r.body.code === "VALID" && !replayed(r)));
    assert.equal(await remainingOf(s, keyId), 77);
  });

  test("a denied first outcome is replayed as denied (a refill in between does not change it)", async () => {
    const { key, keyId } = await creditsKey(s, 1);
    const k = randomUUID();
    assert.equal((await kg.verifyKey({ key, remaining: { cost: 2 } }, idem(k))).body.code, "USAGE_EXCEEDED");
    await kg.post("keys.updateRemaining", { keyId, op: "set", value: 50 }, s.rootKey);
    const again = await kg.verifyKey({ key, remaining: { cost: 2 } }, idem(k));
    assert.equal(again.body.code, "USAGE_EXCEEDED");
    assert.equal(replayed(again), true);
    assert.equal(await remainingOf(s, keyId), 50, "nothing charged");
  });

  test("credits and a rate limit: both are charged and counted once", async () => {
    const { key, keyId } = await creditsKey(s, 10);
    const ratelimits = [{ name: "burst", limit: 5, duration: 60_000 }];
    const t = at(midWindow(60_000)); // every request in one window
    const k = randomUUID();
    const first = await kg.verifyKey({ key, ratelimits }, idem(k, t));
    assert.equal(first.body.code, "VALID", first.text);
    assert.equal(first.body.remaining, 9);
    assert.equal(first.body.ratelimit.remaining, 4);
    const again = await kg.verifyKey({ key, ratelimits }, idem(k, t));
    assert.deepEqual(outcome(again.body), outcome(first.body));
    assert.equal(replayed(again), true);
    const plain = await kg.verifyKey({ key, ratelimits }, t);
    assert.equal(plain.body.remaining, 8, "the balance was charged once before");
    assert.equal(plain.body.ratelimit.remaining, 3, "the limit was counted once before");
    assert.equal(await remainingOf(s, keyId), 8);
  });

  test("nothing to charge or count: no record, answered afresh, never marked replayed", async () => {
    const { key } = await kg.createKey(s, {});
    const k = randomUUID();
    for (let i = 0; i < 2; i++) {
      const r = await kg.verifyKey({ key }, idem(k));
      assert.equal(r.body.code, "VALID");
      assert.equal(replayed(r), false);
    }
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM idempotency WHERE idem_key = ?", k), 0);
  });

  test("the key is per workspace: the same key in two workspaces charges each", async () => {
    const other = await kg.setup();
    const a = await creditsKey(s, 10);
    const b = await creditsKey(other, 10);
    const k = randomUUID();
    const ra = await kg.verifyKey({ key: a.key }, idem(k));
    const rb = await kg.verifyKey({ key: b.key }, idem(k));
    assert.equal(ra.body.remaining, 9);
    assert.equal(rb.body.remaining, 9);
    assert.equal(replayed(rb), false, "another workspace's record is not this one's");
    assert.equal(await remainingOf(s, a.keyId), 9);
    assert.equal(await remainingOf(other, b.keyId), 9);
  });

  test("reuse for a different request is refused with 409 CONFLICT and charges nothing", async () => {
    const a = await creditsKey(s, 10);
    const b = await creditsKey(s, 10);
    const k = randomUUID();
    assert.equal((await kg.verifyKey({ key: a.key }, idem(k))).body.remaining, 9);
    // another cost
    let r = await kg.verifyKey({ key: a.key, remaining: { cost: 2 } }, idem(k));
    expectError(assert, r, 409, "CONFLICT", /Idempotency-Key/);
    // another key (another balance) of the same workspace
    r = await kg.verifyKey({ key: b.key }, idem(k));
    expectError(assert, r, 409, "CONFLICT", /Idempotency-Key/);
    assert.equal(await remainingOf(s, a.keyId), 9);
    assert.equal(await remainingOf(s, b.keyId), 10);
    // updateRemaining with the key of a verification
    r = await kg.post("keys.updateRemaining", { keyId: a.keyId, op: "increment", value: 1 }, s.rootKey, idem(k));
    expectError(assert, r, 409, "CONFLICT", /Idempotency-Key/);
    assert.equal(await remainingOf(s, a.keyId), 9);
  });

  test("a malformed header is a 400 naming Idempotency-Key, with nothing charged", async () => {
    const { key, keyId } = await creditsKey(s, 10);
    // (characters outside ASCII cannot be sent by Node's client at all)
    for (const bad of ["x".repeat(256), "has space", "tab\there"]) {
      const r = await kg.verifyKey({ key }, idem(bad));
      expectError(assert, r, 400, "BAD_REQUEST", /Idempotency-Key/);
    }
    assert.equal(await remainingOf(s, keyId), 10);
    const longest = await kg.verifyKey({ key }, idem("k".repeat(255)));
    assert.equal(longest.body.remaining, 9, "255 characters are accepted");
  });

  test("records expire after 24 h: the same key charges again, and the cron deletes them", async () => {
    const ctx = await kg.setup();
    const { key, keyId } = await creditsKey(ctx, 10);
    const T = Date.now();
    const k = randomUUID();
    assert.equal((await kg.verifyKey({ key }, idem(k, at(T)))).body.remaining, 9);
    const late = await kg.verifyKey({ key }, idem(k, at(T + DAY - 1)));
    assert.equal(late.body.remaining, 9);
    assert.equal(replayed(late), true, "still kept just before 24 h");
    const expired = await kg.verifyKey({ key }, idem(k, at(T + DAY)));
    assert.equal(expired.body.remaining, 8, "after 24 h the key is a new request");
    assert.equal(replayed(expired), false);
    assert.equal(await remainingOf(ctx, keyId), 8);
    // and it is kept again from then on
    assert.equal(replayed(await kg.verifyKey({ key }, idem(k, at(T + DAY + 1)))), true);

    const rows = () => kg.count("SELECT COUNT(*) AS n FROM idempotency WHERE workspace_id = ?", ctx.workspaceId);
    // more records, then the hourly cron a day after the last one
    for (let i = 0; i < 5; i++) await kg.verifyKey({ key }, idem(randomUUID(), at(T + DAY)));
    assert.equal(await rows(), 6);
    const worker = await kg.mf.getWorker("keygate");
    await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(T + DAY + 1) });
    assert.equal(await rows(), 6, "nothing is deleted before it expires");
    await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(T + 2 * DAY + 2) });
    assert.equal(await rows(), 0, "expired records are deleted");
  });
});

describe("keys.updateRemaining (v1)", () => {
  test("a replay answers the first balance and changes it once", async () => {
    const { keyId } = await creditsKey(s, 10);
    const k = randomUUID();
    const body = { keyId, op: "increment", value: 5 };
    const first = await kg.post("keys.updateRemaining", body, s.rootKey, idem(k));
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body, { remaining: 15 });
    const again = await kg.post("keys.updateRemaining", body, s.rootKey, idem(k));
    assert.deepEqual(again.body, { remaining: 15 });
    assert.equal(replayed(again), true);
    assert.equal(await remainingOf(s, keyId), 15, "incremented once");
    const logs = await kg.get("audit.listLogs", { event: "key.update", resourceId: keyId }, s.rootKey);
    assert.deepEqual(logs.body.logs.map((l) => l.description ?? l.display), ["Changed remaining to 15"], "one audit row");
  });

  test("20 identical increments in flight at once add once", async () => {
    const { keyId } = await creditsKey(s, 10);
    const k = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => kg.post("keys.updateRemaining", { keyId, op: "increment", value: 7 }, s.rootKey, idem(k))),
    );
    for (const r of answers) assert.deepEqual(r.body, { remaining: 17 }, r.text);
    assert.equal(answers.filter(replayed).length, 19);
    assert.equal(await remainingOf(s, keyId), 17);
  });

  test("reuse with another value is refused", async () => {
    const { keyId } = await creditsKey(s, 10);
    const k = randomUUID();
    await kg.post("keys.updateRemaining", { keyId, op: "increment", value: 5 }, s.rootKey, idem(k));
    const r = await kg.post("keys.updateRemaining", { keyId, op: "increment", value: 6 }, s.rootKey, idem(k));
    expectError(assert, r, 409, "CONFLICT", /Idempotency-Key/);
    assert.equal(await remainingOf(s, keyId), 15);
  });
});

describe("ratelimits.limit (v1)", () => {
  const limit = (body, headers) => kg.post("ratelimits.limit", body, s.rootKey, headers);

  test("the counter counts once per key; 20 identical requests in flight count once", async () => {
    const namespace = uniq("idem-ns");
    const body = { namespace, identifier: "user", limit: 100, duration: 60_000 };
    const t = at(midWindow(60_000)); // every request in one window
    const k = randomUUID();
    const first = await limit(body, idem(k, t));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.remaining, 99);
    const again = await limit(body, idem(k, t));
    assert.deepEqual(again.body, first.body);
    assert.equal(replayed(again), true);
    const burst = await Promise.all(Array.from({ length: 20 }, () => limit(body, idem(k, t))));
    assert.ok(burst.every((r) => r.body.remaining === 99 && replayed(r)));
    const k2 = randomUUID();
    const burst2 = await Promise.all(Array.from({ length: 20 }, () => limit(body, idem(k2, t))));
    assert.ok(burst2.every((r) => r.body.remaining === 98), JSON.stringify(burst2.map((r) => r.body)));
    assert.equal(burst2.filter(replayed).length, 19);
    assert.equal((await limit(body, t)).body.remaining, 97, "counted once per key");
  });

  test("reuse for another limit or cost of the same identifier is refused and counts nothing", async () => {
    const namespace = uniq("idem-ns");
    const body = { namespace, identifier: "user", limit: 10, duration: 60_000 };
    const t = at(midWindow(60_000)); // every request in one window
    const k = randomUUID();
    assert.equal((await limit(body, idem(k, t))).body.remaining, 9);
    expectError(assert, await limit({ ...body, cost: 2 }, idem(k, t)), 409, "CONFLICT", /Idempotency-Key/);
    expectError(assert, await limit({ ...body, limit: 5 }, idem(k, t)), 409, "CONFLICT", /Idempotency-Key/);
    assert.equal((await limit(body, t)).body.remaining, 8);
  });

  test("records expire after 24 h, and an idle limiter gives their storage back", async () => {
    const namespace = uniq("idem-ns");
    const body = { namespace, identifier: "user", limit: 1000, duration: 1000 };
    const T = Date.now();
    const k = randomUUID();
    assert.equal((await limit(body, idem(k, at(T)))).body.remaining, 999);
    assert.equal(replayed(await limit(body, idem(k, at(T + 1)))), true);
    for (let i = 0; i < 30; i++) await limit(body, idem(`${randomUUID()}-${"p".repeat(200)}`, at(T + 2)));

    const nsId = (await kg.row("SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?", s.workspaceId, namespace)).id;
    const objects = await kg.mf.getDurableObjectNamespace("RATE_LIMITER");
    let now = T + 3;
    const probe = async (name) => {
      const r = await objects.get(objects.idFromName(name)).fetch("https://limiter/", { method: "POST", body: JSON.stringify({ limits: [], now, report_size: true }) });
      assert.equal(r.status, 200);
      return (await r.json()).stored_bytes;
    };
    const fresh = await probe(`fresh-${randomUUID()}`);
    const full = await probe(`rl:${nsId}:user`);
    assert.ok(full > fresh, `records take storage: ${fresh} -> ${full} bytes`);
    // a day later (the object's clock follows its requests'): no request but this probe
    now = T + DAY + 1;
    let idle = full;
    for (let waited = 0; waited < 20_000 && idle > fresh; waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
      idle = await probe(`rl:${nsId}:user`);
    }
    assert.equal(idle, fresh, `idle storage ${idle} bytes (full ${full}, fresh ${fresh})`);
    // after 24 h the same key counts again
    const later = await limit(body, idem(k, at(T + DAY)));
    assert.equal(replayed(later), false);
    assert.equal(later.body.remaining, 999, "a new window, counted");
  });
});

describe("v2", () => {
  test("keys.verifyKey through the SDK with the header: 20 in flight charge once; raw replays say so", async () => {
    const ctx = await workspaceV2(kg);
    const api = sdk(kg, ctx.admin);
    const { data: created } = await api.keys.createKey({ apiId: ctx.apiId, credits: { remaining: 50 } });
    const k = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => api.keys.verifyKey({ key: created.key, credits: { cost: 2 } }, { headers: { "Idempotency-Key": k } })),
    );
    for (const a of answers) {
      assert.equal(a.data.code, "VALID");
      assert.equal(a.data.credits, 48);
    }
    const { data: read } = await api.keys.getKey({ keyId: created.keyId });
    assert.equal(read.credits.remaining, 48, "charged once");
    const raw = await v2(kg, "keys.verifyKey", { key: created.key, credits: { cost: 2 } }, ctx.admin, idem(k));
    assert.equal(raw.status, 200, raw.text);
    assert.equal(raw.body.data.credits, 48);
    assert.equal(replayed(raw), true);
    const reuse = await v2(kg, "keys.verifyKey", { key: created.key, credits: { cost: 3 } }, ctx.admin, idem(k));
    expectV2Error(assert, reuse, 409, undefined, /Idempotency-Key/);
    const bad = await v2(kg, "keys.verifyKey", { key: created.key }, ctx.admin, idem("x".repeat(256)));
    expectV2Error(assert, bad, 400, undefined, /Idempotency-Key/);
    assert.equal((await api.keys.getKey({ keyId: created.keyId })).data.credits.remaining, 48);
  });

  test("keys.updateCredits and ratelimit.limit answer a replay without changing or counting again", async () => {
    const ctx = await workspaceV2(kg);
    const api = sdk(kg, ctx.admin);
    const { data: created } = await api.keys.createKey({ apiId: ctx.apiId, credits: { remaining: 10 } });
    const k = randomUUID();
    const body = { keyId: created.keyId, operation: "increment", value: 5 };
    const first = await v2(kg, "keys.updateCredits", body, ctx.admin, idem(k));
    assert.equal(first.status, 200, first.text);
    const again = await v2(kg, "keys.updateCredits", body, ctx.admin, idem(k));
    assert.deepEqual(again.body.data, first.body.data);
    assert.equal(replayed(again), true);
    assert.equal((await api.keys.getKey({ keyId: created.keyId })).data.credits.remaining, 15);

    const limitBody = { namespace: uniq("v2-idem"), identifier: "u", limit: 10, duration: 60_000 };
    const t = at(midWindow(60_000)); // every request in one window
    const k2 = randomUUID();
    const burst = await Promise.all(Array.from({ length: 20 }, () => api.ratelimit.limit(limitBody, { headers: idem(k2, t) })));
    assert.ok(burst.every((r) => r.data.success && r.data.remaining === 9), JSON.stringify(burst.map((r) => r.data)));
    const plain = await v2(kg, "ratelimit.limit", limitBody, ctx.admin, t);
    assert.equal(plain.body.data.remaining, 8, "counted once");
    const reuse = await v2(kg, "ratelimit.limit", { ...limitBody, cost: 2 }, ctx.admin, idem(k2, t));
    expectV2Error(assert, reuse, 409, undefined, /Idempotency-Key/);
  });
});

test("both OpenAPI documents declare the header, its replay answer header and nothing else", async () => {
  const documented = (doc) =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.values(ops)
        .filter((op) => (op.parameters ?? []).some((p) => p.in === "header" && p.name === "Idempotency-Key"))
        .map((op) => {
          assert.ok(op.responses["200"].headers["Idempotent-Replayed"], path);
          assert.ok(op.responses["409"], path);
          return path;
        }),
    );
  assert.deepEqual(documented((await kg.call("/openapi.json")).body).sort(), [
    "/v1/keys.updateRemaining",
    "/v1/keys.verifyKey",
    "/v1/ratelimits.limit",
  ]);
  assert.deepEqual(documented((await kg.call("/v2/openapi.json")).body).sort(), [
    "/v2/keys.updateCredits",
    "/v2/keys.verifyKey",
    "/v2/ratelimit.limit",
    "/v2/ratelimit.multiLimit",
  ]);
});
