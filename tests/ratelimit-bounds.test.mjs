// Hardening item 3: a key holder cannot grow a rate limiter without bound. Verification limits,
// configured limits and ratelimits.limit have bounded lists, names, limits and windows, and an
// idle rate-limiter object drops its ended windows and gives its storage back.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, at, midWindow } from "./helpers.mjs";

const DAY = 24 * 60 * 60 * 1000;

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const verify = (body, headers) => kg.post("keys.verifyKey", body, undefined, headers);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function createKey(body = {}) {
  const r = await kg.post("keys.createKey", { apiId: s.apiId, ...body }, s.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

describe("bounds", () => {
  test("verifyKey: at most 50 limits, names of at most 255 characters, limit ≤ 10^9, windows ≤ 30 days", async () => {
    const { key } = await createKey();
    const adhoc = (i, extra = {}) => ({ name: `limit-${i}`, limit: 10, duration: 60_000, ...extra });
    const refused = [
      [Array.from({ length: 51 }, (_, i) => adhoc(i)), "ratelimits: Array must contain at most 50 element(s)"],
      [[adhoc(0, { name: "n".repeat(256) })], "ratelimits.0.name: String must contain at most 255 character(s)"],
      [[adhoc(0, { limit: 1_000_000_001 })], "ratelimits.0.limit: Number must be less than or equal to 1000000000"],
      [[adhoc(0, { duration: 30 * DAY + 1 })], "ratelimits.0.duration: Number must be less than or equal to 2592000000"],
    ];
    for (const [ratelimits, message] of refused) {
      expectError(assert, await verify({ key, ratelimits }), 400, "BAD_REQUEST", message);
    }
    const ok = await verify({ key, ratelimits: Array.from({ length: 50 }, (_, i) => adhoc(i, { name: `${i}`.padEnd(255, "n"), limit: 1_000_000_000, duration: 30 * DAY })) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.code, "VALID");
  });

  test("configured limits: createKey, updateKey, identities", async () => {
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, ratelimit: { limit: 1_000_000_001, duration: 1000 } }, s.rootKey), 400, "BAD_REQUEST", "ratelimit.limit: Number must be less than or equal to 1000000000");
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, ratelimit: { limit: 5, duration: 30 * DAY + 1 } }, s.rootKey), 400, "BAD_REQUEST", "ratelimit.duration: Number must be less than or equal to 2592000000");
    const { keyId } = await createKey();
    expectError(assert, await kg.post("keys.updateKey", { keyId, ratelimit: { limit: 5, duration: 30 * DAY + 1 } }, s.rootKey), 400, "BAD_REQUEST", "ratelimit.duration: Number must be less than or equal to 2592000000");
    const many = Array.from({ length: 51 }, (_, i) => ({ name: `l${i}`, limit: 1, duration: 1000 }));
    expectError(assert, await kg.post("identities.createIdentity", { externalId: "bounded-identity", ratelimits: many }, s.rootKey), 400, "BAD_REQUEST", "ratelimits: Array must contain at most 50 element(s)");
    expectError(assert, await kg.post("identities.createIdentity", { externalId: "bounded-identity", ratelimits: [{ name: "x".repeat(256), limit: 1, duration: 1000 }] }, s.rootKey), 400, "BAD_REQUEST", "ratelimits.0.name: String must contain at most 255 character(s)");
    assert.equal((await kg.row("SELECT COUNT(*) AS n FROM identities WHERE external_id = 'bounded-identity'")).n, 0);
  });

  test("ratelimits.limit and overrides", async () => {
    const limit = (body) => kg.post("ratelimits.limit", { namespace: "bounded", identifier: "user", limit: 5, duration: 60_000, ...body }, s.rootKey);
    expectError(assert, await limit({ duration: 30 * DAY + 1 }), 400, "BAD_REQUEST", "duration: Number must be less than or equal to 2592000000");
    expectError(assert, await limit({ limit: 1_000_000_001 }), 400, "BAD_REQUEST", "limit: Number must be less than or equal to 1000000000");
    expectError(assert, await limit({ identifier: "u".repeat(256) }), 400, "BAD_REQUEST", "identifier: String must contain at most 255 character(s)");
    expectError(assert, await limit({ namespace: "n".repeat(256) }), 400, "BAD_REQUEST", "namespace: String must contain at most 255 character(s)");
    assert.equal((await limit({})).body.success, true);
    const override = { namespaceName: "bounded", identifier: "user", limit: 5, duration: 30 * DAY + 1 };
    expectError(assert, await kg.post("ratelimits.setOverride", override, s.rootKey), 400, "BAD_REQUEST", "duration: Number must be less than or equal to 2592000000");
  });

  test("/openapi.json states the maxima", async () => {
    const doc = (await kg.call("/openapi.json")).body;
    const body = (path) => doc.paths[path].post.requestBody.content["application/json"].schema;
    const verifyLimits = body("/v1/keys.verifyKey").properties.ratelimits;
    assert.equal(verifyLimits.maxItems, 50);
    assert.equal(verifyLimits.items.properties.name.maxLength, 255);
    assert.equal(verifyLimits.items.properties.limit.maximum, 1_000_000_000);
    assert.equal(verifyLimits.items.properties.duration.maximum, 30 * DAY);
    assert.equal(body("/v1/ratelimits.limit").properties.duration.maximum, 30 * DAY);
  });
});

describe("the rate limiter object", () => {
  test("the rate limiter refuses negative and non-integer costs at its boundary", async () => {
    const rate = await kg.mf.getDurableObjectNamespace("RATE_LIMITER");
    const limit = (cost) =>
      rate.get(rate.idFromName("boundary-test")).fetch("https://limiter/", {
        method: "POST",
        body: JSON.stringify({ limits: [{ name: "a", limit: 1, duration: 60000, cost }], now: Date.now() }),
      });
    for (const cost of [-1, 0.5]) {
      const r = await limit(cost);
      assert.equal(r.status, 400, `cost ${cost}`);
      await r.text();
    }
    const counted = await limit(1);
    const reply = await counted.json();
    assert.equal(reply.passed, true);
    assert.equal(reply.results[0].remaining, 0, "the refused requests gave no tokens back");
  });

  test("the short check text: checked as strictly as JSON, answered in its own form, counted alike", async () => {
    const rate = await kg.mf.getDurableObjectNamespace("RATE_LIMITER");
    const object = rate.get(rate.idFromName(`short-${Date.now()}`));
    const send = async (path, body) => {
      const r = await object.fetch(`https://limiter${path}`, { method: "POST", body });
      return { status: r.status, text: await r.text() };
    };
    const start = Math.ceil(Date.now() / 60_000) * 60_000;
    const now = start + 10;
    const reset = start + 60_000;
    for (const bad of [`r${now}\tf\t2\t60000\t-1\ta`, `r${now}\tf\t2\t0\t1\ta`, `r${now}\tx\t2\t60000\t1\ta`, `r${now}\tf\t2\t60000\t1`, "r"]) {
      assert.equal((await send("/", bad)).status, 400, JSON.stringify(bad));
    }
    // two limits, one named with spaces; nothing was counted by the refused messages
    const check = `r${now}\tf\t2\t60000\t1\ta b\t5\t60000\t2\tc`;
    assert.deepEqual(await send("/", check), { status: 200, text: `+\t1\t2\t1\t${reset}\t1\ta b\t1\t5\t3\t${reset}\t2\tc` });
    // a batch answers each line in the form of its check; JSON and short text count the same windows
    const json = JSON.stringify({ limits: [{ name: "a b", limit: 2, duration: 60000, cost: 1 }, { name: "c", limit: 5, duration: 60000, cost: 2 }], now });
    const batch = await send("/batch", [json, `r${now}\tf\t2\t60000\t-1\ta b`, check].join("\n"));
    assert.equal(batch.status, 200);
    const lines = batch.text.split("\n");
    assert.equal(lines.length, 3);
    assert.deepEqual(
      JSON.parse(lines[0]).results.map((r) => [r.name, r.passed, r.remaining]),
      [["a b", true, 0], ["c", true, 1]],
    );
    assert.match(JSON.parse(lines[1]), /bad rate-limiter request/);
    // both limits are over now (3 > 2, 6 > 5): nothing counted
    assert.equal(lines[2], `-\t0\t2\t0\t${reset}\t2\ta b\t0\t5\t1\t${reset}\t4\tc`);
  });

  test("a refund is taken back from the count the object holds", async () => {
    const rate = await kg.mf.getDurableObjectNamespace("RATE_LIMITER");
    const object = rate.get(rate.idFromName(`refund-${Date.now()}`));
    const now = Date.now();
    const send = async (extra = {}) => {
      const limits = [{ name: "r", limit: 2, duration: 60_000, cost: 1 }];
      const r = await object.fetch("https://limiter/", { method: "POST", body: JSON.stringify({ limits, now, ...extra }) });
      assert.equal(r.status, 200);
      return r.json();
    };
    assert.equal((await send()).results[0].remaining, 1);
    assert.equal((await send({ refund: true })).passed, true);
    // the refunded token counts again: two more pass, the third does not
    assert.equal((await send()).results[0].remaining, 1, "the refund was taken back");
    assert.equal((await send()).results[0].remaining, 0);
    assert.equal((await send()).passed, false);
  });

  test("under steady traffic the ended windows go: storage stays at a few windows' worth", async () => {
    const rate = await kg.mf.getDurableObjectNamespace("RATE_LIMITER");
    const object = rate.get(rate.idFromName(`steady-${Date.now()}`));
    const start = Math.ceil(Date.now() / 1000) * 1000;
    const send = async (now, extra = {}) => {
      const limits = Array.from({ length: 20 }, (_, i) => ({ name: `limit-${i}-${"w".repeat(200)}`, limit: 5, duration: 1000, cost: 1 }));
      const r = await object.fetch("https://limiter/", { method: "POST", body: JSON.stringify({ limits, now, ...extra }) });
      assert.equal(r.status, 200);
      return r.json();
    };
    // each request in a new window of its 20 limits (the clock moves on 1 s per request)
    let early;
    for (let w = 0; w < 40; w++) {
      const reply = await send(start + w * 1000, { report_size: w === 3 || w === 39 });
      assert.equal(reply.passed, true, `window ${w}`);
      assert.equal(reply.results[0].remaining, 4, `window ${w} counts from zero`);
      if (w === 3) early = reply.stored_bytes;
      if (w === 39) {
        assert.ok(early > 0 && reply.stored_bytes > 0, "the size is reported when asked");
        assert.ok(reply.stored_bytes < early * 2, `40 windows take ${reply.stored_bytes} bytes, 4 took ${early}`);
      }
    }
    // without report_size the reply does not measure the storage
    assert.equal((await send(start + 40 * 1000)).stored_bytes, 0);
  });
});

describe("an idle rate limiter gives its storage back", () => {
  test("ended windows are dropped without further requests, and the storage shrinks to a fresh object's", async () => {
    const { key, keyId } = await createKey();
    const ns = await kg.mf.getDurableObjectNamespace("RATE_LIMITER");
    // the object's own view of its storage: a request that checks no limit
    const probe = async (name) => {
      const r = await ns.get(ns.idFromName(name)).fetch("https://limiter/", { method: "POST", body: JSON.stringify({ limits: [], now: Date.now(), report_size: true }) });
      assert.equal(r.status, 200);
      return (await r.json()).stored_bytes;
    };
    const fresh = await probe(`fresh-${keyId}`);

    // 20 verifications with 50 distinct ad-hoc limits each, in windows of 4 s: 1000 counters
    for (let round = 0; round < 20; round++) {
      const ratelimits = Array.from({ length: 50 }, (_, i) => ({ name: `round-${round}-limit-${i}-${"p".repeat(100)}`, limit: 10, duration: 4000 }));
      const r = await verify({ key, ratelimits });
      assert.equal(r.body.code, "VALID", r.text);
    }
    const full = await probe(keyId);
    assert.ok(full > fresh * 4, `storage grew: ${fresh} -> ${full} bytes`);

    // no request for a while: the windows end and the object's alarm clears them
    let idle = full;
    for (let waited = 0; waited < 15_000 && idle > fresh; waited += 500) {
      await sleep(500);
      idle = await probe(keyId);
    }
    assert.equal(idle, fresh, `idle storage ${idle} bytes (full ${full}, fresh ${fresh})`);

    // and the limiter still counts (both requests in one window)
    const t = at(midWindow(60_000));
    const again = await verify({ key, ratelimits: [{ name: "after-idle", limit: 1, duration: 60_000 }] }, t);
    assert.equal(again.body.code, "VALID");
    assert.equal((await verify({ key, ratelimits: [{ name: "after-idle", limit: 1, duration: 60_000 }] }, t)).body.code, "RATE_LIMITED");
  });
});
