// v2 identities.* through the stock @unkey/api 2.5.1 SDK: createIdentity, getIdentity,
// listIdentities (paging, search), updateIdentity, deleteIdentity, with keygate's identity credits
// (decisions.md §3, an extension the SDK does not send). Contract: shared/spec/v2-api.md §4.15.
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

describe("identities.*", () => {
  test("create, get by id or external id, update, delete", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const created = await unkey.identities.createIdentity({
      externalId: "user.1-x",
      meta: { tier: "gold" },
      ratelimits: [{ name: "requests", limit: 10, duration: 1000, autoApply: true }],
    });
    const id = created.data.identityId;
    assert.match(id, /^id_/);
    for (const identity of [id, "user.1-x"]) {
      const got = (await unkey.identities.getIdentity({ identity })).data;
      assert.equal(got.id, id);
      assert.equal(got.externalId, "user.1-x");
      assert.deepEqual(got.meta, { tier: "gold" });
      assert.deepEqual(got.ratelimits.map((r) => [r.name, r.limit, r.duration, r.autoApply]), [["requests", 10, 1000, true]]);
      assert.match(got.ratelimits[0].id, /^rl_/);
    }
    const keptId = (await unkey.identities.getIdentity({ identity: id })).data.ratelimits[0].id;
    const updated = await unkey.identities.updateIdentity({
      identity: "user.1-x",
      meta: { tier: "platinum" },
      ratelimits: [
        { name: "requests", limit: 20, duration: 2000, autoApply: false },
        { name: "tokens", limit: 5, duration: 60_000, autoApply: true },
      ],
    });
    assert.deepEqual(updated.data.meta, { tier: "platinum" });
    assert.deepEqual(updated.data.ratelimits.map((r) => [r.name, r.limit, r.autoApply]), [["requests", 20, false], ["tokens", 5, true]]);
    assert.equal(updated.data.ratelimits.find((r) => r.name === "requests").id, keptId);
    // delete answers {meta} without data (raw), which the SDK returns as it is
    const r = await v2(kg, "identities.deleteIdentity", { identity: "user.1-x" }, ctx.admin);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ["meta"]);
    const second = (await unkey.identities.createIdentity({ externalId: "second" })).data.identityId;
    const gone = await unkey.identities.deleteIdentity({ identity: second });
    assert.match(gone.meta.requestId, /^req_/);
    assert.equal(gone.data, undefined);
    await sdkError(assert, unkey.identities.getIdentity({ identity: "second" }), errors.NotFoundErrorResponse, 404);
    const deleted = await sdk(kg, ctx.admin).identities.deleteIdentity({ identity: id }).catch((e) => e);
    // identities.deleteIdentity types its errors only as application/problem+json: a JSON 404 is
    // the SDK's generic APIError (upstream answers the same)
    assert.ok(deleted instanceof errors.APIError, String(deleted));
    assert.equal(deleted.statusCode, 404);
    await sdkError(assert, unkey.identities.getIdentity({ identity: id }), errors.NotFoundErrorResponse, 404, "unkey/data/identity_not_found");
  });

  test("duplicates: externalId 409, ratelimit names 400; unknown fields 400", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    await unkey.identities.createIdentity({ externalId: "dup" });
    await sdkError(assert, unkey.identities.createIdentity({ externalId: "dup" }), errors.ConflictErrorResponse, 409, "unkey/data/identity_already_exists");
    const twice = [
      { name: "same", limit: 1, duration: 1000, autoApply: true },
      { name: "same", limit: 2, duration: 1000, autoApply: true },
    ];
    let e = await sdkError(assert, unkey.identities.createIdentity({ externalId: "other", ratelimits: twice }), errors.BadRequestErrorResponse, 400);
    assert.equal(e.error.errors[0].location, "body.ratelimits");
    e = await sdkError(assert, unkey.identities.updateIdentity({ identity: "dup", ratelimits: twice }), errors.BadRequestErrorResponse, 400);
    const r = await v2(kg, "identities.createIdentity", { externalId: "x", environment: "prod" }, ctx.admin);
    expectV2Error(assert, r, 400, "unkey/application/invalid_input", /environment/);
    await sdkError(assert, unkey.identities.createIdentity({ externalId: "bad id" }), errors.BadRequestErrorResponse, 400);
    assert.equal((await kg.row("SELECT COUNT(*) AS n FROM identities WHERE workspace_id = ?", ctx.workspaceId)).n, 1);
  });

  test("listIdentities pages with cursor/hasMore and searches", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const ids = [];
    for (const externalId of ["alpha", "beta", "gamma", "delta", "Alphabet"]) {
      ids.push((await unkey.identities.createIdentity({ externalId, meta: { n: externalId } })).data.identityId);
    }
    ids.sort();
    const first = await unkey.identities.listIdentities({ limit: 2 });
    assert.deepEqual(first.result.data.map((i) => i.id), ids.slice(0, 2));
    assert.deepEqual(first.result.pagination, { cursor: ids[2], hasMore: true });
    const all = [];
    for await (const page of first) all.push(...page.result.data.map((i) => i.id));
    assert.deepEqual(all, ids);
    const found = await unkey.identities.listIdentities({ search: "ALPHA" });
    assert.deepEqual(found.result.data.map((i) => i.externalId).sort(), ["Alphabet", "alpha"]);
    assert.equal(found.result.pagination.hasMore, false);
    assert.deepEqual(found.result.data[0].meta, { n: found.result.data[0].externalId });
  });

  test("rights: read_identity is checked per identity; update/delete need theirs", async () => {
    const ctx = await workspaceV2(kg);
    const unkey = sdk(kg, ctx.admin);
    const id = (await unkey.identities.createIdentity({ externalId: "guarded" })).data.identityId;
    const scoped = await kg.rootKey(ctx.workspaceId, [`identity.${id}.read_identity`]);
    assert.equal((await sdk(kg, scoped).identities.getIdentity({ identity: "guarded" })).data.id, id);
    await unkey.identities.createIdentity({ externalId: "another" });
    await sdkError(assert, sdk(kg, scoped).identities.getIdentity({ identity: "another" }), errors.ForbiddenErrorResponse, 403);
    await sdkError(assert, sdk(kg, scoped).identities.listIdentities({}), errors.ForbiddenErrorResponse, 403);
    assert.deepEqual((await sdk(kg, scoped).identities.listIdentities({ search: "guarded" })).result.data.map((i) => i.id), [id]);
    await sdkError(assert, sdk(kg, scoped).identities.updateIdentity({ identity: id, meta: {} }), errors.ForbiddenErrorResponse, 403);
    await sdkError(assert, sdk(kg, scoped).identities.createIdentity({ externalId: "new" }), errors.ForbiddenErrorResponse, 403);
    const other = await workspaceV2(kg);
    await sdkError(assert, sdk(kg, other.admin).identities.getIdentity({ identity: id }), errors.NotFoundErrorResponse, 404);
  });

  test("identity credits (keygate extension) are charged before a key's own", async () => {
    const ctx = await workspaceV2(kg);
    const r = await v2(kg, "identities.createIdentity", { externalId: "payer", credits: { remaining: 2 } }, ctx.admin);
    assert.equal(r.status, 200, r.text);
    const unkey = sdk(kg, ctx.admin);
    const { data } = await unkey.keys.createKey({ apiId: ctx.apiId, externalId: "payer", credits: { remaining: 100 } });
    assert.equal((await unkey.keys.verifyKey({ key: data.key })).data.credits, 1);
    const got = await v2(kg, "identities.getIdentity", { identity: "payer" }, ctx.admin);
    assert.deepEqual(got.body.data.credits, { remaining: 1 });
    await v2(kg, "identities.updateIdentity", { identity: "payer", credits: null }, ctx.admin);
    assert.equal((await unkey.keys.verifyKey({ key: data.key })).data.credits, 99);
  });
});
