// v2 ratelimit.* through the stock SDKs: @unkey/ratelimit 2.1.4 (`Ratelimit`, `Overrides`, with its
// own @unkey/api 2.2.0) and @unkey/api 2.5.1 (multiLimit, paging). limit, multiLimit, setOverride,
// getOverride, deleteOverride, listOverrides. Contract: shared/spec/v2-api.md §4.17–4.19 and
// shared/spec/decisions.md §5 (sliding window over the counters v1 counts in too).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, awayFromWindowEdge } from "./helpers.mjs";
import { sdk, v2, expectV2Error, sdkError, errors, errors22, workspaceV2, ratelimiter, overrides } from "./v2-helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

const at = (ms) => ({ headers: { "X-Test-Now": String(ms) } });
const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 7_200_000;

describe("ratelimit.limit", () => {
  test("@unkey/ratelimit: counts, creates the namespace, answers limit/remaining/reset", async () => {
    const ctx = await workspaceV2(kg);
    const rl = ratelimiter(kg, ctx.admin, { namespace: "api-calls", limit: 3, duration: "1h" });
    await awayFromWindowEdge(3_600_000);
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await rl.limit("user_1"));
    assert.deepEqual(results.map((r) => r.success), [true, true, true, false]);
    assert.deepEqual(results.map((r) => r.remaining), [2, 1, 0, 0]);
    assert.ok(results.every((r) => r.limit === 3 && r.reset > Date.now()));
    // other identifiers have their own counters
    assert.equal((await rl.limit("user_2")).success, true);
    // cost
    const heavy = await rl.limit("user_3", { cost: 3 });
    assert.deepEqual([heavy.success, heavy.remaining], [true, 0]);
    const ns = await kg.row("SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = 'api-calls'", ctx.workspaceId);
    assert.match(ns.id, /^rlns_/);
    // the namespace can be named by its id too
    const byId = await sdk(kg, ctx.admin).ratelimit.limit({ namespace: ns.id, identifier: "user_2", limit: 3, duration: 3_600_000 });
    assert.equal(byId.data.remaining, 1);
  });

  test("150 concurrent limits against 40: exactly 40 pass (@unkey/ratelimit)", async () => {
    const ctx = await workspaceV2(kg);
    const rl = ratelimiter(kg, ctx.admin, { namespace: "burst", limit: 40, duration: "1h" });
    await awayFromWindowEdge(3_600_000);
    const results = await Promise.all(Array.from({ length: 150 }, () => rl.limit("hot")));
    assert.equal(results.filter((r) => r.success).length, 40);
  });

  test("sliding window: the previous window still weighs", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const limit = (now) => unkey.ratelimit.limit({ namespace: "slide", identifier: "u", limit: 4, duration: 10_000 }, at(now));
    for (let i = 0; i < 4; i++) assert.equal((await limit(T + i)).data.success, true);
    // 40% into the next window, floor(4 × 0.6) = 2 of the previous 4 still weigh
    const r1 = await limit(T + 14_000);
    assert.deepEqual([r1.data.success, r1.data.remaining, r1.data.reset], [true, 1, T + 20_000]);
    assert.equal((await limit(T + 14_001)).data.success, true);
    assert.equal((await limit(T + 14_002)).data.success, false);
    // in the window after that, the previous window (2 counted) weighs floor(2 × 0.9) = 1
    assert.equal((await limit(T + 21_000)).data.remaining, 2);
  });

  test("rights: limit per namespace, create_namespace for new ones; deleted namespaces are 410", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.ratelimit.limit({ namespace: "existing", identifier: "x", limit: 1, duration: 60_000 });
    const limiter = await kg.rootKey(ctx.workspaceId, ["ratelimit.*.limit"]);
    assert.equal((await sdk(kg, limiter).ratelimit.limit({ namespace: "existing", identifier: "y", limit: 1, duration: 60_000 })).data.success, true);
    const e = await sdkError(assert, sdk(kg, limiter).ratelimit.limit({ namespace: "fresh", identifier: "y", limit: 1, duration: 60_000 }), errors.ForbiddenErrorResponse, 403);
    assert.match(e.error.detail, /create_namespace/);
    const ns = await kg.row("SELECT id FROM ratelimit_namespaces WHERE name = 'existing' AND workspace_id = ?", ctx.workspaceId);
    const scoped = await kg.rootKey(ctx.workspaceId, [`ratelimit.${ns.id}.limit`]);
    assert.equal((await sdk(kg, scoped).ratelimit.limit({ namespace: "existing", identifier: "z", limit: 1, duration: 60_000 })).data.success, true);
    await kg.db.prepare("UPDATE ratelimit_namespaces SET deleted_at_m = 1 WHERE id = ?").bind(ns.id).run();
    await sdkError(assert, unkey.ratelimit.limit({ namespace: "existing", identifier: "x", limit: 1, duration: 60_000 }), errors.GoneErrorResponse, 410, "unkey/data/ratelimit_namespace_gone");
    // @unkey/ratelimit rethrows the typed error without onError, and hands it to onError otherwise
    const rl = ratelimiter(kg, ctx.admin, { namespace: "existing", limit: 1, duration: 60_000, onError: (err) => ({ success: false, limit: 0, remaining: 0, reset: 0, error: err.message }) });
    assert.match((await rl.limit("x")).error, /./);
    const bad = await v2(kg, "ratelimit.limit", { namespace: "n", identifier: "i", limit: 1, duration: 999 }, ctx.admin);
    expectV2Error(assert, bad, 400, "unkey/application/invalid_input");
    assert.equal(bad.body.error.errors[0].location, "body.duration");
  });
});

describe("ratelimit.multiLimit", () => {
  test("all or nothing: one failing check counts none", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const checks = [
      { namespace: "a", identifier: "u1", limit: 5, duration: 3_600_000 },
      { namespace: "b", identifier: "u1", limit: 1, duration: 3_600_000, cost: 2 },
    ];
    const r = await unkey.ratelimit.multiLimit(checks, at(T));
    assert.equal(r.data.passed, false);
    assert.deepEqual(r.data.limits.map((l) => [l.namespace, l.identifier, l.passed, l.limit]), [["a", "u1", true, 5], ["b", "u1", false, 1]]);
    assert.equal(r.data.limits[0].remaining, 5);
    // nothing was counted in "a": a single limit sees the whole budget
    const single = await unkey.ratelimit.limit({ namespace: "a", identifier: "u1", limit: 5, duration: 3_600_000 }, at(T + 1));
    assert.equal(single.data.remaining, 4);
    const ok = await unkey.ratelimit.multiLimit([checks[0], { ...checks[1], cost: 1 }], at(T + 2));
    assert.equal(ok.data.passed, true);
    assert.deepEqual(ok.data.limits.map((l) => l.remaining), [3, 0]);
  });

  test("concurrent multiLimits over two namespaces never overcount either", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const checks = [
      { namespace: "m1", identifier: "u", limit: 30, duration: 3_600_000 },
      { namespace: "m2", identifier: "u", limit: 20, duration: 3_600_000 },
    ];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => unkey.ratelimit.multiLimit(checks, at(T + i))));
    const passed = results.filter((r) => r.data.passed).length;
    assert.ok(passed <= 20, `${passed} passed`);
    assert.ok(passed >= 1);
    // what passed was counted in both, what failed in neither
    const m1 = await unkey.ratelimit.limit({ namespace: "m1", identifier: "u", limit: 30, duration: 3_600_000, cost: 0 }, at(T + 100));
    const m2 = await unkey.ratelimit.limit({ namespace: "m2", identifier: "u", limit: 20, duration: 3_600_000, cost: 0 }, at(T + 100));
    assert.equal(30 - m1.data.remaining, passed);
    assert.equal(20 - m2.data.remaining, passed);
  });
});

describe("overrides", () => {
  test("@unkey/ratelimit Overrides: set, get (exact and wildcard), list with paging, delete", async () => {
    const ctx = await workspaceV2(kg);
    await sdk(kg, ctx.admin).ratelimit.limit({ namespace: "ov", identifier: "x", limit: 10, duration: 60_000 });
    const o = overrides(kg, ctx.admin);
    const vip = await o.setOverride({ namespace: "ov", identifier: "vip", limit: 100, duration: 60_000 });
    assert.match(vip.data.overrideId, /^rlor_/);
    const again = await o.setOverride({ namespace: "ov", identifier: "vip", limit: 200, duration: 60_000 });
    assert.equal(again.data.overrideId, vip.data.overrideId);
    const wild = await o.setOverride({ namespace: "ov", identifier: "team_*", limit: 0, duration: 60_000 });
    assert.deepEqual((await o.getOverride({ namespace: "ov", identifier: "vip" })).data, {
      overrideId: vip.data.overrideId,
      identifier: "vip",
      limit: 200,
      duration: 60_000,
    });
    assert.equal((await o.getOverride({ namespace: "ov", identifier: "team_42" })).data.overrideId, wild.data.overrideId);
    await sdkError(assert, o.getOverride({ namespace: "ov", identifier: "nobody" }), errors22.NotFoundErrorResponse, 404, "unkey/data/ratelimit_override_not_found");
    // overrides decide limit and answer overrideId
    const limited = await sdk(kg, ctx.admin).ratelimit.limit({ namespace: "ov", identifier: "team_7", limit: 10, duration: 60_000 });
    assert.deepEqual([limited.data.success, limited.data.limit, limited.data.overrideId], [false, 0, wild.data.overrideId]);
    for (let i = 0; i < 3; i++) await o.setOverride({ namespace: "ov", identifier: `extra_${i}`, limit: 1, duration: 60_000 });
    const page = await sdk(kg, ctx.admin).ratelimit.listOverrides({ namespace: "ov", limit: 2 });
    assert.equal(page.result.data.length, 2);
    assert.equal(page.result.pagination.hasMore, true);
    const all = [];
    for await (const p of page) all.push(...p.result.data.map((x) => x.identifier));
    assert.deepEqual(all.sort(), ["extra_0", "extra_1", "extra_2", "team_*", "vip"]);
    const listed = await o.listOverrides({ namespace: "ov" });
    // @unkey/api 2.2.0 (inside @unkey/ratelimit) does not page: the body itself
    assert.equal(listed.data.length, 5);
    assert.equal(listed.pagination.hasMore, false);
    assert.deepEqual((await o.deleteOverride({ namespace: "ov", identifier: "vip" })).data, {});
    await sdkError(assert, o.deleteOverride({ namespace: "ov", identifier: "vip" }), errors22.NotFoundErrorResponse, 404);
    // deleteOverride only deletes an exact identifier
    await sdkError(assert, o.deleteOverride({ namespace: "ov", identifier: "team_1" }), errors22.NotFoundErrorResponse, 404);
    await sdkError(assert, o.setOverride({ namespace: "nope", identifier: "x", limit: 1, duration: 60_000 }), errors22.NotFoundErrorResponse, 404, "unkey/data/ratelimit_namespace_not_found");
  });

  test("rights: read_override missing is masked as 404 on get, 403 elsewhere; namespace-scoped rights work", async () => {
    const ctx = await workspaceV2(kg);
    const o = overrides(kg, ctx.admin);
    await sdk(kg, ctx.admin).ratelimit.limit({ namespace: "guarded", identifier: "x", limit: 10, duration: 60_000 });
    await o.setOverride({ namespace: "guarded", identifier: "x", limit: 1, duration: 60_000 });
    const none = overrides(kg, await kg.rootKey(ctx.workspaceId, ["ratelimit.*.limit"]));
    await sdkError(assert, none.getOverride({ namespace: "guarded", identifier: "x" }), errors22.NotFoundErrorResponse, 404);
    await sdkError(assert, none.setOverride({ namespace: "guarded", identifier: "y", limit: 1, duration: 60_000 }), errors22.ForbiddenErrorResponse, 403);
    await sdkError(assert, none.deleteOverride({ namespace: "guarded", identifier: "x" }), errors22.ForbiddenErrorResponse, 403);
    await sdkError(assert, none.listOverrides({ namespace: "guarded" }), errors22.ForbiddenErrorResponse, 403);
    const ns = await kg.row("SELECT id FROM ratelimit_namespaces WHERE name = 'guarded' AND workspace_id = ?", ctx.workspaceId);
    const reader = overrides(kg, await kg.rootKey(ctx.workspaceId, [`ratelimit.${ns.id}.read_override`]));
    assert.equal((await reader.getOverride({ namespace: "guarded", identifier: "x" })).data.limit, 1);
  });
});
