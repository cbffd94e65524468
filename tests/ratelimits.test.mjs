import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startKeygate, expectError, ok, uniq, at, midWindow, awayFromWindowEdge } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const limit = (body, rootKey = s.rootKey, now) =>
  kg.post("ratelimits.limit", body, rootKey, now === undefined ? undefined : at(now));

/** A namespace created through ratelimits.limit; returns its id. */
async function namespace(name) {
  await ok(limit({ namespace: name, identifier: "setup", limit: 1, duration: 1000, cost: 0 }));
  return (await kg.row("SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?", s.workspaceId, name)).id;
}

async function setOverride(body, rootKey = s.rootKey) {
  return (await ok(kg.post("ratelimits.setOverride", body, rootKey))).overrideId;
}

const overrideRows = () => kg.count("SELECT COUNT(*) AS n FROM ratelimit_overrides");
const namespaceRows = () => kg.count("SELECT COUNT(*) AS n FROM ratelimit_namespaces");

describe("ratelimits.limit", () => {
  test("through the SDK: creates the namespace on first use and counts", async () => {
    const unkey = kg.sdk(s.rootKey);
    const name = uniq("email.outbound");
    // the SDK cannot carry X-Test-Now: the real clock, far enough from the window's end that
    // both requests of user_123 fall in one window
    await awayFromWindowEdge(60000);
    const before = Date.now();
    const first = await unkey.ratelimits.limit({ namespace: name, identifier: "user_123", limit: 3, duration: 60000 });
    assert.equal(first.error, undefined, JSON.stringify(first.error));
    assert.deepEqual(Object.keys(first.result).sort(), ["limit", "remaining", "reset", "success"]);
    assert.equal(first.result.success, true);
    assert.equal(first.result.limit, 3);
    assert.equal(first.result.remaining, 2);
    // the fixed window ends on a multiple of the duration
    assert.equal(first.result.reset % 60000, 0);
    assert.ok(first.result.reset > before && first.result.reset <= Date.now() + 60000);
    const ns = await kg.row("SELECT id, workspace_id, deleted_at_m FROM ratelimit_namespaces WHERE name = ?", name);
    assert.match(ns.id, /^rlns_/);
    assert.equal(ns.workspace_id, s.workspaceId);
    const audit = await kg.row(
      "SELECT l.event, t.type, t.name FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ?",
      ns.id,
    );
    assert.deepEqual(audit, { event: "ratelimitNamespace.create", type: "ratelimitNamespace", name });
    const second = await unkey.ratelimits.limit({ namespace: name, identifier: "user_123", limit: 3, duration: 60000 });
    assert.equal(second.result.remaining, 1);
    // the namespace is reused, not created again
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimit_namespaces WHERE name = ?", name), 1);
    // another identifier has its own counter
    const other = await unkey.ratelimits.limit({ namespace: name, identifier: "user_456", limit: 3, duration: 60000 });
    assert.equal(other.result.remaining, 2);
  });

  test("namespace defaults to 'default'", async () => {
    const r = await ok(limit({ identifier: uniq("who"), limit: 5, duration: 1000 }));
    assert.equal(r.success, true);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimit_namespaces WHERE workspace_id = ? AND name = 'default'", s.workspaceId), 1);
  });

  test("exactly `limit` of 60 concurrent requests pass", async () => {
    const name = uniq("concurrent");
    await namespace(name);
    // one request time for all (the test clock), so that no minute boundary can split the burst
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 60 }, () => limit({ namespace: name, identifier: "burst", limit: 10, duration: 60000 }, s.rootKey, now)),
    );
    assert.ok(results.every((r) => r.status === 200), results.find((r) => r.status !== 200)?.text);
    const passed = results.filter((r) => r.body.success);
    assert.equal(passed.length, 10);
    // every pass saw a distinct count; every rejection sees the window full
    assert.deepEqual(passed.map((r) => r.body.remaining).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(results.filter((r) => !r.body.success).every((r) => r.body.remaining === 0 && r.body.limit === 10));
    const after = await ok(limit({ namespace: name, identifier: "burst", limit: 10, duration: 60000 }, s.rootKey, now));
    assert.equal(after.success, false);
  });

  test("concurrent first use of a namespace creates it once", async () => {
    const name = uniq("fresh");
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => limit({ namespace: name, identifier: `id${i}`, limit: 1, duration: 60000 })),
    );
    assert.deepEqual(results.map((r) => r.status), Array(12).fill(200), results.map((r) => r.text).join("\n"));
    assert.ok(results.every((r) => r.body.success));
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimit_namespaces WHERE name = ?", name), 1);
    assert.equal(
      await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.event = 'ratelimitNamespace.create' AND t.name = ?", name),
      1,
    );
  });

  test("cost: more than one token, zero to peek, too many is refused without counting", async () => {
    const name = uniq("cost");
    const t = midWindow(60000); // every request in one window
    const req = (cost) => limit({ namespace: name, identifier: "c", limit: 10, duration: 60000, cost }, s.rootKey, t);
    assert.deepEqual(pick(await ok(req(4))), { success: true, remaining: 6 });
    assert.deepEqual(pick(await ok(req(4))), { success: true, remaining: 2 });
    assert.deepEqual(pick(await ok(req(3))), { success: false, remaining: 2 });
    assert.deepEqual(pick(await ok(req(0))), { success: true, remaining: 2 });
    assert.deepEqual(pick(await ok(req(2))), { success: true, remaining: 0 });
    assert.deepEqual(pick(await ok(req(0))), { success: true, remaining: 0 });
    assert.deepEqual(pick(await ok(req(1))), { success: false, remaining: 0 });
    // a cost above the limit never passes
    assert.deepEqual(pick(await ok(limit({ namespace: name, identifier: "big", limit: 5, duration: 60000, cost: 6 }))), { success: false, remaining: 5 });
  });

  test("the limit resets in the next window", async () => {
    const name = uniq("window");
    await namespace(name);
    // start right after a window boundary so that the first requests share one window
    await sleep(1000 - (Date.now() % 1000) + 20);
    const req = () => limit({ namespace: name, identifier: "w", limit: 2, duration: 1000 });
    const a = await ok(req());
    const b = await ok(req());
    const c = await ok(req());
    assert.deepEqual([a.success, b.success, c.success], [true, true, false]);
    assert.equal(a.reset, c.reset);
    assert.equal(a.reset % 1000, 0);
    await sleep(Math.max(0, a.reset - Date.now()) + 50);
    const d = await ok(req());
    assert.equal(d.success, true);
    assert.equal(d.remaining, 1);
    assert.equal(d.reset, a.reset + 1000);
    // the same with the test clock: the window boundary is exact, whatever the machine's load
    const t = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
    const at = (ms) => ok(limit({ namespace: name, identifier: "clock", limit: 2, duration: 1000 }, s.rootKey, ms));
    assert.deepEqual([(await at(t)).success, (await at(t + 998)).success, (await at(t + 999)).success], [true, true, false]);
    const next = await at(t + 1000);
    assert.deepEqual([next.success, next.remaining, next.reset], [true, 1, t + 2000]);
  });

  test("bad input is a 400 naming the field and creates nothing", async () => {
    const before = await namespaceRows();
    const name = uniq("never-created");
    const bad = async (body, message) =>
      expectError(assert, await limit({ namespace: name, identifier: "x", limit: 1, duration: 1000, ...body }), 400, "BAD_REQUEST", message);
    await bad({ limit: 0 }, "limit: Number must be greater than 0");
    await bad({ limit: 2.5 }, "limit: Expected integer, received float");
    await bad({ duration: 999 }, "duration: Number must be greater than or equal to 1000");
    await bad({ cost: -1 }, "cost: Number must be greater than or equal to 0");
    await bad({ identifier: "" }, "identifier: String must contain at least 1 character(s)");
    await bad({ async: "yes" }, "async: Expected boolean, received string");
    await bad({ resources: [{ id: "p_1" }] }, "resources.0.type: Required");
    expectError(assert, await kg.post("ratelimits.limit", { limit: 1, duration: 1000 }, s.rootKey), 400, "BAD_REQUEST", "identifier: Required");
    assert.equal(await namespaceRows(), before);
    // async, meta and resources are accepted
    const r = await ok(limit({ namespace: name, identifier: "x", limit: 1, duration: 1000, async: true, meta: { a: 1 }, resources: [{ type: "project", id: "p_1", name: "dub" }] }));
    assert.equal(r.success, true);
  });

  test("namespace creation and limiting need their permissions", async () => {
    const ws = s.workspaceId;
    const limitOnly = await kg.rootKey(ws, ["ratelimit.*.limit"]);
    const name = uniq("perm-ns");
    const before = await namespaceRows();
    // cannot create the namespace
    expectError(assert, await limit({ namespace: name, identifier: "x", limit: 1, duration: 1000 }, limitOnly), 404, "NOT_FOUND", `namespace ${name} not found`);
    assert.equal(await namespaceRows(), before);
    // create_namespace alone creates it (upstream's order) but may not limit
    const createOnly = await kg.rootKey(ws, ["ratelimit.*.create_namespace"]);
    const refused = await limit({ namespace: name, identifier: "x", limit: 1, duration: 1000 }, createOnly);
    const nsId = (await kg.row("SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?", ws, name))?.id;
    assert.match(nsId, /^rlns_/);
    expectError(assert, refused, 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"ratelimit.*.limit"', '"ratelimit.${nsId}.limit"'], have: ['"ratelimit.*.create_namespace"']`);
    // now it exists: ratelimit.*.limit and ratelimit.<nsId>.limit both work
    assert.equal((await ok(limit({ namespace: name, identifier: "x", limit: 5, duration: 1000 }, limitOnly))).success, true);
    const byId = await kg.rootKey(ws, [`ratelimit.${nsId}.limit`]);
    assert.equal((await ok(limit({ namespace: name, identifier: "x", limit: 5, duration: 1000 }, byId))).success, true);
    // ... but only for that namespace
    const otherId = await namespace(uniq("other-ns"));
    assert.notEqual(otherId, nsId);
    const otherName = (await kg.row("SELECT name FROM ratelimit_namespaces WHERE id = ?", otherId)).name;
    expectError(assert, await limit({ namespace: otherName, identifier: "x", limit: 5, duration: 1000 }, byId), 403, "INSUFFICIENT_PERMISSIONS");
  });

  test("namespaces are per workspace", async () => {
    const other = await kg.setup();
    const name = uniq("shared-name");
    const here = await ok(limit({ namespace: name, identifier: "same", limit: 1, duration: 60000 }));
    const there = await ok(limit({ namespace: name, identifier: "same", limit: 1, duration: 60000 }, other.rootKey));
    assert.equal(here.success, true);
    // a separate namespace and counter in the other workspace
    assert.equal(there.success, true);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimit_namespaces WHERE name = ?", name), 2);
    const denied = await kg.rootKey(other.workspaceId, ["ratelimit.*.limit"]);
    expectError(assert, await limit({ namespace: uniq("only-here"), identifier: "x", limit: 1, duration: 1000 }, denied), 404, "NOT_FOUND");
  });
});

function pick(r) {
  return { success: r.success, remaining: r.remaining };
}

describe("overrides through the SDK", () => {
  test("set, get, list and delete", async () => {
    const name = uniq("sdk-overrides");
    const nsId = await namespace(name);
    const unkey = kg.sdk(s.rootKey);
    const set = await unkey.ratelimits.setOverride({ namespaceName: name, identifier: "user_vip", limit: 50, duration: 60000 });
    assert.equal(set.error, undefined, JSON.stringify(set.error));
    const overrideId = set.result.overrideId;
    assert.match(overrideId, /^rlor_/);
    const row = await kg.row("SELECT workspace_id, namespace_id, identifier, \"limit\", duration, async, deleted_at_m FROM ratelimit_overrides WHERE id = ?", overrideId);
    assert.deepEqual(row, { workspace_id: s.workspaceId, namespace_id: nsId, identifier: "user_vip", limit: 50, duration: 60000, async: 0, deleted_at_m: null });
    const audit = await kg.rows(
      "SELECT t.type, t.id FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.event = 'ratelimit.set_override' AND l.id = (SELECT audit_log_id FROM audit_log_target WHERE id = ?) ORDER BY t.type",
      overrideId,
    );
    assert.deepEqual(audit, [{ type: "ratelimitNamespace", id: nsId }, { type: "ratelimitOverride", id: overrideId }]);

    // getOverride needs ratelimit.*.read_override (or "*")
    const reader = kg.sdk(await kg.rootKey(s.workspaceId, ["ratelimit.*.read_override"]));
    const got = await reader.ratelimits.getOverride({ namespaceId: nsId, identifier: "user_vip" });
    assert.deepEqual(got.result, { id: overrideId, identifier: "user_vip", limit: 50, duration: 60000, async: false });

    const listed = await unkey.ratelimits.listOverrides({ namespaceName: name });
    assert.deepEqual(listed.result, { overrides: [got.result], total: 1, cursor: overrideId });

    const del = await unkey.ratelimits.deleteOverride({ namespaceId: nsId, identifier: "user_vip" });
    assert.deepEqual(del, { result: {} });
    assert.ok((await kg.row("SELECT deleted_at_m FROM ratelimit_overrides WHERE id = ?", overrideId)).deleted_at_m > 0);
    const gone = await reader.ratelimits.getOverride({ namespaceName: name, identifier: "user_vip" });
    assert.equal(gone.error.code, "NOT_FOUND");
    assert.equal(gone.error.message, "Override not found");
    assert.deepEqual((await unkey.ratelimits.listOverrides({ namespaceId: nsId })).result, { overrides: [], total: 0 });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.event = 'ratelimit.delete_override' AND t.id = ?", overrideId), 1);
  });
});

describe("ratelimits overrides", () => {
  test("setOverride updates the existing override and revives a deleted one", async () => {
    const name = uniq("upsert");
    const nsId = await namespace(name);
    const id = await setOverride({ namespaceName: name, identifier: "user_1", limit: 5, duration: 1000 });
    const same = await setOverride({ namespaceId: nsId, identifier: "user_1", limit: 7, duration: 2000, async: true });
    assert.equal(same, id);
    const reader = await kg.rootKey(s.workspaceId, ["ratelimit.*.read_override"]);
    assert.deepEqual((await kg.get("ratelimits.getOverride", { namespaceId: nsId, identifier: "user_1" }, reader)).body,
      { id, identifier: "user_1", limit: 7, duration: 2000, async: true });
    assert.deepEqual(await ok(kg.post("ratelimits.deleteOverride", { namespaceName: name, identifier: "user_1" }, s.rootKey)), {});
    expectError(assert, await kg.post("ratelimits.deleteOverride", { namespaceName: name, identifier: "user_1" }, s.rootKey), 404, "NOT_FOUND",
      "Override with user_1 identifier not found");
    const revived = await setOverride({ namespaceName: name, identifier: "user_1", limit: 0, duration: 1000 });
    assert.equal(revived, id);
    assert.deepEqual(await kg.row("SELECT \"limit\", deleted_at_m FROM ratelimit_overrides WHERE id = ?", id), { limit: 0, deleted_at_m: null });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimit_overrides WHERE namespace_id = ?", nsId), 1);
  });

  test("concurrent setOverride of one identifier keeps one override", async () => {
    const name = uniq("race");
    const nsId = await namespace(name);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => kg.post("ratelimits.setOverride", { namespaceName: name, identifier: "hot", limit: i + 1, duration: 1000 }, s.rootKey)),
    );
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(200), results.map((r) => r.text).join("\n"));
    const rows = await kg.rows("SELECT id FROM ratelimit_overrides WHERE namespace_id = ?", nsId);
    assert.equal(rows.length, 1);
    assert.ok(results.every((r) => r.body.overrideId === rows[0].id));
  });

  test("a namespace is required and must exist in the workspace", async () => {
    const reader = await kg.rootKey(s.workspaceId, ["ratelimit.*.read_override"]);
    const need = "You must provide a namespaceId or a namespaceName";
    expectError(assert, await kg.post("ratelimits.setOverride", { identifier: "abc", limit: 1, duration: 1000 }, s.rootKey), 400, "BAD_REQUEST", need);
    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceName: "", identifier: "abc", limit: 1, duration: 1000 }, s.rootKey), 400, "BAD_REQUEST", need);
    expectError(assert, await kg.get("ratelimits.getOverride", { identifier: "abc" }, reader), 400, "BAD_REQUEST", need);
    expectError(assert, await kg.post("ratelimits.deleteOverride", { identifier: "abc" }, s.rootKey), 400, "BAD_REQUEST", need);
    expectError(assert, await kg.get("ratelimits.listOverrides", {}, s.rootKey), 400, "BAD_REQUEST", need);

    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceName: "nope", identifier: "abc", limit: 1, duration: 1000 }, s.rootKey), 404, "NOT_FOUND", "Namespace nope not found");
    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceId: "rlns_nope", identifier: "abc", limit: 1, duration: 1000 }, s.rootKey), 404, "NOT_FOUND", "Namespace rlns_nope not found");
    expectError(assert, await kg.get("ratelimits.getOverride", { namespaceName: "nope", identifier: "abc" }, reader), 404, "NOT_FOUND", "Namespace nope not found");
    expectError(assert, await kg.post("ratelimits.deleteOverride", { namespaceId: "rlns_nope", identifier: "abc" }, s.rootKey), 404, "NOT_FOUND", "Namespace rlns_nope not found");
    expectError(assert, await kg.get("ratelimits.listOverrides", { namespaceName: "nope" }, s.rootKey), 404, "NOT_FOUND", "Namespace nope not found");

    // another workspace's namespace (by id) and its overrides are not found
    const other = await kg.setup();
    const otherName = uniq("theirs");
    await ok(kg.post("ratelimits.limit", { namespace: otherName, identifier: "x", limit: 1, duration: 1000 }, other.rootKey));
    const theirs = (await kg.row("SELECT id FROM ratelimit_namespaces WHERE name = ?", otherName)).id;
    const theirOverride = await setOverride({ namespaceId: theirs, identifier: "victim", limit: 9, duration: 1000 }, other.rootKey);
    const before = await overrideRows();
    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceId: theirs, identifier: "victim", limit: 1, duration: 1000 }, s.rootKey), 404, "NOT_FOUND", `Namespace ${theirs} not found`);
    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceName: otherName, identifier: "victim", limit: 1, duration: 1000 }, s.rootKey), 404, "NOT_FOUND", `Namespace ${otherName} not found`);
    expectError(assert, await kg.get("ratelimits.getOverride", { namespaceId: theirs, identifier: "victim" }, reader), 404, "NOT_FOUND");
    expectError(assert, await kg.get("ratelimits.listOverrides", { namespaceId: theirs }, s.rootKey), 404, "NOT_FOUND");
    expectError(assert, await kg.post("ratelimits.deleteOverride", { namespaceId: theirs, identifier: "victim" }, s.rootKey), 404, "NOT_FOUND");
    assert.equal(await overrideRows(), before);
    assert.deepEqual(await kg.row("SELECT \"limit\", deleted_at_m FROM ratelimit_overrides WHERE id = ?", theirOverride), { limit: 9, deleted_at_m: null });
  });

  test("bad input is a 400 naming the field and writes nothing", async () => {
    const name = uniq("bad-input");
    await namespace(name);
    const before = await overrideRows();
    const bad = async (body, message) =>
      expectError(assert, await kg.post("ratelimits.setOverride", { namespaceName: name, identifier: "abc", limit: 1, duration: 1000, ...body }, s.rootKey), 400, "BAD_REQUEST", message);
    await bad({ identifier: "ab" }, "identifier: String must contain at least 3 character(s)");
    await bad({ limit: -1 }, "limit: Number must be greater than or equal to 0");
    await bad({ duration: 999 }, "duration: Number must be greater than or equal to 1000");
    await bad({ duration: "1000" }, "duration: Expected number, received string");
    await bad({ identifier: undefined }, "identifier: Required");
    expectError(assert, await kg.get("ratelimits.listOverrides", { namespaceName: name, limit: 101 }, s.rootKey), 400, "BAD_REQUEST", "limit: Number must be less than or equal to 100");
    expectError(assert, await kg.get("ratelimits.listOverrides", { namespaceName: name, limit: 0 }, s.rootKey), 400, "BAD_REQUEST", "limit: Number must be greater than or equal to 1");
    const reader = await kg.rootKey(s.workspaceId, ["ratelimit.*.read_override"]);
    expectError(assert, await kg.get("ratelimits.getOverride", { namespaceName: name }, reader), 400, "BAD_REQUEST", "identifier: Required");
    assert.equal(await overrideRows(), before);
  });

  test("permission quirks of the override routes", async () => {
    const name = uniq("quirks");
    const nsId = await namespace(name);
    await setOverride({ namespaceName: name, identifier: "someone", limit: 1, duration: 1000 });
    // upstream's getOverride query left "*" out; keygate's "*" grants every action (decisions.md §2)
    const got = await kg.get("ratelimits.getOverride", { namespaceId: nsId, identifier: "someone" }, s.rootKey);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.identifier, "someone");
    // listOverrides does
    assert.equal((await kg.get("ratelimits.listOverrides", { namespaceId: nsId }, s.rootKey)).status, 200);
    const ws = s.workspaceId;
    const reader = await kg.rootKey(ws, ["ratelimit.*.read_override"]);
    const setter = await kg.rootKey(ws, ["ratelimit.*.set_override"]);
    const deleter = await kg.rootKey(ws, ["ratelimit.*.delete_override"]);
    assert.equal((await kg.get("ratelimits.listOverrides", { namespaceId: nsId }, reader)).status, 200);
    expectError(assert, await kg.get("ratelimits.listOverrides", { namespaceId: nsId }, setter), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"ratelimit.*.read_override"'], have: ['"ratelimit.*.set_override"']`);
    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceId: nsId, identifier: "someone", limit: 2, duration: 1000 }, reader), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"ratelimit.*.set_override"'], have: ['"ratelimit.*.read_override"']`);
    expectError(assert, await kg.post("ratelimits.deleteOverride", { namespaceId: nsId, identifier: "someone" }, setter), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"ratelimit.*.delete_override"'], have: ['"ratelimit.*.set_override"']`);
    // a namespace-specific permission is not enough for overrides
    const nsScoped = await kg.rootKey(ws, [`ratelimit.${nsId}.set_override`]);
    expectError(assert, await kg.post("ratelimits.setOverride", { namespaceId: nsId, identifier: "someone", limit: 2, duration: 1000 }, nsScoped), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await kg.row("SELECT \"limit\" FROM ratelimit_overrides WHERE namespace_id = ? AND identifier = 'someone'", nsId)).limit, 1);
    assert.equal((await kg.post("ratelimits.setOverride", { namespaceId: nsId, identifier: "someone", limit: 2, duration: 1000 }, setter)).status, 200);
    assert.equal((await kg.post("ratelimits.deleteOverride", { namespaceId: nsId, identifier: "someone" }, deleter)).status, 200);
  });

  test("listOverrides pages by cursor", async () => {
    const name = uniq("paging");
    const nsId = await namespace(name);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await setOverride({ namespaceName: name, identifier: `page_${i}`, limit: i, duration: 1000 }));
    // a deleted one is neither listed nor counted
    const deleted = await setOverride({ namespaceName: name, identifier: "page_deleted", limit: 1, duration: 1000 });
    await ok(kg.post("ratelimits.deleteOverride", { namespaceName: name, identifier: "page_deleted" }, s.rootKey));
    const unkey = kg.sdk(s.rootKey);
    const seen = [];
    let cursor;
    const sizes = [];
    for (;;) {
      const page = (await unkey.ratelimits.listOverrides({ namespaceId: nsId, limit: 2, cursor })).result;
      assert.equal(page.total, 5);
      sizes.push(page.overrides.length);
      if (page.overrides.length === 0) {
        assert.equal(page.cursor, undefined);
        break;
      }
      assert.equal(page.cursor, page.overrides.at(-1).id);
      seen.push(...page.overrides);
      cursor = page.cursor;
    }
    assert.deepEqual(sizes, [2, 2, 1, 0]);
    assert.deepEqual(seen.map((o) => o.id), [...ids].sort());
    assert.ok(!seen.some((o) => o.id === deleted));
    const byId = Object.fromEntries(seen.map((o) => [o.identifier, o]));
    assert.deepEqual(byId.page_3, { id: ids[3], identifier: "page_3", limit: 3, duration: 1000, async: false });
    // the default page holds everything
    assert.equal((await unkey.ratelimits.listOverrides({ namespaceId: nsId })).result.overrides.length, 5);
  });
});

describe("overrides applied by ratelimits.limit", () => {
  test("an exact override beats wildcards, a wildcard beats the request", async () => {
    const name = uniq("precedence");
    await namespace(name);
    await setOverride({ namespaceName: name, identifier: "user_*", limit: 2, duration: 60000 });
    await setOverride({ namespaceName: name, identifier: "user_vip", limit: 5, duration: 60000 });
    const t = midWindow(60000); // the overrides' windows: user_42's three requests in one
    const req = (identifier) => limit({ namespace: name, identifier, limit: 100, duration: 1000 }, s.rootKey, t);
    const vip = await ok(req("user_vip"));
    assert.equal(vip.limit, 5);
    assert.equal(vip.remaining, 4);
    // the override's duration replaces the request's: the window is a minute
    assert.equal(vip.reset % 60000, 0);
    const wild = await ok(req("user_42"));
    assert.deepEqual(pick(wild), { success: true, remaining: 1 });
    assert.equal(wild.limit, 2);
    assert.equal((await ok(req("user_42"))).success, true);
    assert.deepEqual(pick(await ok(req("user_42"))), { success: false, remaining: 0 });
    // no override matches: the request's own limit
    const plain = await ok(req("admin_1"));
    assert.equal(plain.limit, 100);
    assert.equal(plain.remaining, 99);
    // the glob is anchored and literal apart from "*"
    assert.equal((await ok(req("xuser_1"))).limit, 100);
  });

  test("the first matching wildcard (in creation order) wins; limit 0 blocks", async () => {
    const name = uniq("first-wildcard");
    await namespace(name);
    await setOverride({ namespaceName: name, identifier: "*@example.com", limit: 3, duration: 60000 });
    // identifiers have at least 3 characters, so "match everything" is written "***"
    await setOverride({ namespaceName: name, identifier: "***", limit: 0, duration: 60000 });
    const req = (identifier) => limit({ namespace: name, identifier, limit: 100, duration: 1000 });
    assert.equal((await ok(req("a@example.com"))).limit, 3);
    const blocked = await ok(req("anyone"));
    assert.deepEqual({ success: blocked.success, limit: blocked.limit, remaining: blocked.remaining }, { success: false, limit: 0, remaining: 0 });
  });

  test("changed and deleted overrides apply to the next request", async () => {
    const name = uniq("live");
    await namespace(name);
    const t = midWindow(60000); // every request in one window
    const req = () => limit({ namespace: name, identifier: "tenant_1", limit: 100, duration: 60000 }, s.rootKey, t);
    await setOverride({ namespaceName: name, identifier: "tenant_1", limit: 1, duration: 60000 });
    assert.equal((await ok(req())).success, true);
    assert.equal((await ok(req())).success, false);
    // raising the limit keeps the window's count
    await setOverride({ namespaceName: name, identifier: "tenant_1", limit: 3, duration: 60000 });
    assert.deepEqual(pick(await ok(req())), { success: true, remaining: 1 });
    await ok(kg.post("ratelimits.deleteOverride", { namespaceName: name, identifier: "tenant_1" }, s.rootKey));
    const after = await ok(req());
    assert.equal(after.limit, 100);
    assert.equal(after.remaining, 97);
  });

  test("overrides are per namespace", async () => {
    const a = uniq("ns-a");
    const b = uniq("ns-b");
    await namespace(a);
    await namespace(b);
    await setOverride({ namespaceName: a, identifier: "same", limit: 1, duration: 60000 });
    const t = midWindow(60000); // every request in one window
    const inB = await ok(limit({ namespace: b, identifier: "same", limit: 10, duration: 60000 }, s.rootKey, t));
    assert.deepEqual([inB.success, inB.limit, inB.remaining], [true, 10, 9]);
    // ... and so are the counters: the request in b did not count in a
    const inA = await ok(limit({ namespace: a, identifier: "same", limit: 10, duration: 60000 }, s.rootKey, t));
    assert.deepEqual([inA.success, inA.limit, inA.remaining], [true, 1, 0]);
    assert.equal((await ok(limit({ namespace: a, identifier: "same", limit: 10, duration: 60000 }, s.rootKey, t))).success, false);
    assert.equal((await ok(limit({ namespace: b, identifier: "same", limit: 10, duration: 60000 }, s.rootKey, t))).remaining, 8);
  });
});
