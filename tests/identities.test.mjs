import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, uniq } from "./helpers.mjs";

const ALL = ["identity.*.create_identity", "identity.*.read_identity", "identity.*.update_identity", "identity.*.delete_identity"];

// identityAdmin: the workspace of `s` with a root key that holds exactly the four identity permissions
let kg, s, root, identityAdmin;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
  root = await kg.rootKey(s.workspaceId, ALL);
  identityAdmin = { ...s, rootKey: root };
});
after(async () => {
  await kg?.stop();
});

/** Everything an identities route can write, to check that a refused request wrote nothing. */
async function snapshot(workspaceId = s.workspaceId) {
  return {
    identities: await kg.rows("SELECT id, external_id, meta, updated_at FROM identities WHERE workspace_id = ? ORDER BY id", workspaceId),
    ratelimits: await kg.rows('SELECT id, name, "limit", duration, identity_id FROM ratelimits WHERE workspace_id = ? ORDER BY id', workspaceId),
    credits: await kg.rows("SELECT * FROM credits WHERE workspace_id = ? ORDER BY id", workspaceId),
    audit: await kg.count("SELECT COUNT(*) AS n FROM audit_log WHERE workspace_id = ?", workspaceId),
  };
}

/** Talks to the usage limiter of an identity's credits row directly, as verification does. */
async function limiter(creditId, op) {
  const ns = await kg.mf.getDurableObjectNamespace("USAGE_LIMITER", "keygate");
  const stub = ns.get(ns.idFromName(creditId));
  const res = await stub.fetch("https://usage-limiter/", { method: "POST", body: JSON.stringify(op) });
  assert.equal(res.status, 200);
  return res.json();
}
const spend = (creditId, cost = 1) => limiter(creditId, { op: "spend", balance: { kind: "identityCredits", id: creditId }, cost, now: Date.now() });

describe("identities through the SDK", () => {
  test("create, get, list, update and delete", async () => {
    const unkey = kg.sdk(root);
    const externalId = uniq();
    const created = await unkey.identities.create({
      externalId,
      meta: { plan: "pro", seats: 3 },
      ratelimits: [{ name: "tokens", limit: 10, duration: 1000 }, { name: "requests", limit: 100, duration: 60000 }],
    });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    const id = created.result.identityId;
    assert.match(id, /^id_[1-9A-HJ-NP-Za-km-z]+$/);

    const expected = {
      id,
      externalId,
      meta: { plan: "pro", seats: 3 },
      ratelimits: [{ name: "requests", limit: 100, duration: 60000 }, { name: "tokens", limit: 10, duration: 1000 }],
    };
    assert.deepEqual((await unkey.identities.get({ identityId: id })).result, expected);
    assert.deepEqual((await unkey.identities.get({ externalId })).result, expected);

    const listed = await unkey.identities.list({ limit: 100 });
    assert.equal(listed.error, undefined);
    assert.deepEqual(listed.result.identities.find((i) => i.id === id), { id, externalId, ratelimits: expected.ratelimits });
    assert.ok(listed.result.total >= 1);

    const updated = await unkey.identities.update({ identityId: id, meta: { plan: "team" }, ratelimits: [{ name: "tokens", limit: 20, duration: 2000 }] });
    assert.equal(updated.error, undefined, JSON.stringify(updated.error));
    assert.deepEqual(updated.result, { id, externalId, meta: { plan: "team" }, ratelimits: [{ name: "tokens", limit: 20, duration: 2000 }] });
    assert.deepEqual((await unkey.identities.get({ identityId: id })).result, updated.result);

    assert.deepEqual(await unkey.identities.delete({ identityId: id }), { result: {} });
    const gone = await unkey.identities.get({ identityId: id });
    assert.equal(gone.error.code, "NOT_FOUND");
    assert.equal(gone.error.message, `identity ${id} not found`);
  });

  test("create stores the identity, its auto-applied ratelimits and audit rows in D1", async () => {
    const externalId = uniq();
    const id = await kg.createIdentity(identityAdmin, { externalId, meta: { a: 1 }, ratelimits: [{ name: "tokens", limit: 5, duration: 1000 }] });
    const row = await kg.row("SELECT external_id, workspace_id, environment, meta, deleted FROM identities WHERE id = ?", id);
    assert.deepEqual(row, { external_id: externalId, workspace_id: s.workspaceId, environment: "default", meta: '{"a":1}', deleted: 0 });
    const rls = await kg.rows('SELECT id, name, "limit", duration, auto_apply, key_id, workspace_id FROM ratelimits WHERE identity_id = ?', id);
    assert.equal(rls.length, 1);
    assert.match(rls[0].id, /^rl_/);
    assert.deepEqual({ ...rls[0], id: undefined }, { id: undefined, name: "tokens", limit: 5, duration: 1000, auto_apply: 1, key_id: null, workspace_id: s.workspaceId });
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM credits WHERE identity_id = ?", id), 0);
    const audit = await kg.rows(
      "SELECT l.event, l.actor_type, t.type FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? ORDER BY l.event",
      id,
    );
    assert.deepEqual(audit.map((a) => `${a.event}/${a.type}`), ["identity.create/identity", "ratelimit.create/identity"]);
    // meta is {} when none was given
    const bare = await kg.createIdentity(identityAdmin, { externalId: uniq() });
    assert.equal((await kg.row("SELECT meta FROM identities WHERE id = ?", bare)).meta, null);
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: bare }, root)).body.meta, {});
  });
});

describe("createIdentity errors", () => {
  test("bad input is a 400 naming the field and writes nothing", async () => {
    const before = await snapshot();
    const cases = [
      [{}, "externalId: Required"],
      [{ externalId: "ab" }, "externalId: String must contain at least 3 character(s)"],
      [{ externalId: 123 }, "externalId: Expected string, received number"],
      [{ externalId: uniq(), meta: "x" }, "meta: Expected object, received string"],
      [{ externalId: uniq(), ratelimits: [{ name: "a", limit: 0, duration: 1000 }] }, "ratelimits.0.limit: Number must be greater than or equal to 1"],
      [{ externalId: uniq(), ratelimits: [{ name: "a", limit: 1, duration: 1000 }, { name: "b", limit: 1, duration: 999 }] }, "ratelimits.1.duration: Number must be greater than or equal to 1000"],
      [{ externalId: uniq(), ratelimits: [{ name: "", limit: 1, duration: 1000 }] }, "ratelimits.0.name: String must contain at least 1 character(s)"],
      [{ externalId: uniq(), ratelimits: [{ name: "a", limit: 1.5, duration: 1000 }] }, "ratelimits.0.limit: Expected integer, received float"],
      [{ externalId: uniq(), credits: { remaining: -1 } }, "credits.remaining: Number must be greater than or equal to 0"],
      [{ externalId: uniq(), credits: {} }, "credits.remaining: Required"],
      [{ externalId: uniq(), credits: { remaining: 1, refill: { interval: "weekly", amount: 1 } } }, "credits.refill.interval: Invalid enum value. Expected 'daily' | 'monthly', received 'weekly'"],
      [{ externalId: uniq(), credits: { remaining: 1, refill: { interval: "daily", amount: 0 } } }, "credits.refill.amount: Number must be greater than or equal to 1"],
      [{ externalId: uniq(), credits: { remaining: 1, refill: { interval: "monthly", amount: 1, refillDay: 32 } } }, "credits.refill.refillDay: Number must be less than or equal to 31"],
      [{ externalId: uniq(), credits: { remaining: 1, refill: { interval: "daily", amount: 1, refillDay: 3 } } }, "credits.refill.refillDay: when interval is set to 'daily', 'refillDay' must be null."],
    ];
    for (const [body, message] of cases) {
      expectError(assert, await kg.post("identities.createIdentity", body, root), 400, "BAD_REQUEST", message);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test("meta over 64,000 characters of JSON is a 400; exactly 64,000 is fine", async () => {
    const before = await snapshot();
    const big = { a: "x".repeat(64_000 - 7) }; // {"a":"…"} = 64,001 characters
    const r = await kg.post("identities.createIdentity", { externalId: uniq(), meta: big }, root);
    expectError(assert, r, 400, "BAD_REQUEST", "meta: metadata is too large, it must be less than 64k characters when json encoded, got: 64001");
    assert.deepEqual(await snapshot(), before);
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), meta: { a: "x".repeat(64_000 - 8) } });
    assert.equal((await kg.row("SELECT LENGTH(meta) AS n FROM identities WHERE id = ?", id)).n, 64_000);
  });

  test("duplicate externalId is a 409 and writes nothing", async () => {
    const externalId = uniq();
    await kg.createIdentity(identityAdmin, { externalId });
    const before = await snapshot();
    const r = await kg.post("identities.createIdentity", { externalId, ratelimits: [{ name: "a", limit: 1, duration: 1000 }], credits: { remaining: 5 } }, root);
    expectError(assert, r, 409, "CONFLICT", `Identity with externalId "${externalId}" already exists in this workspace`);
    assert.deepEqual(await snapshot(), before);
    // another workspace may use the same externalId
    const other = await kg.setup();
    assert.equal((await kg.post("identities.createIdentity", { externalId }, other.rootKey)).status, 200);
  });

  test("concurrent creates of one externalId: exactly one wins", async () => {
    const externalId = uniq("race");
    const results = await Promise.all(Array.from({ length: 10 }, () => kg.post("identities.createIdentity", { externalId, credits: { remaining: 1 } }, root)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, ...Array(9).fill(409)]);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM identities WHERE external_id = ?", externalId), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM credits c JOIN identities i ON i.id = c.identity_id WHERE i.external_id = ?", externalId), 1);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM credits WHERE identity_id IS NOT NULL AND identity_id NOT IN (SELECT id FROM identities)"), 0);
  });

  test("duplicate ratelimit names in the request are a 409 and write nothing", async () => {
    const before = await snapshot();
    const r = await kg.post("identities.createIdentity", { externalId: uniq(), ratelimits: [{ name: "a", limit: 1, duration: 1000 }, { name: "a", limit: 2, duration: 1000 }] }, root);
    expectError(assert, r, 409, "CONFLICT", 'Ratelimit with name "a" is already defined in the request');
    assert.deepEqual(await snapshot(), before);
  });
});

describe("getIdentity", () => {
  test("errors", async () => {
    expectError(assert, await kg.get("identities.getIdentity", {}, root), 400, "BAD_REQUEST", "Provide either identityId or externalId");
    // checked before authentication, as upstream
    expectError(assert, await kg.get("identities.getIdentity", {}), 400, "BAD_REQUEST", "Provide either identityId or externalId");
    expectError(assert, await kg.get("identities.getIdentity", { identityId: "id_nope" }, root), 404, "NOT_FOUND", "identity id_nope not found");
    expectError(assert, await kg.get("identities.getIdentity", { externalId: "nope_nope" }, root), 404, "NOT_FOUND", "identity nope_nope not found");
    expectError(assert, await kg.get("identities.getIdentity", { identityId: "" }, root), 400, "BAD_REQUEST", "identityId: String must contain at least 1 character(s)");
  });

  test("identityId wins over externalId; externalId is looked up in an environment", async () => {
    const a = uniq();
    const b = uniq();
    const idA = await kg.createIdentity(identityAdmin, { externalId: a });
    await kg.createIdentity(identityAdmin, { externalId: b });
    assert.equal((await kg.get("identities.getIdentity", { identityId: idA, externalId: b }, root)).body.externalId, a);
    assert.equal((await kg.get("identities.getIdentity", { externalId: a, environment: "default" }, root)).body.id, idA);
    expectError(assert, await kg.get("identities.getIdentity", { externalId: a, environment: "prod" }, root), 404, "NOT_FOUND", `identity ${a} not found`);
  });
});

describe("permissions (upstream's queries, exact names)", () => {
  test("a '*' root key may do everything (upstream left '*' out of get, update and delete)", async () => {
    const star = s.rootKey;
    const externalId = uniq();
    const id = await kg.createIdentity({ rootKey: star }, { externalId });
    assert.equal((await kg.get("identities.listIdentities", {}, star)).status, 200);
    assert.equal((await kg.get("identities.getIdentity", { identityId: id }, star)).status, 200);
    assert.equal((await kg.get("identities.getIdentity", { externalId }, star)).status, 200);
    assert.equal((await kg.post("identities.updateIdentity", { identityId: id, meta: { x: 1 } }, star)).status, 200);
    assert.equal((await kg.post("identities.deleteIdentity", { identityId: id }, star)).status, 200);
  });

  test("get, update and delete name the permissions they need", async () => {
    const none = await kg.rootKey(s.workspaceId, ["api.*.read_api"]);
    const externalId = uniq();
    const id = await kg.createIdentity(identityAdmin, { externalId });
    const have = `have: ['"api.*.read_api"']`;
    expectError(assert, await kg.get("identities.getIdentity", { identityId: id }, none), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"identity.*.read_identity"', '"identity.${id}.read_identity"'], ${have}`);
    expectError(assert, await kg.get("identities.getIdentity", { externalId }, none), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"identity.*.read_identity"'], ${have}`);
    const before = await snapshot();
    expectError(assert, await kg.post("identities.updateIdentity", { identityId: id, meta: { x: 1 } }, none), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"identity.*.update_identity"'], ${have}`);
    expectError(assert, await kg.post("identities.deleteIdentity", { identityId: id }, none), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"identity.*.delete_identity"', '"identity.${id}.delete_identity"'], ${have}`);
    assert.deepEqual(await snapshot(), before);
  });

  test("create and list need their permission", async () => {
    const none = await kg.rootKey(s.workspaceId, ["api.*.read_api"]);
    const before = await snapshot();
    expectError(assert, await kg.post("identities.createIdentity", { externalId: uniq() }, none), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"identity.*.create_identity"'], have: ['"api.*.read_api"']`);
    assert.deepEqual(await snapshot(), before);
    expectError(assert, await kg.get("identities.listIdentities", { environment: "prod" }, none), 403, "INSUFFICIENT_PERMISSIONS",
      `Missing one of these permissions: ['"*"', '"identity.*.read_identity"', '"identity.prod.read_identity"'], have: ['"api.*.read_api"']`);
    expectError(assert, await kg.get("identities.getIdentity", { identityId: "id_x" }), 403, "UNAUTHORIZED", "key required");
  });

  test("per-identity and per-environment permissions", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq() });
    const other = await kg.createIdentity(identityAdmin, { externalId: uniq() });
    const reader = await kg.rootKey(s.workspaceId, [`identity.${id}.read_identity`]);
    assert.equal((await kg.get("identities.getIdentity", { identityId: id }, reader)).status, 200);
    expectError(assert, await kg.get("identities.getIdentity", { identityId: other }, reader), 403, "INSUFFICIENT_PERMISSIONS");
    const envReader = await kg.rootKey(s.workspaceId, ["identity.default.read_identity"]);
    assert.equal((await kg.get("identities.listIdentities", {}, envReader)).status, 200);
    expectError(assert, await kg.get("identities.listIdentities", { environment: "prod" }, envReader), 403, "INSUFFICIENT_PERMISSIONS");
    const deleter = await kg.rootKey(s.workspaceId, [`identity.${id}.delete_identity`]);
    expectError(assert, await kg.post("identities.deleteIdentity", { identityId: other }, deleter), 403, "INSUFFICIENT_PERMISSIONS");
    assert.equal((await kg.post("identities.deleteIdentity", { identityId: id }, deleter)).status, 200);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM identities WHERE id = ?", id), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM identities WHERE id = ?", other), 1);
    // update has no per-identity permission upstream
    const updater = await kg.rootKey(s.workspaceId, [`identity.${other}.update_identity`]);
    expectError(assert, await kg.post("identities.updateIdentity", { identityId: other, meta: {} }, updater), 403, "INSUFFICIENT_PERMISSIONS");
  });
});

describe("workspace scoping", () => {
  test("another workspace's identity is a 404 everywhere and stays untouched", async () => {
    const other = await kg.setup();
    const otherRoot = await kg.rootKey(other.workspaceId, ALL);
    const externalId = uniq("foreign");
    const id = await kg.createIdentity({ rootKey: otherRoot }, { externalId, meta: { mine: true }, ratelimits: [{ name: "a", limit: 1, duration: 1000 }], credits: { remaining: 3 } });
    const before = await snapshot(other.workspaceId);
    expectError(assert, await kg.get("identities.getIdentity", { identityId: id }, root), 404, "NOT_FOUND", `identity ${id} not found`);
    expectError(assert, await kg.get("identities.getIdentity", { externalId }, root), 404, "NOT_FOUND", `identity ${externalId} not found`);
    expectError(assert, await kg.post("identities.updateIdentity", { identityId: id, meta: null, ratelimits: [], credits: null }, root), 404, "NOT_FOUND", `identity ${id} not found`);
    expectError(assert, await kg.post("identities.updateIdentity", { externalId, meta: null }, root), 404, "NOT_FOUND", `identity ${externalId} not found`);
    expectError(assert, await kg.post("identities.deleteIdentity", { identityId: id }, root), 404, "NOT_FOUND", `identity ${id} not found`);
    const listed = await kg.get("identities.listIdentities", {}, root);
    assert.equal(listed.body.identities.some((i) => i.id === id), false);
    assert.equal(listed.body.total, await kg.count("SELECT COUNT(*) AS n FROM identities WHERE workspace_id = ?", s.workspaceId));
    assert.deepEqual(await snapshot(other.workspaceId), before);
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: id }, otherRoot)).body.meta, { mine: true });
  });
});

describe("listIdentities", () => {
  test("cursor paging returns every identity exactly once, in id order", async () => {
    const ws = await kg.setup();
    const key = await kg.rootKey(ws.workspaceId, ALL);
    const unkey = kg.sdk(key);
    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push(await kg.createIdentity({ rootKey: key }, { externalId: uniq("page"), ratelimits: [{ name: `rl${i}`, limit: i + 1, duration: 1000 }], ...(i % 2 ? { credits: { remaining: i } } : {}) }));
    }
    const seen = [];
    const sizes = [];
    let cursor;
    for (let page = 0; page < 10; page++) {
      const r = await unkey.identities.list({ limit: 2, ...(cursor ? { cursor } : {}) });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.result.total, 5);
      sizes.push(r.result.identities.length);
      if (r.result.identities.length === 0) {
        assert.equal(r.result.cursor, undefined);
        break;
      }
      assert.equal(r.result.cursor, r.result.identities.at(-1).id);
      seen.push(...r.result.identities);
      cursor = r.result.cursor;
    }
    assert.deepEqual(sizes, [2, 2, 1, 0]);
    assert.deepEqual(seen.map((i) => i.id), [...created].sort());
    assert.equal(new Set(seen.map((i) => i.id)).size, 5);
    for (const i of seen) {
      const n = created.indexOf(i.id);
      assert.deepEqual(i.ratelimits, [{ name: `rl${n}`, limit: n + 1, duration: 1000 }]);
      if (n % 2) assert.deepEqual(i.credits, { remaining: n });
      else assert.equal("credits" in i, false);
    }
  });

  test("environment filter, default limit and bad input", async () => {
    const ws = await kg.setup();
    const key = await kg.rootKey(ws.workspaceId, ALL);
    await kg.createIdentity({ rootKey: key }, { externalId: uniq() });
    const prod = await kg.get("identities.listIdentities", { environment: "prod" }, key);
    assert.deepEqual(prod.body, { identities: [], total: 0 });
    const all = await kg.get("identities.listIdentities", {}, key);
    assert.equal(all.body.identities.length, 1);
    assert.equal(all.body.total, 1);
    expectError(assert, await kg.get("identities.listIdentities", { limit: 0 }, key), 400, "BAD_REQUEST", "limit: Number must be greater than or equal to 1");
    expectError(assert, await kg.get("identities.listIdentities", { limit: 101 }, key), 400, "BAD_REQUEST", "limit: Number must be less than or equal to 100");
    expectError(assert, await kg.get("identities.listIdentities", { limit: "x" }, key), 400, "BAD_REQUEST", "limit: Expected number, received string");
  });
});

describe("updateIdentity", () => {
  test("errors: no target, unknown target, bad input", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), meta: { keep: 1 }, ratelimits: [{ name: "a", limit: 1, duration: 1000 }] });
    const before = await snapshot();
    expectError(assert, await kg.post("identities.updateIdentity", { meta: {} }, root), 400, "BAD_REQUEST", "Provide either identityId or externalId");
    expectError(assert, await kg.post("identities.updateIdentity", { identityId: "id_nope", meta: {} }, root), 404, "NOT_FOUND", "identity id_nope not found");
    expectError(assert, await kg.post("identities.updateIdentity", { externalId: "nobody_here", meta: {} }, root), 404, "NOT_FOUND", "identity nobody_here not found");
    const bad = [
      [{ identityId: id, meta: [] }, "meta: Expected object, received array"],
      [{ identityId: id, ratelimits: [{ name: "a", limit: 1, duration: 10 }] }, "ratelimits.0.duration: Number must be greater than or equal to 1000"],
      [{ identityId: id, ratelimits: [{ name: "a", limit: 1 }] }, "ratelimits.0.duration: Required"],
      [{ identityId: id, credits: { remaining: -5 } }, "credits.remaining: Number must be greater than or equal to 0"],
      [{ identityId: id, credits: { remaining: 5, refill: { interval: "daily", amount: 5, refillDay: 1 } } }, "credits.refill.refillDay: when interval is set to 'daily', 'refillDay' must be null."],
      [{ identityId: id, meta: { a: "x".repeat(64_000) } }, "meta: metadata is too large, it must be less than 64k characters when json encoded, got: 64008"],
    ];
    for (const [body, message] of bad) {
      expectError(assert, await kg.post("identities.updateIdentity", body, root), 400, "BAD_REQUEST", message);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test("duplicate ratelimit names are a 409 and nothing is written", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), meta: { keep: 1 }, ratelimits: [{ name: "a", limit: 1, duration: 1000 }] });
    const before = await snapshot();
    const r = await kg.post("identities.updateIdentity", {
      identityId: id,
      meta: { changed: true },
      credits: { remaining: 10 },
      ratelimits: [{ name: "b", limit: 1, duration: 1000 }, { name: "b", limit: 2, duration: 2000 }],
    }, root);
    expectError(assert, r, 409, "CONFLICT", 'Ratelimit with name "b" is already defined in the request');
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: id }, root)).body.meta, { keep: 1 });
  });

  test("meta: absent keeps, null clears, object replaces", async () => {
    const externalId = uniq();
    const id = await kg.createIdentity(identityAdmin, { externalId, meta: { a: 1 } });
    const kept = await kg.post("identities.updateIdentity", { identityId: id }, root);
    assert.deepEqual(kept.body, { id, externalId, meta: { a: 1 }, ratelimits: [] });
    const replaced = await kg.post("identities.updateIdentity", { externalId, meta: { b: 2 } }, root);
    assert.deepEqual(replaced.body.meta, { b: 2 });
    assert.equal((await kg.row("SELECT meta FROM identities WHERE id = ?", id)).meta, '{"b":2}');
    const cleared = await kg.post("identities.updateIdentity", { identityId: id, meta: null }, root);
    assert.deepEqual(cleared.body.meta, {});
    assert.equal((await kg.row("SELECT meta FROM identities WHERE id = ?", id)).meta, null);
    assert.ok((await kg.row("SELECT updated_at FROM identities WHERE id = ?", id)).updated_at > 0);
    // by externalId in another environment: not found
    expectError(assert, await kg.post("identities.updateIdentity", { externalId, environment: "prod", meta: {} }, root), 404, "NOT_FOUND", `identity ${externalId} not found`);
    const audit = await kg.count("SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND l.event = 'identity.update'", id);
    assert.equal(audit, 3);
  });

  test("ratelimits replace the whole set; same names keep their row", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), ratelimits: [{ name: "a", limit: 1, duration: 1000 }, { name: "b", limit: 2, duration: 2000 }] });
    const idOf = async (name) => (await kg.row("SELECT id FROM ratelimits WHERE identity_id = ? AND name = ?", id, name))?.id;
    const bId = await idOf("b");
    const r = await kg.post("identities.updateIdentity", { identityId: id, ratelimits: [{ name: "b", limit: 20, duration: 20000 }, { name: "c", limit: 3, duration: 3000 }] }, root);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.ratelimits, [{ name: "b", limit: 20, duration: 20000 }, { name: "c", limit: 3, duration: 3000 }]);
    assert.equal(await idOf("a"), undefined);
    assert.equal(await idOf("b"), bId);
    const c = await kg.row("SELECT auto_apply, workspace_id FROM ratelimits WHERE identity_id = ? AND name = 'c'", id);
    assert.deepEqual(c, { auto_apply: 1, workspace_id: s.workspaceId });
    // absent keeps them, [] removes them all
    assert.equal((await kg.post("identities.updateIdentity", { identityId: id, meta: {} }, root)).body.ratelimits.length, 2);
    const emptied = await kg.post("identities.updateIdentity", { identityId: id, ratelimits: [] }, root);
    assert.deepEqual(emptied.body.ratelimits, []);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimits WHERE identity_id = ?", id), 0);
    const events = await kg.rows(
      "SELECT l.event FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND t.type = 'identity' AND l.event LIKE 'ratelimit.%' ORDER BY l.event",
      id,
    );
    assert.deepEqual(events.map((e) => e.event), ["ratelimit.create", "ratelimit.create", "ratelimit.create", "ratelimit.delete", "ratelimit.delete", "ratelimit.delete", "ratelimit.update"]);
  });
});

describe("identity credits", () => {
  const creditsRow = (id) => kg.row("SELECT id, workspace_id, key_id, identity_id, remaining, refill_amount, refill_day, refilled_at FROM credits WHERE identity_id = ?", id);

  test("created with the identity, stored as an identity row, returned by get and list", async () => {
    const t0 = Date.now();
    const externalId = uniq();
    const id = await kg.createIdentity(identityAdmin, { externalId, credits: { remaining: 100, refill: { interval: "daily", amount: 50 } } });
    const row = await creditsRow(id);
    assert.match(row.id, /^cr_/);
    assert.deepEqual({ ...row, id: undefined, refilled_at: undefined },
      { id: undefined, refilled_at: undefined, workspace_id: s.workspaceId, key_id: null, identity_id: id, remaining: 100, refill_amount: 50, refill_day: null });
    assert.ok(row.refilled_at >= t0 && row.refilled_at <= Date.now());
    const credits = { remaining: 100, refill: { interval: "daily", amount: 50, refillDay: null, lastRefillAt: row.refilled_at } };
    assert.deepEqual((await kg.sdk(root).identities.get({ identityId: id })).result, { id, externalId, meta: {}, ratelimits: [], credits });
    const listed = (await kg.get("identities.listIdentities", {}, root)).body.identities.find((i) => i.id === id);
    assert.deepEqual(listed, { id, externalId, ratelimits: [], credits });

    // monthly without refillDay refills on the 1st; no refill means no refilledAt
    const monthly = await kg.createIdentity(identityAdmin, { externalId: uniq(), credits: { remaining: 0, refill: { interval: "monthly", amount: 10 } } });
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: monthly }, root)).body.credits.refill.refillDay, 1);
    assert.equal((await creditsRow(monthly)).refill_day, 1);
    const plain = await kg.createIdentity(identityAdmin, { externalId: uniq(), credits: { remaining: 7, refill: null } });
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: plain }, root)).body.credits, { remaining: 7 });
    assert.deepEqual({ ...(await creditsRow(plain)), id: undefined },
      { id: undefined, workspace_id: s.workspaceId, key_id: null, identity_id: plain, remaining: 7, refill_amount: null, refill_day: null, refilled_at: null });
  });

  test("update sets the balance (read back at once), changes or keeps the refill, and removes the credits", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), credits: { remaining: 100, refill: { interval: "daily", amount: 50 } } });
    const first = await creditsRow(id);

    // balance only: the refill schedule stays as it was
    const r1 = await kg.sdk(root).identities.update({ identityId: id, credits: { remaining: 7 } });
    assert.equal(r1.error, undefined, JSON.stringify(r1.error));
    assert.deepEqual(r1.result.credits, { remaining: 7, refill: { interval: "daily", amount: 50, refillDay: null, lastRefillAt: first.refilled_at } });
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: id }, root)).body.credits, r1.result.credits);
    assert.deepEqual(await creditsRow(id), { ...first, remaining: 7 });

    // a new schedule restarts now
    const t0 = Date.now();
    const r2 = await kg.post("identities.updateIdentity", { identityId: id, credits: { remaining: 8, refill: { interval: "monthly", amount: 20, refillDay: 15 } } }, root);
    assert.equal(r2.status, 200, r2.text);
    const second = await creditsRow(id);
    assert.equal(second.id, first.id);
    assert.deepEqual([second.remaining, second.refill_amount, second.refill_day], [8, 20, 15]);
    assert.ok(second.refilled_at >= t0);
    assert.deepEqual(r2.body.credits, { remaining: 8, refill: { interval: "monthly", amount: 20, refillDay: 15, lastRefillAt: second.refilled_at } });
    assert.deepEqual((await kg.get("identities.getIdentity", { identityId: id }, root)).body.credits, r2.body.credits);

    // refill: null drops the schedule, keeps the balance row
    const r3 = await kg.post("identities.updateIdentity", { identityId: id, credits: { remaining: 9, refill: null } }, root);
    assert.deepEqual(r3.body.credits, { remaining: 9 });
    assert.deepEqual(await creditsRow(id), { ...second, remaining: 9, refill_amount: null, refill_day: null, refilled_at: null });

    // credits: null removes them (unlimited)
    const r4 = await kg.post("identities.updateIdentity", { identityId: id, credits: null }, root);
    assert.equal(r4.status, 200, r4.text);
    assert.equal("credits" in r4.body, false);
    assert.equal(await creditsRow(id), null);
    assert.equal("credits" in (await kg.get("identities.getIdentity", { identityId: id }, root)).body, false);
    // removing again is a no-op
    assert.equal((await kg.post("identities.updateIdentity", { identityId: id, credits: null }, root)).status, 200);

    // credits on an identity without any create a new row
    const r5 = await kg.post("identities.updateIdentity", { identityId: id, credits: { remaining: 3, refill: { interval: "daily", amount: 3 } } }, root);
    const third = await creditsRow(id);
    assert.notEqual(third.id, first.id);
    assert.deepEqual(r5.body.credits, { remaining: 3, refill: { interval: "daily", amount: 3, refillDay: null, lastRefillAt: third.refilled_at } });
  });

  test("the usage limiter sees every balance change at once", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), credits: { remaining: 1 } });
    const creditId = (await creditsRow(id)).id;
    assert.deepEqual(await spend(creditId), { exists: true, valid: true, remaining: 0 });
    // the limiter now holds a balance of 0 and would refuse without reading D1
    assert.deepEqual(await spend(creditId), { exists: true, valid: false, remaining: 0 });
    await kg.post("identities.updateIdentity", { identityId: id, credits: { remaining: 5 } }, root);
    assert.deepEqual(await spend(creditId, 2), { exists: true, valid: true, remaining: 3 });
    assert.equal((await creditsRow(id)).remaining, 3);
    assert.equal((await kg.get("identities.getIdentity", { identityId: id }, root)).body.credits.remaining, 3);
    await kg.post("identities.updateIdentity", { identityId: id, credits: { remaining: 0 } }, root);
    assert.deepEqual(await spend(creditId), { exists: true, valid: false, remaining: 0 });
    // removed credits: the limiter knows the balance is gone
    await kg.post("identities.updateIdentity", { identityId: id, credits: null }, root);
    assert.equal((await spend(creditId)).exists, false);
  });

  test("concurrent spends and a balance update: no credit is lost or double-spent", async () => {
    const id = await kg.createIdentity(identityAdmin, { externalId: uniq(), credits: { remaining: 1000 } });
    const creditId = (await creditsRow(id)).id;
    const spends = Array.from({ length: 30 }, () => spend(creditId));
    const update = kg.post("identities.updateIdentity", { identityId: id, credits: { remaining: 500 } }, root);
    const [u, ...replies] = await Promise.all([update, ...spends]);
    assert.equal(u.status, 200, u.text);
    assert.ok(replies.every((r) => r.valid));
    // every spend was serialised either before the set (and overwritten) or after it
    const after = replies.filter((r) => r.remaining < 500).length;
    assert.equal((await creditsRow(id)).remaining, 500 - after);
    assert.equal((await spend(creditId, 0)).remaining, 500 - after);
  });

  test("deleteIdentity removes ratelimits and credits and detaches its keys", async () => {
    const externalId = uniq();
    const id = await kg.createIdentity(identityAdmin, { externalId, ratelimits: [{ name: "a", limit: 1, duration: 1000 }], credits: { remaining: 0 } });
    const creditId = (await creditsRow(id)).id;
    assert.deepEqual(await spend(creditId), { exists: true, valid: false, remaining: 0 });
    await kg.db.prepare(
      "INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, identity_id, created_at_m) SELECT ?, key_auth_id, ?, 'x', workspace_id, ?, 0 FROM apis WHERE id = ?",
    ).bind(`key_${id}`, `h_${id}`, id, s.apiId).run();
    expectError(assert, await kg.post("identities.deleteIdentity", { identityId: "id_nope" }, root), 404, "NOT_FOUND", "identity id_nope not found");
    expectError(assert, await kg.post("identities.deleteIdentity", {}, root), 400, "BAD_REQUEST", "identityId: Required");
    const r = await kg.post("identities.deleteIdentity", { identityId: id }, root);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM identities WHERE id = ?", id), 0);
    assert.equal(await kg.count("SELECT COUNT(*) AS n FROM ratelimits WHERE identity_id = ?", id), 0);
    assert.equal(await creditsRow(id), null);
    const key = await kg.row("SELECT identity_id, deleted_at_m, updated_at_m FROM keys WHERE id = ?", `key_${id}`);
    assert.equal(key.identity_id, null);
    assert.equal(key.deleted_at_m, null);
    assert.ok(key.updated_at_m > 0);
    // the limiter forgot the balance
    assert.equal((await spend(creditId)).exists, false);
    expectError(assert, await kg.post("identities.deleteIdentity", { identityId: id }, root), 404, "NOT_FOUND", `identity ${id} not found`);
    const events = await kg.rows("SELECT l.event FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.id = ? AND t.type = 'identity' ORDER BY l.event", id);
    assert.deepEqual(events.map((e) => e.event), ["identity.create", "identity.delete", "ratelimit.create", "ratelimit.delete"]);
    // the externalId is free again
    assert.equal((await kg.post("identities.createIdentity", { externalId }, root)).status, 200);
  });
});
