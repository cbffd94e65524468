// v2 keys.verifyKey through the stock @unkey/api 2.5.1 SDK: the root key's verify scope, every
// outcome code, the v2 permission query string, credits, rate limits (sliding window over the
// shared counters), identities, and the exactness of credits and limits under concurrency.
// Contract: shared/spec/v2-api.md §4.1 and shared/spec/decisions.md §5.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate } from "./helpers.mjs";
import { sdk, v2, expectV2Error, sdkError, errors, workspaceV2 } from "./v2-helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

/** Requests carry their time (X-Test-Now) so windows are not crossed by accident. */
const at = (ms) => ({ headers: { "X-Test-Now": String(ms) } });
// the start of a 60 s window, far from now
const T = Math.floor(Date.now() / 60_000) * 60_000 + 3_600_000;

async function key(ctx, body = {}) {
  return (await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, ...body })).data;
}

async function verify(ctx, body, options) {
  return (await sdk(kg, ctx.admin).keys.verifyKey(body, options)).data;
}

describe("who may verify", () => {
  test("a root key is required: missing 400, unknown 401", async () => {
    let r = await v2(kg, "keys.verifyKey", { key: "anything" });
    expectV2Error(assert, r, 400, "unkey/authentication/missing");
    await sdkError(assert, sdk(kg, "nope").keys.verifyKey({ key: "anything" }), errors.UnauthorizedErrorResponse, 401);
  });

  test("keys outside the root key's scope are 200 NOT_FOUND with a minimal body", async () => {
    const a = await workspaceV2(kg);
    const b = await workspaceV2(kg);
    const k = await key(a, { name: "scoped" });
    const minimal = { valid: false, code: "NOT_FOUND" };
    // another workspace's root key
    let r = await v2(kg, "keys.verifyKey", { key: k.key }, b.admin);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.data, minimal);
    // no verify right
    const reader = await kg.rootKey(a.workspaceId, ["api.*.read_key"]);
    r = await v2(kg, "keys.verifyKey", { key: k.key }, reader);
    assert.deepEqual(r.body.data, minimal);
    // the right for another api
    const other = (await sdk(kg, a.admin).apis.createApi({ name: "other" })).data.apiId;
    const otherVerifier = await kg.rootKey(a.workspaceId, [`api.${other}.verify_key`]);
    assert.deepEqual(await verify({ admin: otherVerifier }, { key: k.key }), minimal);
    // the right for its api, or for all
    const verifier = await kg.rootKey(a.workspaceId, [`api.${a.apiId}.verify_key`]);
    assert.equal((await verify({ admin: verifier }, { key: k.key })).code, "VALID");
    const any = await kg.rootKey(a.workspaceId, ["api.*.verify_key"]);
    assert.equal((await verify({ admin: any }, { key: k.key })).code, "VALID");
    // an unknown key
    assert.deepEqual(await verify(a, { key: "unknown_key" }), minimal);
    // a key of a deleted api
    await sdk(kg, a.admin).apis.deleteApi({ apiId: a.apiId });
    assert.deepEqual(await verify(a, { key: k.key }), minimal);
  });
});

describe("outcomes", () => {
  test("VALID with the key's data; optional fields omitted", async () => {
    const ctx = await workspaceV2(kg);
    const plain = await key(ctx);
    let r = await v2(kg, "keys.verifyKey", { key: plain.key }, ctx.admin);
    assert.deepEqual(r.body.data, { valid: true, code: "VALID", keyId: plain.keyId, enabled: true });
    await sdk(kg, ctx.admin).permissions.createRole({ name: "reader", permissions: ["doc.read"] });
    const full = await key(ctx, {
      name: "full",
      meta: { plan: "pro" },
      externalId: "acme",
      roles: ["reader"],
      permissions: ["doc.write"],
      expires: Date.now() + 3_600_000,
      credits: { remaining: 10 },
    });
    const v = await verify(ctx, { key: full.key, tags: ["path=/x"] });
    assert.equal(v.valid, true);
    assert.equal(v.code, "VALID");
    assert.equal(v.keyId, full.keyId);
    assert.equal(v.name, "full");
    assert.deepEqual(v.meta, { plan: "pro" });
    assert.equal(v.credits, 9);
    assert.deepEqual(v.roles, ["reader"]);
    assert.deepEqual([...v.permissions].sort(), ["doc.read", "doc.write"]);
    assert.equal(v.identity.externalId, "acme");
    assert.ok(v.expires > Date.now());
    // the verification was recorded with its tags (read through v1's analytics route)
    const query = { apiId: ctx.apiId, keyId: full.keyId, start: Date.now() - 3_600_000, groupBy: "tags" };
    const recorded = await kg.get("analytics.getVerifications", query, ctx.admin);
    assert.equal(recorded.status, 200, recorded.text);
    assert.deepEqual(recorded.body.map((p) => [p.tags, p.valid, p.spentCredits]), [[["path=/x"], 1, 1]]);
  });

  test("DISABLED, EXPIRED, FORBIDDEN (ip whitelist)", async () => {
    const ctx = await workspaceV2(kg);
    const disabled = await key(ctx, { enabled: false });
    assert.deepEqual(
      (({ valid, code, enabled }) => ({ valid, code, enabled }))(await verify(ctx, { key: disabled.key })),
      { valid: false, code: "DISABLED", enabled: false },
    );
    const expired = await key(ctx, { expires: Date.now() - 1000 });
    assert.equal((await verify(ctx, { key: expired.key })).code, "EXPIRED");
    await kg.admin("updateApi", { apiId: ctx.apiId, ipWhitelist: "100.100.100.100" });
    const k = await key(ctx);
    assert.equal((await verify(ctx, { key: k.key })).code, "FORBIDDEN");
    assert.equal((await verify(ctx, { key: k.key }, { headers: { "CF-Connecting-IP": "100.100.100.100" } })).code, "VALID");
  });

  test("permission queries: AND binds tighter than OR; a syntax error is a 400 once the key is found", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, { permissions: ["a", "c", "api.*"] });
    const code = async (permissions) => (await verify(ctx, { key: k.key, permissions })).code;
    assert.equal(await code("a AND (b OR c)"), "VALID");
    assert.equal(await code("a AND b OR c"), "VALID");
    assert.equal(await code("b OR a AND x"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await code("(a AND b) OR x"), "INSUFFICIENT_PERMISSIONS");
    assert.equal(await code("api.* OR api.edit"), "VALID");
    assert.equal(await code("api.read"), "INSUFFICIENT_PERMISSIONS");
    const e = await sdkError(assert, sdk(kg, ctx.admin).keys.verifyKey({ key: k.key, permissions: "a AND (b" }), errors.BadRequestErrorResponse, 400, "user/bad_request/permissions_query_syntax_error");
    assert.deepEqual(e.error.errors, []);
    await sdkError(assert, sdk(kg, ctx.admin).keys.verifyKey({ key: k.key, permissions: "a & b" }), errors.BadRequestErrorResponse, 400);
    // an unknown key is NOT_FOUND before the query is read
    assert.equal((await verify(ctx, { key: "nope", permissions: "a AND (b" })).code, "NOT_FOUND");
  });

  test("roles set through v2 decide verifications", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createRole({ name: "writer", permissions: ["doc.write"] });
    const k = await key(ctx);
    assert.equal((await verify(ctx, { key: k.key, permissions: "doc.write" })).code, "INSUFFICIENT_PERMISSIONS");
    await unkey.keys.addRoles({ keyId: k.keyId, roles: ["writer"] });
    assert.equal((await verify(ctx, { key: k.key, permissions: "doc.write" })).code, "VALID");
  });
});

describe("credits", () => {
  test("cost, cost 0, USAGE_EXCEEDED keeps the balance", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, { credits: { remaining: 10 } });
    assert.equal((await verify(ctx, { key: k.key, credits: { cost: 4 } })).credits, 6);
    assert.equal((await verify(ctx, { key: k.key, credits: { cost: 0 } })).credits, 6);
    const over = await verify(ctx, { key: k.key, credits: { cost: 7 } });
    assert.deepEqual([over.valid, over.code, over.credits], [false, "USAGE_EXCEEDED", 6]);
    assert.equal((await verify(ctx, { key: k.key, credits: { cost: 6 } })).credits, 0);
    assert.equal((await verify(ctx, { key: k.key })).code, "USAGE_EXCEEDED");
    // an unlimited key ignores credits
    const free = await key(ctx);
    const v = await verify(ctx, { key: free.key, credits: { cost: 1000 } });
    assert.equal(v.valid, true);
    assert.equal(v.credits, undefined);
  });

  test("a verification stopped before its credit check shows the balance as it is now", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, { credits: { remaining: 5 }, ratelimits: [{ name: "calls", limit: 2, duration: 60_000, autoApply: true }] });
    assert.equal((await verify(ctx, { key: k.key, credits: { cost: 3 } }, at(T))).credits, 2);
    assert.equal((await verify(ctx, { key: k.key }, at(T + 1))).credits, 1);
    // rate limited: nothing charged; the balance shown is 1 (the key was first read with 5)
    const limited = await verify(ctx, { key: k.key }, at(T + 2));
    assert.deepEqual([limited.code, limited.credits], ["RATE_LIMITED", 1]);
    // a change through the API shows at once too
    await sdk(kg, ctx.admin).keys.updateCredits({ keyId: k.keyId, operation: "set", value: 40 });
    const after = await verify(ctx, { key: k.key }, at(T + 3));
    assert.deepEqual([after.code, after.credits], ["RATE_LIMITED", 40]);
    // disabled: the same
    await sdk(kg, ctx.admin).keys.updateKey({ keyId: k.keyId, enabled: false });
    const disabled = await verify(ctx, { key: k.key }, at(T + 60_000));
    assert.deepEqual([disabled.code, disabled.credits], ["DISABLED", 40]);
  });

  test("200 concurrent verifications against 1 credit: exactly 1 VALID", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, { credits: { remaining: 1 } });
    const unkey = sdk(kg, ctx.admin);
    const results = await Promise.all(Array.from({ length: 200 }, () => unkey.keys.verifyKey({ key: k.key })));
    const codes = results.map((r) => r.data.code);
    assert.equal(codes.filter((c) => c === "VALID").length, 1);
    assert.equal(codes.filter((c) => c === "USAGE_EXCEEDED").length, 199);
    assert.deepEqual((await unkey.keys.getKey({ keyId: k.keyId })).data.credits, { remaining: 0 });
  });
});

describe("rate limits", () => {
  test("configured limits: auto-applied and named; the answer lists each checked limit", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, {
      ratelimits: [
        { name: "requests", limit: 2, duration: 60_000, autoApply: true },
        { name: "tokens", limit: 100, duration: 60_000, autoApply: false },
      ],
    });
    let v = await verify(ctx, { key: k.key }, at(T));
    assert.equal(v.code, "VALID");
    assert.equal(v.ratelimits.length, 1);
    const [r] = v.ratelimits;
    assert.equal(r.name, "requests");
    assert.match(r.id, /^rl_/);
    assert.deepEqual([r.limit, r.duration, r.remaining, r.reset, r.exceeded, r.autoApply], [2, 60_000, 1, T + 60_000, false, true]);
    v = await verify(ctx, { key: k.key, ratelimits: [{ name: "tokens", cost: 40 }] }, at(T + 1));
    assert.deepEqual(v.ratelimits.map((x) => [x.name, x.remaining, x.autoApply]).sort(), [["requests", 0, true], ["tokens", 60, false]]);
    v = await verify(ctx, { key: k.key }, at(T + 2));
    assert.equal(v.code, "RATE_LIMITED");
    assert.equal(v.ratelimits[0].exceeded, true);
    // a rate-limited verification spends nothing of the other limits (all or nothing)
    v = await verify(ctx, { key: k.key, ratelimits: [{ name: "tokens", cost: 10 }] }, at(T + 3));
    assert.equal(v.code, "RATE_LIMITED");
    assert.equal(v.ratelimits.find((x) => x.name === "tokens").exceeded, false);
    v = await verify(ctx, { key: k.key, ratelimits: [{ name: "requests", cost: 0 }, { name: "tokens", cost: 60 }] }, at(T + 4));
    assert.equal(v.code, "VALID");
  });

  test("ad hoc limits; an unknown named limit is 412", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx);
    let v = await verify(ctx, { key: k.key, ratelimits: [{ name: "adhoc", limit: 1, duration: 10_000 }] }, at(T));
    assert.equal(v.code, "VALID");
    assert.equal(v.ratelimits[0].id, "");
    v = await verify(ctx, { key: k.key, ratelimits: [{ name: "adhoc", limit: 1, duration: 10_000 }] }, at(T + 1));
    assert.equal(v.code, "RATE_LIMITED");
    const r = await v2(kg, "keys.verifyKey", { key: k.key, ratelimits: [{ name: "missing" }] }, ctx.admin);
    expectV2Error(assert, r, 412, "unkey/application/precondition_failed", /missing/);
    // verifyKey lists no 412: the SDK reports it as an APIError
    await sdkError(assert, sdk(kg, ctx.admin).keys.verifyKey({ key: k.key, ratelimits: [{ name: "missing" }] }), errors.APIError, 412);
  });

  test("the sliding window weighs the previous window", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, { ratelimits: [{ name: "requests", limit: 10, duration: 10_000, autoApply: true }] });
    // 10 in the window [T, T+10s)
    for (let i = 0; i < 10; i++) assert.equal((await verify(ctx, { key: k.key }, at(T + i))).code, "VALID");
    // a quarter into the next window, 7 of those 10 still weigh: 3 more pass, then none
    const next = T + 12_500;
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await verify(ctx, { key: k.key }, at(next + i))).code);
    assert.deepEqual(codes, ["VALID", "VALID", "VALID", "RATE_LIMITED", "RATE_LIMITED"]);
    // two windows later nothing weighs
    assert.equal((await verify(ctx, { key: k.key }, at(T + 30_000))).ratelimits[0].remaining, 9);
  });

  test("identity limits are shared by the identity's keys and listed under identity", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.identities.createIdentity({ externalId: "org_1", ratelimits: [{ name: "org", limit: 3, duration: 60_000, autoApply: true }] });
    const k1 = await key(ctx, { externalId: "org_1" });
    const k2 = await key(ctx, { externalId: "org_1" });
    const v = await verify(ctx, { key: k1.key }, at(T));
    assert.deepEqual(v.identity.ratelimits.map((r) => [r.name, r.limit, r.autoApply]), [["org", 3, true]]);
    assert.equal((await verify(ctx, { key: k2.key }, at(T + 1))).code, "VALID");
    assert.equal((await verify(ctx, { key: k1.key }, at(T + 2))).code, "VALID");
    assert.equal((await verify(ctx, { key: k2.key }, at(T + 3))).code, "RATE_LIMITED");
  });

  test("150 concurrent verifications against a limit of 40: exactly 40 pass", async () => {
    const ctx = await workspaceV2(kg);
    const k = await key(ctx, { ratelimits: [{ name: "burst", limit: 40, duration: 60_000, autoApply: true }] });
    const unkey = sdk(kg, ctx.admin);
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => unkey.keys.verifyKey({ key: k.key }, at(T + (i % 50)))));
    const codes = results.map((r) => r.data.code);
    assert.equal(codes.filter((c) => c === "VALID").length, 40);
    assert.equal(codes.filter((c) => c === "RATE_LIMITED").length, 110);
  });
});
