// Verification analytics (issue 8): keys.getVerifications and analytics.getVerifications over a
// known sequence of verifications placed in time with the test clock, through HTTP and the
// @unkey/api SDK; validation and permissions.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError } from "./helpers.mjs";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const D0 = Date.UTC(2026, 5, 1); // June 1st 2026, 00:00 UTC
const H0 = D0 + 10 * HOUR; // 10:00
const H1 = H0 + HOUR; // 11:00
const D1 = D0 + DAY; // June 2nd
const START = D0;
const END = D1 + DAY;

let kg, s, other, keys;
const at = (t) => ({ "X-Test-Now": String(t) });
const verify = (body, t) => kg.post("keys.verifyKey", body, undefined, t === undefined ? undefined : at(t));

async function createKey(body = {}, api = s) {
  const r = await kg.post("keys.createKey", { apiId: api.apiId, ...body }, api.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

async function expectCode(body, t, code) {
  const r = await verify(body, t);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.code, code, r.text);
  return r.body;
}

/** analytics.getVerifications with repeated parameters where values are arrays. */
function analytics(query, rootKey = s.rootKey) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const x of [v].flat()) if (x !== undefined) qs.append(k, String(x));
  return kg.call(`/v1/analytics.getVerifications?${qs}`, { method: "GET", rootKey });
}

async function points(query, rootKey) {
  const r = await analytics({ apiId: s.apiId, start: START, end: END, ...query }, rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

const ZERO = { valid: 0, notFound: 0, forbidden: 0, usageExceeded: 0, rateLimited: 0, unauthorized: 0, disabled: 0, insufficientPermissions: 0, expired: 0 };
const sums = (o) => {
  const out = { ...ZERO, ...o };
  out.total = Object.keys(ZERO).reduce((n, k) => n + out[k], 0);
  out.spentCredits = o.spentCredits ?? 0;
  return out;
};
const only = (p, fields) => Object.fromEntries(Object.entries(p).filter(([k]) => fields.includes(k)));
const SUM_FIELDS = [...Object.keys(ZERO), "total", "spentCredits"];

before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
  // a second api of the same workspace: its verifications never count for the first
  const api2 = await kg.post("apis.createApi", { name: "other-api" }, s.rootKey);
  other = { ...s, apiId: api2.body.apiId };

  const kA = await createKey({ remaining: 10, externalId: "cust_1", name: "A" });
  const kB = await createKey({ externalId: "cust_1", ratelimit: { limit: 1, duration: 60_000 } });
  const kC = await createKey({ enabled: false });
  const kD = await createKey({ expires: H0 + 30 * 60_000 });
  const kE = await createKey({ ownerId: "owner_e" });
  const kO = await createKey({}, other);
  keys = { kA, kB, kC, kD, kE, kO };

  // the known sequence
  await expectCode({ key: kA.key, remaining: { cost: 2 }, tags: ["b", "a"] }, H0 + 60_000, "VALID");
  await expectCode({ key: kA.key, tags: ["a"] }, H0 + 2 * 60_000, "VALID");
  await expectCode({ key: kA.key, tags: ["a", "a"], authorization: { permissions: "nope" } }, H0 + 3 * 60_000, "INSUFFICIENT_PERMISSIONS");
  await expectCode({ key: kA.key, remaining: { cost: 20 } }, H1 + 60_000, "USAGE_EXCEEDED");
  await expectCode({ key: kB.key, tags: ["c"] }, H0 + 5 * 60_000, "VALID");
  await expectCode({ key: kB.key, tags: ["c"] }, H0 + 5 * 60_000 + 10, "RATE_LIMITED");
  await expectCode({ key: kC.key }, H0 + 6 * 60_000, "DISABLED");
  await expectCode({ key: kD.key }, H0 + 7 * 60_000, "VALID");
  await expectCode({ key: kD.key }, H1 + 2 * 60_000, "EXPIRED");
  await expectCode({ key: kE.key, apiId: other.apiId }, D1 + 9 * HOUR, "FORBIDDEN");
  await expectCode({ key: kO.key }, H0, "VALID");
  // unknown keys are not recorded
  await expectCode({ key: "unknown_key" }, H0, "NOT_FOUND");
});
after(async () => {
  await kg?.stop();
});

describe("analytics.getVerifications", () => {
  test("every outcome of the api, summed, with spent credits (a cost-2 verification counts 2)", async () => {
    const out = await points({});
    assert.equal(out.length, 1);
    assert.equal(out[0].time, undefined);
    assert.deepEqual(only(out[0], SUM_FIELDS), sums({ valid: 4, rateLimited: 1, usageExceeded: 1, disabled: 1, expired: 1, forbidden: 1, insufficientPermissions: 1, spentCredits: 3 }));
    // the other api has its own
    const o = await analytics({ apiId: other.apiId, start: START, end: END });
    assert.deepEqual(only(o.body[0], SUM_FIELDS), sums({ valid: 1 }));
  });

  test("per key, through the SDK", async () => {
    const { result, error } = await kg.sdk(s.rootKey).analytics.getVerifications({ apiId: s.apiId, start: START, end: END, groupBy: "key" });
    assert.equal(error, undefined, JSON.stringify(error));
    const byKey = Object.fromEntries(result.map((p) => [p.keyId, only(p, SUM_FIELDS)]));
    assert.deepEqual(byKey, {
      [keys.kA.keyId]: sums({ valid: 2, insufficientPermissions: 1, usageExceeded: 1, spentCredits: 3 }),
      [keys.kB.keyId]: sums({ valid: 1, rateLimited: 1 }),
      [keys.kC.keyId]: sums({ disabled: 1 }),
      [keys.kD.keyId]: sums({ valid: 1, expired: 1 }),
      [keys.kE.keyId]: sums({ forbidden: 1 }),
    });
  });

  test("per identity", async () => {
    const out = await points({ groupBy: "identity" });
    assert.equal(out.length, 3);
    const byIdentity = Object.fromEntries(out.map((p) => [p.identity?.externalId ?? "-", only(p, SUM_FIELDS)]));
    assert.deepEqual(byIdentity, {
      cust_1: sums({ valid: 3, rateLimited: 1, usageExceeded: 1, insufficientPermissions: 1, spentCredits: 3 }),
      // createKey's ownerId links the key to an identity too
      owner_e: sums({ forbidden: 1 }),
      "-": sums({ valid: 1, disabled: 1, expired: 1 }),
    });
    for (const p of out.filter((p) => p.identity)) assert.match(p.identity.id, /^id_/);
    // filtered by the identity's external id
    const filtered = await points({ externalId: "cust_1" });
    assert.equal(filtered[0].total, 6);
    assert.deepEqual(await points({ externalId: "nobody" }), []);
  });

  test("per tag and per tag set", async () => {
    const byTag = Object.fromEntries((await points({ groupBy: "tag" })).map((p) => [p.tag, only(p, SUM_FIELDS)]));
    assert.deepEqual(byTag, {
      a: sums({ valid: 2, insufficientPermissions: 1, spentCredits: 3 }),
      b: sums({ valid: 1, spentCredits: 2 }),
      c: sums({ valid: 1, rateLimited: 1 }),
    });
    const bySet = Object.fromEntries((await points({ groupBy: "tags" })).map((p) => [JSON.stringify(p.tags), p.total]));
    assert.deepEqual(bySet, { "[]": 5, '["a"]': 2, '["a","b"]': 1, '["c"]': 2 });
    // filtered: any of the tags
    assert.equal((await points({ tag: "a" }))[0].total, 3);
    assert.equal((await points({ tag: ["a", "c"] }))[0].total, 5);
    // grouping by tag with a tag filter shows the filtered tags only
    const filtered = await points({ tag: "b", groupBy: "tag" });
    assert.deepEqual(filtered.map((p) => [p.tag, p.total]), [["b", 1]]);
  });

  test("per hour, day and month (the coarsest slice wins), oldest first", async () => {
    const hours = await points({ groupBy: "hour" });
    assert.deepEqual(hours.map((p) => [p.time, p.total]), [[H0, 7], [H1, 2], [D1 + 9 * HOUR, 1]]);
    const days = await points({ groupBy: ["day", "hour"] });
    assert.deepEqual(days.map((p) => [p.time, p.total]), [[D0, 9], [D1, 1]]);
    const months = await points({ groupBy: "month" });
    assert.deepEqual(months.map((p) => [p.time, p.total, p.spentCredits]), [[Date.UTC(2026, 5, 1), 10, 3]]);
    // hour x key, comma-separated as the SDK sends arrays
    const grid = await points({ groupBy: "hour,key", keyId: keys.kA.keyId });
    assert.deepEqual(grid.map((p) => [p.time, p.keyId, p.total]), [[H0, keys.kA.keyId, 3], [H1, keys.kA.keyId, 1]]);
  });

  test("the time range selects whole hours: [hour of start, end)", async () => {
    assert.equal((await points({ start: H1 }))[0].total, 3);
    assert.equal((await points({ start: H1 + 30 * 60_000 }))[0].total, 3);
    assert.equal((await points({ end: H1 }))[0].total, 7);
    assert.equal((await points({ start: H1, end: H1 + HOUR }))[0].total, 2);
  });

  test("key filters: one, several (repeated or comma-separated)", async () => {
    assert.equal((await points({ keyId: keys.kB.keyId }))[0].total, 2);
    assert.equal((await points({ keyId: [keys.kA.keyId, keys.kB.keyId] }))[0].total, 6);
    assert.equal((await points({ keyId: `${keys.kA.keyId},${keys.kC.keyId}` }))[0].total, 5);
    const { result } = await kg.sdk(s.rootKey).analytics.getVerifications({ apiId: s.apiId, start: START, end: END, keyId: [keys.kA.keyId, keys.kD.keyId] });
    assert.equal(result[0].total, 6);
    // a key of another api does not count here
    assert.equal((await points({ keyId: keys.kO.keyId }))[0].total, 0);
  });

  test("orderBy, order and limit", async () => {
    const top = await points({ groupBy: "key", orderBy: "total", order: "desc", limit: 2 });
    assert.equal(top.length, 2);
    assert.equal(top[0].keyId, keys.kA.keyId);
    assert.equal(top[1].total, 2);
    const bySpent = await points({ groupBy: "key", orderBy: "spentCredits", order: "desc", limit: 1 });
    assert.deepEqual(bySpent.map((p) => [p.keyId, p.spentCredits]), [[keys.kA.keyId, 3]]);
    const asc = await points({ groupBy: "hour", orderBy: "total", order: "asc" });
    assert.deepEqual(asc.map((p) => p.total), [1, 2, 7]);
  });

  test("validation: 400 naming the problem", async () => {
    const base = { apiId: s.apiId, start: START };
    expectError(assert, await analytics({ apiId: s.apiId }), 400, "BAD_REQUEST", "start: Required");
    expectError(assert, await analytics({ start: START }), 400, "BAD_REQUEST", "apiId: Required");
    expectError(assert, await analytics({ ...base, end: START }), 400, "BAD_REQUEST", "start must be before end");
    expectError(assert, await analytics({ apiId: s.apiId, start: Date.now() + DAY }), 400, "BAD_REQUEST", /^start must be before end/);
    expectError(assert, await analytics({ ...base, groupBy: ["tag", "tags"] }), 400, "BAD_REQUEST", "groupBy: tag and tags can not be combined");
    expectError(assert, await analytics({ ...base, groupBy: "week" }), 400, "BAD_REQUEST", /^groupBy\.0: Invalid enum value/);
    expectError(assert, await analytics({ ...base, start: "yesterday" }), 400, "BAD_REQUEST", "start: Expected number, received string");
    expectError(assert, await analytics({ ...base, limit: 0 }), 400, "BAD_REQUEST", "limit: Number must be greater than or equal to 1");
    expectError(assert, await analytics({ ...base, orderBy: "nothing" }), 400, "BAD_REQUEST", /^orderBy: Invalid enum value/);
    expectError(assert, await analytics({ ...base, order: "up" }), 400, "BAD_REQUEST", /^order: Invalid enum value/);
    // validation comes before authentication
    expectError(assert, await analytics({ apiId: s.apiId }, "INVALID"), 400, "BAD_REQUEST", "start: Required");
    // unknown api, api of another workspace
    expectError(assert, await analytics({ apiId: "api_unknown", start: START }), 404, "NOT_FOUND", "api api_unknown not found");
    const ws2 = await kg.setup();
    expectError(assert, await analytics({ apiId: ws2.apiId, start: START }), 404, "NOT_FOUND");
  });

  test("permissions: api.*.read_api, api.<apiId>.read_api or *", async () => {
    for (const perms of [["*"], ["api.*.read_api"], [`api.${s.apiId}.read_api`]]) {
      const root = await kg.rootKey(s.workspaceId, perms);
      assert.equal((await analytics({ apiId: s.apiId, start: START }, root)).status, 200, perms.join());
    }
    for (const perms of [["api.*.read_key"], [`api.${other.apiId}.read_api`], []]) {
      const root = await kg.rootKey(s.workspaceId, perms);
      expectError(assert, await analytics({ apiId: s.apiId, start: START }, root), 403, "INSUFFICIENT_PERMISSIONS");
    }
    expectError(assert, await analytics({ apiId: s.apiId, start: START }, null), 403, "UNAUTHORIZED", "key required");
  });
});

describe("keys.getVerifications", () => {
  test("daily buckets of a key through the SDK", async () => {
    const { result, error } = await kg.sdk(s.rootKey).keys.getVerifications({ keyId: keys.kA.keyId, start: START, end: END });
    assert.equal(error, undefined, JSON.stringify(error));
    assert.deepEqual(result, { verifications: [{ time: D0, success: 2, rateLimited: 0, usageExceeded: 1 }] });
    const kB = await kg.get("keys.getVerifications", { keyId: keys.kB.keyId, start: START, end: END, granularity: "day" }, s.rootKey);
    assert.deepEqual(kB.body.verifications, [{ time: D0, success: 1, rateLimited: 1, usageExceeded: 0 }]);
    const kE = await kg.get("keys.getVerifications", { keyId: keys.kE.keyId, start: START, end: END }, s.rootKey);
    assert.deepEqual(kE.body.verifications, [{ time: D1, success: 0, rateLimited: 0, usageExceeded: 0 }]);
  });

  test("ownerId sums across the owner's keys (owner id or identity external id)", async () => {
    const { result } = await kg.sdk(s.rootKey).keys.getVerifications({ ownerId: "cust_1", start: START, end: END });
    assert.deepEqual(result.verifications, [{ time: D0, success: 3, rateLimited: 1, usageExceeded: 1 }]);
    const e = await kg.get("keys.getVerifications", { ownerId: "owner_e", start: START, end: END }, s.rootKey);
    assert.deepEqual(e.body.verifications.map((v) => v.time), [D1]);
  });

  test("default range: the last 24 hours", async () => {
    const k = await createKey();
    await expectCode({ key: k.key, tags: ["now"] }, undefined, "VALID");
    await expectCode({ key: k.key }, undefined, "VALID");
    const r = await kg.get("keys.getVerifications", { keyId: k.keyId }, s.rootKey);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.verifications.reduce((n, v) => n + v.success, 0), 2);
    // the June verifications are outside the default range
    assert.deepEqual((await kg.get("keys.getVerifications", { keyId: keys.kA.keyId }, s.rootKey)).body, { verifications: [] });
  });

  test("errors: 400 without keyId and ownerId, 404 unknown (before authentication), 403 other workspace", async () => {
    expectError(assert, await kg.get("keys.getVerifications", {}, s.rootKey), 400, "BAD_REQUEST", "keyId or ownerId must be provided");
    expectError(assert, await kg.get("keys.getVerifications", { keyId: "key_unknown" }), 404, "NOT_FOUND", "key key_unknown not found");
    expectError(assert, await kg.get("keys.getVerifications", { keyId: keys.kA.keyId, start: "x" }, s.rootKey), 400, "BAD_REQUEST", "start: Expected number, received string");
    expectError(assert, await kg.get("keys.getVerifications", { keyId: keys.kA.keyId, granularity: "hour" }, s.rootKey), 400, "BAD_REQUEST", /^granularity: Invalid enum value/);
    expectError(assert, await kg.get("keys.getVerifications", { ownerId: "nobody" }, s.rootKey), 404, "NOT_FOUND", "No keys were found to match your query");
    const ws2 = await kg.setup();
    expectError(assert, await kg.get("keys.getVerifications", { keyId: keys.kA.keyId }, ws2.rootKey), 403, "UNAUTHORIZED", "you are not allowed to access this workspace");
    // an owner of another workspace is not found here
    expectError(assert, await kg.get("keys.getVerifications", { ownerId: "cust_1" }, ws2.rootKey), 404, "NOT_FOUND");
    // a deleted key is not found
    const k = await createKey();
    await kg.post("keys.deleteKey", { keyId: k.keyId }, s.rootKey);
    expectError(assert, await kg.get("keys.getVerifications", { keyId: k.keyId }, s.rootKey), 404, "NOT_FOUND");
  });

  test("permissions: api.*.read_key or api.<id>.read_key for every api of the keys", async () => {
    const byApi = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.read_key`]);
    assert.equal((await kg.get("keys.getVerifications", { keyId: keys.kA.keyId }, byApi)).status, 200);
    const readApi = await kg.rootKey(s.workspaceId, ["api.*.read_api"]);
    expectError(assert, await kg.get("keys.getVerifications", { keyId: keys.kA.keyId }, readApi), 403, "INSUFFICIENT_PERMISSIONS");
    // an owner with keys in two apis needs both (or api.*.read_key)
    await createKey({ externalId: "two_apis" });
    await createKey({ externalId: "two_apis" }, other);
    expectError(assert, await kg.get("keys.getVerifications", { ownerId: "two_apis" }, byApi), 403, "INSUFFICIENT_PERMISSIONS");
    const both = await kg.rootKey(s.workspaceId, [`api.${s.apiId}.read_key`, `api.${other.apiId}.read_key`]);
    assert.equal((await kg.get("keys.getVerifications", { ownerId: "two_apis" }, both)).status, 200);
    const all = await kg.rootKey(s.workspaceId, ["api.*.read_key"]);
    assert.equal((await kg.get("keys.getVerifications", { ownerId: "two_apis" }, all)).status, 200);
  });
});

describe("/openapi.json", () => {
  test("documents the analytics routes", async () => {
    const doc = (await kg.call("/openapi.json")).body;
    const a = doc.paths["/v1/analytics.getVerifications"].get;
    const names = a.parameters.map((p) => p.name);
    for (const n of ["apiId", "externalId", "keyId", "tag", "start", "end", "groupBy", "limit", "orderBy", "order"]) assert.ok(names.includes(n), n);
    assert.equal(a.parameters.find((p) => p.name === "start").required, true);
    const point = a.responses["200"].content["application/json"].schema.items;
    for (const f of ["time", "valid", "total", "spentCredits", "tag", "tags", "keyId", "identity"]) assert.ok(point.properties[f], f);
    const k = doc.paths["/v1/keys.getVerifications"].get;
    assert.deepEqual(k.parameters.map((p) => p.name), ["keyId", "ownerId", "start", "end", "granularity"]);
  });
});
