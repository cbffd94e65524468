// v2 keys.* through the stock @unkey/api 2.5.1 SDK: createKey, getKey, whoami, updateKey,
// updateCredits, deleteKey, rerollKey, add/remove/set permissions and roles, migrateKeys.
// (keys.verifyKey has its own file, tests/v2-verify.test.mjs.) Contract: shared/spec/v2-api.md
// §2–§4.10 and shared/spec/decisions.md §5 (which wins).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { startKeygate } from "./helpers.mjs";
import { sdk, v2, expectV2Error, sdkError, errors, workspaceV2 } from "./v2-helpers.mjs";

let kg;
before(async () => {
  kg = await startKeygate({ bindings: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
});
after(async () => {
  await kg?.stop();
});

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("base64");
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;

async function verify(ctx, key, body = {}) {
  return (await sdk(kg, ctx.admin).keys.verifyKey({ key, ...body })).data;
}

describe("keys.createKey", () => {
  test("v2 key material: prefix_ + base58 of the random bytes, start = prefix_ + 4", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const res = await unkey.keys.createKey({ apiId: ctx.apiId, prefix: "sk_live", byteLength: 24 });
    assert.match(res.meta.requestId, /^req_/);
    const { keyId, key } = res.data;
    assert.match(keyId, /^key_/);
    assert.ok(key.startsWith("sk_live_"));
    const body = key.slice("sk_live_".length);
    assert.match(body, BASE58);
    const row = await kg.row("SELECT hash, start FROM keys WHERE id = ?", keyId);
    assert.equal(row.hash, sha256(key));
    assert.equal(row.start, `sk_live_${body.slice(0, 4)}`);
    // the default prefix of the api applies (and shows in start)
    await kg.admin("updateApi", { apiId: ctx.apiId, defaultPrefix: "acme" });
    const d = (await unkey.keys.createKey({ apiId: ctx.apiId })).data;
    assert.ok(d.key.startsWith("acme_"));
    assert.equal((await unkey.keys.getKey({ keyId: d.keyId })).data.start, `acme_${d.key.slice(5, 9)}`);
  });

  test("every field round-trips through getKey", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createRole({ name: "admin", permissions: ["docs.read"] });
    const { data } = await unkey.keys.createKey({
      apiId: ctx.apiId,
      name: "alice's key",
      externalId: "alice",
      meta: { plan: "pro" },
      roles: ["admin"],
      permissions: ["docs.write", "docs.write"],
      expires: Date.now() + 3_600_000,
      credits: { remaining: 100, refill: { interval: "monthly", amount: 100, refillDay: 15 } },
      ratelimits: [
        { name: "requests", limit: 10, duration: 1000, autoApply: true },
        { name: "tokens", limit: 500, duration: 60_000, autoApply: false },
      ],
      enabled: true,
    });
    const k = (await unkey.keys.getKey({ keyId: data.keyId })).data;
    assert.equal(k.keyId, data.keyId);
    assert.equal(k.name, "alice's key");
    assert.deepEqual(k.meta, { plan: "pro" });
    assert.equal(k.enabled, true);
    assert.equal(typeof k.createdAt, "number");
    assert.deepEqual(k.credits, { remaining: 100, refill: { interval: "monthly", amount: 100, refillDay: 15 } });
    assert.equal(k.identity.externalId, "alice");
    assert.deepEqual(k.roles, ["admin"]);
    assert.deepEqual([...k.permissions].sort(), ["docs.read", "docs.write"]);
    assert.deepEqual(
      k.ratelimits.map((r) => [r.name, r.limit, r.duration, r.autoApply]).sort(),
      [["requests", 10, 1000, true], ["tokens", 500, 60_000, false]],
    );
    assert.ok(k.ratelimits.every((r) => r.id.startsWith("rl_")));
    // optional fields are omitted, not null
    const bare = await v2(kg, "keys.getKey", { keyId: (await unkey.keys.createKey({ apiId: ctx.apiId })).data.keyId }, ctx.admin);
    assert.deepEqual(Object.keys(bare.body.data).sort(), ["createdAt", "enabled", "keyId", "start"]);
  });

  test("a daily refill ignores refillDay; monthly needs it; refill needs remaining", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, credits: { remaining: 5, refill: { interval: "daily", amount: 10, refillDay: 3 } } });
    assert.deepEqual((await unkey.keys.getKey({ keyId: data.keyId })).data.credits, { remaining: 5, refill: { interval: "daily", amount: 10 } });
    let e = await sdkError(assert, unkey.keys.createKey({ apiId: ctx.apiId, credits: { remaining: 5, refill: { interval: "monthly", amount: 10 } } }), errors.BadRequestErrorResponse, 400);
    assert.equal(e.error.errors[0].location, "body.credits.refill.refillDay");
    e = await sdkError(assert, unkey.keys.createKey({ apiId: ctx.apiId, credits: { remaining: null, refill: { interval: "daily", amount: 10 } } }), errors.BadRequestErrorResponse, 400);
    assert.match(e.error.detail, /credits\.remaining/);
    // remaining 0 is a valid balance in v2
    const zero = await unkey.keys.createKey({ apiId: ctx.apiId, credits: { remaining: 0 } });
    assert.equal((await verify(ctx, zero.data.key)).code, "USAGE_EXCEEDED");
    assert.equal(await kg.row("SELECT COUNT(*) AS n FROM keys WHERE workspace_id = ?", ctx.workspaceId).then((r) => r.n), 2);
  });

  test("roles must exist (404 role_not_found); missing permissions need create_permission", async () => {
    const ctx = await workspaceV2(kg);
    await sdkError(assert, sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, roles: ["ghost"] }), errors.NotFoundErrorResponse, 404, "unkey/data/role_not_found");
    const creator = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);
    await sdkError(assert, sdk(kg, creator).keys.createKey({ apiId: ctx.apiId, permissions: ["brand.new"] }), errors.ForbiddenErrorResponse, 403);
    assert.equal((await kg.row("SELECT COUNT(*) AS n FROM keys WHERE workspace_id = ?", ctx.workspaceId)).n, 0);
    const ok = await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, permissions: ["brand.new"] });
    assert.deepEqual((await sdk(kg, ctx.admin).keys.getKey({ keyId: ok.data.keyId })).data.permissions, ["brand.new"]);
    assert.ok(await kg.row("SELECT id FROM permissions WHERE workspace_id = ? AND slug = 'brand.new'", ctx.workspaceId));
  });

  test("a missing create_key right, another workspace's api and an unknown api are all 404", async () => {
    const a = await workspaceV2(kg);
    const b = await workspaceV2(kg);
    const reader = await kg.rootKey(a.workspaceId, ["api.*.read_key"]);
    await sdkError(assert, sdk(kg, reader).keys.createKey({ apiId: a.apiId }), errors.NotFoundErrorResponse, 404, "unkey/data/api_not_found");
    await sdkError(assert, sdk(kg, b.admin).keys.createKey({ apiId: a.apiId }), errors.NotFoundErrorResponse, 404, "unkey/data/api_not_found");
    await sdkError(assert, sdk(kg, a.admin).keys.createKey({ apiId: "api_unknown" }), errors.NotFoundErrorResponse, 404);
    const scoped = await kg.rootKey(a.workspaceId, [`api.${a.apiId}.create_key`]);
    assert.match((await sdk(kg, scoped).keys.createKey({ apiId: a.apiId })).data.keyId, /^key_/);
  });

  test("recoverable keys: 412 unless the api stores encrypted keys; decrypt shows the plaintext", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await sdkError(assert, unkey.keys.createKey({ apiId: ctx.apiId, recoverable: true }), errors.APIError, 412);
    await kg.admin("updateApi", { apiId: ctx.apiId, storeEncryptedKeys: true });
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, recoverable: true });
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId, decrypt: true })).data.plaintext, data.key);
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId })).data.plaintext, undefined);
    const reader = await kg.rootKey(ctx.workspaceId, ["api.*.read_key", "api.*.read_api"]);
    await sdkError(assert, sdk(kg, reader).keys.getKey({ keyId: data.keyId, decrypt: true }), errors.ForbiddenErrorResponse, 403);
    const listed = await unkey.apis.listKeys({ apiId: ctx.apiId, decrypt: true });
    assert.equal(listed.result.data.find((k) => k.keyId === data.keyId).plaintext, data.key);
    // without encrypt_key the api looks missing
    const creator = await kg.rootKey(ctx.workspaceId, ["api.*.create_key"]);
    await sdkError(assert, sdk(kg, creator).keys.createKey({ apiId: ctx.apiId, recoverable: true }), errors.NotFoundErrorResponse, 404);
  });

  test("unknown fields and bad values are 400 naming the field; nothing is written", async () => {
    const ctx = await workspaceV2(kg);
    for (const [body, location] of [
      [{ apiId: ctx.apiId, ownerId: "x" }, "body"],
      [{ apiId: ctx.apiId, prefix: "has-dash" }, "body.prefix"],
      [{ apiId: ctx.apiId, byteLength: 8 }, "body.byteLength"],
      [{ apiId: ctx.apiId, credits: { remaining: -1 } }, "body.credits.remaining"],
      [{ apiId: ctx.apiId, ratelimits: [{ name: "rl", limit: 1, duration: 1000, autoApply: true }] }, "body.ratelimits.0.name"],
      [{ apiId: ctx.apiId, ratelimits: [{ name: "rl1", limit: 1, duration: 1000 }] }, "body.ratelimits.0.autoApply"],
      [{ apiId: ctx.apiId, permissions: ["has space"] }, "body.permissions.0"],
    ]) {
      const r = await v2(kg, "keys.createKey", body, ctx.admin);
      const e = expectV2Error(assert, r, 400, "unkey/application/invalid_input");
      assert.equal(e.errors[0].location, location, r.text);
    }
    assert.equal((await kg.row("SELECT COUNT(*) AS n FROM keys WHERE workspace_id = ?", ctx.workspaceId)).n, 0);
  });
});

describe("keys.getKey and keys.whoami", () => {
  test("getKey: 404 for unknown and other workspaces' keys, 403 without read_key", async () => {
    const a = await workspaceV2(kg);
    const b = await workspaceV2(kg);
    const { data } = await sdk(kg, a.admin).keys.createKey({ apiId: a.apiId });
    await sdkError(assert, sdk(kg, a.admin).keys.getKey({ keyId: "key_unknown" }), errors.NotFoundErrorResponse, 404, "unkey/data/key_not_found");
    await sdkError(assert, sdk(kg, b.admin).keys.getKey({ keyId: data.keyId }), errors.NotFoundErrorResponse, 404);
    const other = await kg.rootKey(a.workspaceId, ["api.*.update_key"]);
    await sdkError(assert, sdk(kg, other).keys.getKey({ keyId: data.keyId }), errors.ForbiddenErrorResponse, 403, "unkey/authorization/insufficient_permissions");
    const scoped = await kg.rootKey(a.workspaceId, [`api.${a.apiId}.read_key`]);
    assert.equal((await sdk(kg, scoped).keys.getKey({ keyId: data.keyId })).data.keyId, data.keyId);
  });

  test("whoami: the full key by its value; a missing read_key is masked as 404", async () => {
    const ctx = await workspaceV2(kg);
    const { data } = await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId, name: "who", externalId: "bob", credits: { remaining: 3 } });
    const me = (await sdk(kg, ctx.admin).keys.whoami({ key: data.key })).data;
    assert.equal(me.keyId, data.keyId);
    assert.equal(me.name, "who");
    assert.equal(me.identity.externalId, "bob");
    assert.deepEqual(me.credits, { remaining: 3 });
    await sdkError(assert, sdk(kg, ctx.admin).keys.whoami({ key: "nope" }), errors.NotFoundErrorResponse, 404, "unkey/data/key_not_found");
    const weak = await kg.rootKey(ctx.workspaceId, ["api.*.update_key"]);
    await sdkError(assert, sdk(kg, weak).keys.whoami({ key: data.key }), errors.NotFoundErrorResponse, 404);
  });
});

describe("keys.updateKey", () => {
  test("patch semantics: absent stays, null clears", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, name: "n", meta: { a: 1 }, externalId: "carol", expires: Date.now() + 60_000 });
    assert.deepEqual((await unkey.keys.updateKey({ keyId: data.keyId, name: "renamed" })).data, {});
    let k = (await unkey.keys.getKey({ keyId: data.keyId })).data;
    assert.equal(k.name, "renamed");
    assert.deepEqual(k.meta, { a: 1 });
    assert.equal(k.identity.externalId, "carol");
    await unkey.keys.updateKey({ keyId: data.keyId, name: null, meta: null, expires: null, externalId: null, enabled: false });
    k = (await unkey.keys.getKey({ keyId: data.keyId })).data;
    assert.equal(k.name, undefined);
    assert.equal(k.meta, undefined);
    assert.equal(k.expires, undefined);
    assert.equal(k.identity, undefined);
    assert.equal(k.enabled, false);
    assert.equal((await verify(ctx, data.key)).code, "DISABLED");
    await unkey.keys.updateKey({ keyId: data.keyId, externalId: "dave", enabled: true });
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId })).data.identity.externalId, "dave");
  });

  test("credits: a number sets, null makes unlimited, refill changes apply", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId });
    await unkey.keys.updateKey({ keyId: data.keyId, credits: { remaining: 2 } });
    assert.equal((await verify(ctx, data.key)).credits, 1);
    await unkey.keys.updateKey({ keyId: data.keyId, credits: { refill: { interval: "daily", amount: 50 } } });
    assert.deepEqual((await unkey.keys.getKey({ keyId: data.keyId })).data.credits, { remaining: 1, refill: { interval: "daily", amount: 50 } });
    const e = await sdkError(assert, unkey.keys.updateKey({ keyId: data.keyId, credits: { refill: { interval: "daily", amount: 5, refillDay: 2 } } }), errors.BadRequestErrorResponse, 400);
    assert.match(e.error.detail, /must not be provided/);
    await unkey.keys.updateKey({ keyId: data.keyId, credits: null });
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId })).data.credits, undefined);
    const v = await verify(ctx, data.key);
    assert.equal(v.valid, true);
    assert.equal(v.credits, undefined);
    await unkey.keys.updateKey({ keyId: data.keyId, credits: { remaining: 7 } });
    await unkey.keys.updateKey({ keyId: data.keyId, credits: { remaining: null } });
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId })).data.credits, undefined);
  });

  test("ratelimits replace the set by name; roles and permissions replace theirs", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createRole({ name: "r1" });
    await unkey.permissions.createRole({ name: "r2" });
    const { data } = await unkey.keys.createKey({
      apiId: ctx.apiId,
      roles: ["r1"],
      permissions: ["p.one"],
      ratelimits: [{ name: "keep", limit: 1, duration: 1000, autoApply: true }, { name: "drop", limit: 1, duration: 1000, autoApply: true }],
    });
    const before = (await unkey.keys.getKey({ keyId: data.keyId })).data.ratelimits;
    const keptId = before.find((r) => r.name === "keep").id;
    await unkey.keys.updateKey({
      keyId: data.keyId,
      ratelimits: [{ name: "keep", limit: 5, duration: 2000, autoApply: false }, { name: "new", limit: 9, duration: 9000, autoApply: true }],
      roles: ["r2"],
      permissions: ["p.two"],
    });
    const k = (await unkey.keys.getKey({ keyId: data.keyId })).data;
    assert.deepEqual(k.ratelimits.map((r) => [r.name, r.limit, r.duration, r.autoApply]).sort(), [["keep", 5, 2000, false], ["new", 9, 9000, true]]);
    assert.equal(k.ratelimits.find((r) => r.name === "keep").id, keptId);
    assert.deepEqual(k.roles, ["r2"]);
    assert.deepEqual(k.permissions, ["p.two"]);
    await sdkError(assert, unkey.keys.updateKey({ keyId: data.keyId, roles: ["ghost"] }), errors.NotFoundErrorResponse, 404, "unkey/data/role_not_found");
    assert.deepEqual((await unkey.keys.getKey({ keyId: data.keyId })).data.roles, ["r2"]);
  });

  test("update_key is checked on the key's api; other workspaces' keys are 404", async () => {
    const a = await workspaceV2(kg);
    const b = await workspaceV2(kg);
    const { data } = await sdk(kg, a.admin).keys.createKey({ apiId: a.apiId, name: "x" });
    await sdkError(assert, sdk(kg, b.admin).keys.updateKey({ keyId: data.keyId, name: "y" }), errors.NotFoundErrorResponse, 404);
    const reader = await kg.rootKey(a.workspaceId, ["api.*.read_key"]);
    await sdkError(assert, sdk(kg, reader).keys.updateKey({ keyId: data.keyId, name: "y" }), errors.ForbiddenErrorResponse, 403);
    const scoped = await kg.rootKey(a.workspaceId, [`api.${a.apiId}.update_key`]);
    await sdk(kg, scoped).keys.updateKey({ keyId: data.keyId, name: "z" });
    assert.equal((await kg.row("SELECT name FROM keys WHERE id = ?", data.keyId)).name, "z");
  });
});

describe("keys.updateCredits", () => {
  test("set, increment, decrement (stops at 0), set null", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, credits: { remaining: 10, refill: { interval: "daily", amount: 10 } } });
    let r = await unkey.keys.updateCredits({ keyId: data.keyId, operation: "increment", value: 5 });
    assert.deepEqual(r.data, { remaining: 15, refill: { interval: "daily", amount: 10 } });
    r = await unkey.keys.updateCredits({ keyId: data.keyId, operation: "decrement", value: 100 });
    assert.equal(r.data.remaining, 0);
    assert.equal((await verify(ctx, data.key)).code, "USAGE_EXCEEDED");
    r = await unkey.keys.updateCredits({ keyId: data.keyId, operation: "set", value: 3 });
    assert.equal(r.data.remaining, 3);
    assert.equal((await verify(ctx, data.key)).credits, 2);
    r = await unkey.keys.updateCredits({ keyId: data.keyId, operation: "set", value: null });
    assert.deepEqual(r.data, { remaining: null });
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId })).data.credits, undefined);
    let e = await sdkError(assert, unkey.keys.updateCredits({ keyId: data.keyId, operation: "increment", value: 1 }), errors.BadRequestErrorResponse, 400);
    assert.match(e.error.detail, /unlimited/);
    e = await sdkError(assert, unkey.keys.updateCredits({ keyId: data.keyId, operation: "decrement" }), errors.BadRequestErrorResponse, 400);
    assert.match(e.error.detail, /a value must be provided/);
    await sdkError(assert, unkey.keys.updateCredits({ keyId: "key_nope", operation: "set", value: 1 }), errors.NotFoundErrorResponse, 404);
  });
});

describe("keys.deleteKey and keys.rerollKey", () => {
  test("deleteKey: soft or permanent; other workspaces' keys are 404", async () => {
    const a = await workspaceV2(kg);
    const b = await workspaceV2(kg);
    const unkey = sdk(kg, a.admin);
    const k1 = (await unkey.keys.createKey({ apiId: a.apiId })).data;
    const k2 = (await unkey.keys.createKey({ apiId: a.apiId, credits: { remaining: 5 } })).data;
    await sdkError(assert, sdk(kg, b.admin).keys.deleteKey({ keyId: k1.keyId }), errors.NotFoundErrorResponse, 404);
    assert.deepEqual((await unkey.keys.deleteKey({ keyId: k1.keyId })).data, {});
    assert.notEqual((await kg.row("SELECT deleted_at_m FROM keys WHERE id = ?", k1.keyId)).deleted_at_m, null);
    assert.equal((await verify(a, k1.key)).code, "NOT_FOUND");
    await unkey.keys.deleteKey({ keyId: k2.keyId, permanent: true });
    assert.equal(await kg.row("SELECT id FROM keys WHERE id = ?", k2.keyId), null);
    assert.equal(await kg.row("SELECT id FROM credits WHERE key_id = ?", k2.keyId), null);
    await sdkError(assert, unkey.keys.deleteKey({ keyId: k1.keyId }), errors.NotFoundErrorResponse, 404);
  });

  test("rerollKey: a new key with the same settings; the old one expires after the grace period", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createRole({ name: "reader" });
    const old = (await unkey.keys.createKey({
      apiId: ctx.apiId,
      prefix: "rr",
      name: "to reroll",
      externalId: "erin",
      meta: { m: 1 },
      roles: ["reader"],
      permissions: ["p.x"],
      credits: { remaining: 42, refill: { interval: "daily", amount: 42 } },
      ratelimits: [{ name: "requests", limit: 5, duration: 60_000, autoApply: true }],
    })).data;
    const t0 = Date.now();
    const res = await unkey.keys.rerollKey({ keyId: old.keyId, expiration: 90_000 });
    const fresh = res.data;
    assert.notEqual(fresh.keyId, old.keyId);
    assert.ok(fresh.key.startsWith("rr_"));
    const n = (await unkey.keys.getKey({ keyId: fresh.keyId })).data;
    const o = (await unkey.keys.getKey({ keyId: old.keyId })).data;
    assert.equal(n.name, "to reroll");
    assert.deepEqual(n.meta, { m: 1 });
    assert.equal(n.identity.externalId, "erin");
    assert.deepEqual(n.roles, ["reader"]);
    assert.deepEqual(n.permissions, ["p.x"]);
    assert.deepEqual(n.credits, { remaining: 42, refill: { interval: "daily", amount: 42 } });
    assert.deepEqual(n.ratelimits.map((r) => [r.name, r.limit]), [["requests", 5]]);
    assert.notEqual(n.ratelimits[0].id, o.ratelimits[0].id);
    // the old key now expires on a full minute, 90 s from now or a little later
    assert.equal(o.expires % 60_000, 0);
    assert.ok(o.expires >= t0 + 90_000 && o.expires <= Date.now() + 150_000, `${o.expires - t0}`);
    assert.equal((await verify(ctx, fresh.key)).valid, true);
    assert.equal((await verify(ctx, old.key)).valid, true);
    // a grace of 0 ends the old key at once
    const again = (await unkey.keys.rerollKey({ keyId: fresh.keyId, expiration: 0 })).data;
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await verify(ctx, fresh.key)).code, "EXPIRED");
    assert.equal((await verify(ctx, again.key)).valid, true);
    await sdkError(assert, unkey.keys.rerollKey({ keyId: "key_nope", expiration: 0 }), errors.NotFoundErrorResponse, 404);
    const reader = await kg.rootKey(ctx.workspaceId, ["api.*.read_key"]);
    await sdkError(assert, sdk(kg, reader).keys.rerollKey({ keyId: again.keyId, expiration: 0 }), errors.ForbiddenErrorResponse, 403);
  });

  test("rerollKey of a recoverable key keeps it recoverable", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await kg.admin("updateApi", { apiId: ctx.apiId, storeEncryptedKeys: true });
    const old = (await unkey.keys.createKey({ apiId: ctx.apiId, recoverable: true })).data;
    const fresh = (await unkey.keys.rerollKey({ keyId: old.keyId, expiration: 60_000 })).data;
    assert.equal((await unkey.keys.getKey({ keyId: fresh.keyId, decrypt: true })).data.plaintext, fresh.key);
  });
});

describe("keys permissions and roles", () => {
  test("add/remove/set permissions answer Permission[]; unknown slugs are created on add/set, 404 on remove", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, permissions: ["a.read"] });
    let r = await unkey.keys.addPermissions({ keyId: data.keyId, permissions: ["a.write", "a.read"] });
    assert.deepEqual(r.data.map((p) => p.slug), ["a.read", "a.write"]);
    assert.ok(r.data.every((p) => p.id.startsWith("perm_") && p.name === p.slug));
    r = await unkey.keys.removePermissions({ keyId: data.keyId, permissions: ["a.read"] });
    assert.deepEqual(r.data.map((p) => p.slug), ["a.write"]);
    await sdkError(assert, unkey.keys.removePermissions({ keyId: data.keyId, permissions: ["never.made"] }), errors.NotFoundErrorResponse, 404, "unkey/data/permission_not_found");
    r = await unkey.keys.setPermissions({ keyId: data.keyId, permissions: ["b.one", "b.two"] });
    assert.deepEqual(r.data.map((p) => p.slug), ["b.one", "b.two"]);
    assert.deepEqual((await unkey.keys.getKey({ keyId: data.keyId })).data.permissions.sort(), ["b.one", "b.two"]);
    r = await unkey.keys.setPermissions({ keyId: data.keyId, permissions: [] });
    assert.deepEqual(r.data, []);
    assert.equal((await unkey.keys.getKey({ keyId: data.keyId })).data.permissions, undefined);
  });

  test("add/remove/set roles answer Role[] with their permissions; roles must exist", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.permissions.createRole({ name: "editor", permissions: ["doc.read", "doc.write"] });
    await unkey.permissions.createRole({ name: "viewer", permissions: ["doc.read"] });
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId });
    let r = await unkey.keys.addRoles({ keyId: data.keyId, roles: ["editor"] });
    assert.deepEqual(r.data.map((x) => x.name), ["editor"]);
    assert.deepEqual(r.data[0].permissions.map((p) => p.slug).sort(), ["doc.read", "doc.write"]);
    r = await unkey.keys.addRoles({ keyId: data.keyId, roles: ["viewer"] });
    assert.deepEqual(r.data.map((x) => x.name).sort(), ["editor", "viewer"]);
    await sdkError(assert, unkey.keys.addRoles({ keyId: data.keyId, roles: ["ghost"] }), errors.NotFoundErrorResponse, 404, "unkey/data/role_not_found");
    r = await unkey.keys.removeRoles({ keyId: data.keyId, roles: ["editor"] });
    assert.deepEqual(r.data.map((x) => x.name), ["viewer"]);
    await sdkError(assert, unkey.keys.removeRoles({ keyId: data.keyId, roles: ["ghost"] }), errors.NotFoundErrorResponse, 404);
    r = await unkey.keys.setRoles({ keyId: data.keyId, roles: ["editor"] });
    assert.deepEqual(r.data.map((x) => x.name), ["editor"]);
    r = await unkey.keys.setRoles({ keyId: data.keyId, roles: [] });
    assert.deepEqual(r.data, []);
  });

  test("rights: update_key on the key's api plus the rbac right of the route", async () => {
    const ctx = await workspaceV2(kg);
    const { data } = await sdk(kg, ctx.admin).keys.createKey({ apiId: ctx.apiId });
    await sdk(kg, ctx.admin).permissions.createPermission({ name: "x", slug: "x.y" });
    const onlyRbac = await kg.rootKey(ctx.workspaceId, ["rbac.*.add_permission_to_key"]);
    await sdkError(assert, sdk(kg, onlyRbac).keys.addPermissions({ keyId: data.keyId, permissions: ["x.y"] }), errors.ForbiddenErrorResponse, 403);
    const onlyUpdate = await kg.rootKey(ctx.workspaceId, ["api.*.update_key"]);
    await sdkError(assert, sdk(kg, onlyUpdate).keys.addPermissions({ keyId: data.keyId, permissions: ["x.y"] }), errors.ForbiddenErrorResponse, 403);
    const both = await kg.rootKey(ctx.workspaceId, ["api.*.update_key", "rbac.*.add_permission_to_key"]);
    assert.deepEqual((await sdk(kg, both).keys.addPermissions({ keyId: data.keyId, permissions: ["x.y"] })).data.map((p) => p.slug), ["x.y"]);
    // creating a missing permission needs create_permission
    await sdkError(assert, sdk(kg, both).keys.addPermissions({ keyId: data.keyId, permissions: ["not.yet"] }), errors.ForbiddenErrorResponse, 403);
    // setRoles needs update_key only
    await sdk(kg, ctx.admin).permissions.createRole({ name: "solo" });
    assert.deepEqual((await sdk(kg, onlyUpdate).keys.setRoles({ keyId: data.keyId, roles: ["solo"] })).data.map((x) => x.name), ["solo"]);
  });
});

describe("keys.migrateKeys", () => {
  test("imports hashes through a migration; prefixed-api-key keys are re-hashed on their first verification", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await sdkError(assert, unkey.keys.migrateKeys({ migrationId: "mig_unknown", apiId: ctx.apiId, keys: [{ hash: "abc" }] }), errors.NotFoundErrorResponse, 404, "unkey/data/migration_not_found");
    const { migrationId } = await kg.admin("createKeyMigration", { workspaceId: ctx.workspaceId, algorithm: "github.com/seamapi/prefixed-api-key" });
    const plain = "acme_BRTRKFsL_51FwqftsmMDHHbJAMEXXHCgG";
    const longTokenHash = createHash("sha256").update("51FwqftsmMDHHbJAMEXXHCgG").digest("hex");
    const res = await unkey.keys.migrateKeys({
      migrationId,
      apiId: ctx.apiId,
      keys: [{ hash: longTokenHash, name: "imported", externalId: "frank", credits: { remaining: 2 } }],
    });
    assert.equal(res.data.migrated.length, 1);
    assert.equal(res.data.migrated[0].hash, longTokenHash);
    assert.deepEqual(res.data.failed, []);
    // the same hash again fails, nothing is written
    const again = await unkey.keys.migrateKeys({ migrationId, apiId: ctx.apiId, keys: [{ hash: longTokenHash }] });
    assert.deepEqual(again.data, { migrated: [], failed: [longTokenHash] });
    // unknown to keygate's hash until verified through the migration
    assert.equal((await verify(ctx, plain)).code, "NOT_FOUND");
    const v = await verify(ctx, plain, { migrationId });
    assert.equal(v.valid, true);
    assert.equal(v.keyId, res.data.migrated[0].keyId);
    assert.equal(v.credits, 1);
    // from now on it verifies by its own hash
    assert.equal((await verify(ctx, plain)).credits, 0);
    const row = await kg.row("SELECT hash, start, pending_migration_id FROM keys WHERE id = ?", v.keyId);
    assert.deepEqual(row, { hash: sha256(plain), start: "acme_BRTR", pending_migration_id: null });
  });

  test("sha256 migrations import keygate hashes that verify directly", async () => {
    const ctx = await workspaceV2(kg);
    const { migrationId } = await kg.admin("createKeyMigration", { workspaceId: ctx.workspaceId, algorithm: "sha256" });
    const plain = `legacy_${randomBytes(12).toString("hex")}`;
    const res = await sdk(kg, ctx.admin).keys.migrateKeys({ migrationId, apiId: ctx.apiId, keys: [{ hash: sha256(plain), enabled: true }] });
    assert.equal((await verify(ctx, plain)).keyId, res.data.migrated[0].keyId);
    const weak = await kg.rootKey(ctx.workspaceId, ["api.*.read_key"]);
    await sdkError(assert, sdk(kg, weak).keys.migrateKeys({ migrationId, apiId: ctx.apiId, keys: [{ hash: "xyz" }] }), errors.ForbiddenErrorResponse, 403);
  });
});
