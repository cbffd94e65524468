// v1 and v2 over one data model, each through its stock SDK (@unkey/api 0.38.0 for v1, 2.5.1 for
// v2, @unkey/ratelimit 2.1.4): keys created through one version verify through the other, credits
// spent through one show in the other, a rate limit counted through both never admits more than
// its limit (also under concurrent requests of both versions), and roles/permissions set through
// v2 decide v1 verifications. Contract: shared/spec/decisions.md §5.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, awayFromWindowEdge } from "./helpers.mjs";
import { sdk, workspaceV2, ratelimiter } from "./v2-helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 7_200_000;
const at = (ms) => ({ "X-Test-Now": String(ms) });

/** v1's verifyKey (public route) through the v1 SDK. */
async function v1verify(ctx, body) {
  const { result, error } = await kg.sdk(ctx.admin).keys.verify({ apiId: ctx.apiId, ...body });
  assert.equal(error, undefined, JSON.stringify(error));
  return result;
}

async function v2verify(ctx, body, headers) {
  return (await sdk(kg, ctx.admin).keys.verifyKey(body, headers ? { headers } : undefined)).data;
}

describe("keys and credits across versions", () => {
  test("a key created through v1 verifies through v2, and the reverse", async () => {
    const ctx = await workspaceV2(kg);
    const { result: v1key, error } = await kg.sdk(ctx.admin).keys.create({ apiId: ctx.apiId, prefix: "v1", name: "from v1", meta: { v: 1 } });
    assert.equal(error, undefined);
    const seen = await v2verify(ctx, { key: v1key.key });
    assert.deepEqual([seen.valid, seen.keyId, seen.name, seen.meta], [true, v1key.keyId, "from v1", { v: 1 }]);
    const v2key = (await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, prefix: "v2", name: "from v2" })).data;
    const v1seen = await v1verify(ctx, { key: v2key.key });
    assert.deepEqual([v1seen.valid, v1seen.keyId, v1seen.name], [true, v2key.keyId, "from v2"]);
    // each version reads what the other wrote
    const { result: got } = await kg.sdk(ctx.admin).keys.get({ keyId: v2key.keyId });
    assert.equal(got.name, "from v2");
    assert.equal((await sdk(kg, ctx.admin).keys.getKey({ keyId: v1key.keyId })).data.name, "from v1");
  });

  test("credits spent through one version show in the other", async () => {
    const ctx = await workspaceV2(kg);
    const k = (await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, credits: { remaining: 10 } })).data;
    assert.equal((await v1verify(ctx, { key: k.key, remaining: { cost: 3 } })).remaining, 7);
    assert.equal((await v2verify(ctx, { key: k.key, credits: { cost: 2 } })).credits, 5);
    const { result } = await kg.sdk(ctx.admin).keys.get({ keyId: k.keyId });
    assert.equal(result.remaining, 5);
    await kg.sdk(ctx.admin).keys.updateRemaining({ keyId: k.keyId, op: "increment", value: 10 });
    assert.deepEqual((await sdk(kg, ctx.admin).keys.getKey({ keyId: k.keyId })).data.credits, { remaining: 15 });
    await sdk(kg, ctx.admin).keys.updateCredits({ keyId: k.keyId, operation: "decrement", value: 14 });
    assert.equal((await v1verify(ctx, { key: k.key })).remaining, 0);
    assert.equal((await v2verify(ctx, { key: k.key })).code, "USAGE_EXCEEDED");
  });

  test("concurrent verifications of both versions against 50 credits: exactly 50 valid", async () => {
    const ctx = await workspaceV2(kg);
    const k = (await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, credits: { remaining: 50 } })).data;
    const v1 = kg.sdk(ctx.admin);
    const v2 = sdk(kg, ctx.admin);
    const calls = Array.from({ length: 120 }, (_, i) =>
      i % 2 ? v1.keys.verify({ apiId: ctx.apiId, key: k.key }).then((r) => r.result.valid) : v2.keys.verifyKey({ key: k.key }).then((r) => r.data.valid),
    );
    const valid = (await Promise.all(calls)).filter(Boolean).length;
    assert.equal(valid, 50);
    assert.deepEqual((await v2.keys.getKey({ keyId: k.keyId })).data.credits, { remaining: 0 });
  });

  test("roles and permissions set through v2 decide v1 verifications", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createRole({ name: "billing", permissions: ["invoices.read"] });
    const { result: k } = await kg.sdk(ctx.admin).keys.create({ apiId: ctx.apiId });
    const check = () => v1verify(ctx, { key: k.key, authorization: { permissions: { and: ["invoices.read", "reports.read"] } } });
    assert.equal((await check()).code, "INSUFFICIENT_PERMISSIONS");
    await unkey.keys.addRoles({ keyId: k.keyId, roles: ["billing"] });
    await unkey.keys.addPermissions({ keyId: k.keyId, permissions: ["reports.read"] });
    assert.equal((await check()).code, "VALID");
    await unkey.keys.setPermissions({ keyId: k.keyId, permissions: [] });
    assert.equal((await check()).code, "INSUFFICIENT_PERMISSIONS");
    // and the reverse: v1's changes decide v2's verifications
    await kg.sdk(ctx.admin).keys.addPermissions({ keyId: k.keyId, permissions: [{ name: "reports.read" }] });
    assert.equal((await v2verify(ctx, { key: k.key, permissions: "invoices.read AND reports.read" })).code, "VALID");
  });
});

describe("rate limits across versions", () => {
  test("ratelimits.limit (v1) and ratelimit.limit (v2) count the same window", async () => {
    const ctx = await workspaceV2(kg);
    const v1 = (now) => kg.post("ratelimits.limit", { namespace: "shared", identifier: "u", limit: 10, duration: 60_000 }, ctx.admin, at(now));
    const v2 = (now) => sdk(kg, ctx.admin).ratelimit.limit({ namespace: "shared", identifier: "u", limit: 10, duration: 60_000 }, { headers: at(now) });
    for (let i = 0; i < 6; i++) assert.equal((await v1(T + i)).body.success, true);
    const passed = [];
    for (let i = 0; i < 6; i++) passed.push((await v2(T + 10 + i)).data.success);
    assert.deepEqual(passed, [true, true, true, true, false, false]);
    assert.equal((await v1(T + 20)).body.success, false);
  });

  test("150 concurrent limits, half v1 and half @unkey/ratelimit, against 40: exactly 40 pass", async () => {
    const ctx = await workspaceV2(kg);
    const rl = ratelimiter(kg, ctx.admin, { namespace: "mixed", limit: 40, duration: "1h" });
    const v1 = kg.sdk(ctx.admin);
    await awayFromWindowEdge(3_600_000);
    const calls = Array.from({ length: 150 }, (_, i) =>
      i % 2
        ? v1.ratelimits.limit({ namespace: "mixed", identifier: "hot", limit: 40, duration: 3_600_000 }).then((r) => r.result.success)
        : rl.limit("hot").then((r) => r.success),
    );
    const passed = (await Promise.all(calls)).filter(Boolean).length;
    assert.equal(passed, 40);
  });

  test("a key's rate limit verified through both versions never admits more than its limit", async () => {
    const ctx = await workspaceV2(kg);
    const { result: k } = await kg.sdk(ctx.admin).keys.create({ apiId: ctx.apiId, ratelimit: { limit: 5, duration: 60_000 } });
    const codes = [];
    for (let i = 0; i < 8; i++) {
      const now = T + i;
      if (i % 2) codes.push((await kg.post("keys.verifyKey", { key: k.key, apiId: ctx.apiId }, undefined, at(now))).body.code);
      else codes.push((await v2verify(ctx, { key: k.key }, at(now))).code);
    }
    assert.equal(codes.filter((c) => c === "VALID").length, 5);
    assert.deepEqual(codes.slice(5), ["RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    // the v2 answer names v1's `default` limit
    const v = await v2verify(ctx, { key: k.key }, at(T + 100));
    assert.deepEqual(v.ratelimits.map((r) => [r.name, r.limit, r.exceeded]), [["default", 5, true]]);
  });
});
