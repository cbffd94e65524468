// The v2 security suite, generated from the worker's own GET /v2/openapi.json: no route is named in
// the checks, so a v2 route added later is covered without editing this file.
//
// - Every operation declares `security`; the only public one (`security: []`) is GET /v2/liveness.
// - For EVERY operation secured by `rootKey`, a valid request is built from its schema (bodies are
//   validated before authentication, so an invalid one would be a 400 and prove nothing) for the
//   fixtures of a fresh workspace, and sent as follows; v2's statuses (v2-api.md §1.3, §1.7):
//     no Authorization header                  ⇒ 400 unkey/authentication/missing
//     `Authorization: Basic …` (not Bearer)     ⇒ 400 unkey/authentication/malformed
//     an unknown key                            ⇒ 401 unkey/authentication/key_not_found
//     a key that is not a root key              ⇒ 401 unkey/authentication/key_not_found
//     a `*` root key of a disabled workspace    ⇒ 403 unkey/authorization/workspace_disabled
//     a `*` root key of another workspace       ⇒ never 400/401/5xx; this workspace's resources are
//                                                  not found (404, or verifyKey's 200 NOT_FOUND), and
//                                                  no fixture id or secret the request did not name
//                                                  appears in any answer
//     a root key of the workspace holding only an unrelated permission
//                                               ⇒ 403 insufficient_permissions, or the 404 upstream
//                                                  masks it as, or verifyKey's 200 NOT_FOUND
//   and none of them may change anything stored for the workspace (compared after each).
//   A control per route sends the request with the workspace's own `*` root key: it must get past
//   validation and authentication (no 400, no 401, no 5xx).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { startKeygate } from "./helpers.mjs";
import { sdk, v2 } from "./v2-helpers.mjs";

const kg = await startKeygate({ bindings: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
after(async () => {
  await kg.stop();
});

const document = await kg.call("/v2/openapi.json");
assert.equal(document.status, 200, document.text);
const doc = document.body;

const OPERATIONS = Object.entries(doc.paths).flatMap(([path, item]) =>
  ["get", "post"].filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, op: item[m], route: path.replace(/^\/v2\//, "") })),
);
const securedBy = (o, scheme) => JSON.stringify(o.op.security) === JSON.stringify([{ [scheme]: [] }]);
const ROOT_KEY_OPERATIONS = OPERATIONS.filter((o) => securedBy(o, "rootKey"));
const PUBLIC = new Set(["GET /v2/liveness"]);
const TYPE = "https://unkey.com/docs/errors/";

// ---- fixtures: one fresh workspace per route, so a control that deletes or changes something
// cannot change what the next route is checked against

let tagCounter = 0;
async function fixtures() {
  const tag = `${Date.now().toString(36)}${tagCounter++}`;
  const workspaceId = await kg.workspace(`fx-${tag}`);
  const admin = await kg.rootKey(workspaceId, ["*"]);
  const unrelated = await kg.rootKey(workspaceId, ["rbac.*.nothing_at_all"]);
  const unkey = sdk(kg, admin);
  const apiId = (await unkey.apis.createApi({ name: `fx-${tag}` })).data.apiId;
  const permissionSlug = `fx.${tag}.perm`;
  const permissionId = (await unkey.permissions.createPermission({ name: permissionSlug, slug: permissionSlug })).data.permissionId;
  const roleName = `fx-${tag}-role`;
  const roleId = (await unkey.permissions.createRole({ name: roleName, permissions: [permissionSlug] })).data.roleId;
  const externalId = `fx_${tag}`;
  const identityId = (await unkey.identities.createIdentity({ externalId, ratelimits: [{ name: "fxlimit", limit: 5, duration: 60_000, autoApply: false }] })).data.identityId;
  const key = (await unkey.keys.createKey({ apiId, externalId, roles: [roleName], credits: { remaining: 100 }, name: `fx-${tag}` })).data;
  const namespaceName = `fx-${tag}-ns`;
  await unkey.ratelimit.limit({ namespace: namespaceName, identifier: "fx_user", limit: 5, duration: 60_000 });
  const namespaceId = (await kg.row("SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?", workspaceId, namespaceName)).id;
  const overrideId = (await unkey.ratelimit.setOverride({ namespace: namespaceName, identifier: "fx_user", limit: 9, duration: 60_000 })).data.overrideId;
  const { migrationId } = await kg.admin("createKeyMigration", { workspaceId, algorithm: "sha256" });
  return {
    tag, workspaceId, admin, unrelated, apiId, permissionSlug, permissionId, roleName, roleId, externalId,
    identityId, keyId: key.keyId, key: key.key, namespaceName, namespaceId, overrideId, migrationId,
  };
}

/** What a response must never contain when the caller may not see the workspace. */
const SECRETS = ["apiId", "permissionId", "roleId", "identityId", "keyId", "key", "namespaceId", "overrideId", "migrationId"];

// ---- request generation from the schema

/** Properties filled from the fixtures, by name. */
const BY_NAME = {
  apiId: "apiId",
  keyId: "keyId",
  key: "key",
  identity: "identityId",
  externalId: "externalId",
  permission: "permissionSlug",
  role: "roleName",
  roleId: "roleId",
  namespace: "namespaceName",
  identifier: "identifier",
  migrationId: "migrationId",
};
/** Lists of names filled with the fixture's. */
const LISTS = { permissions: "permissionSlug", roles: "roleName" };

function pick(schema) {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return pick(variants.find((v) => v.type !== "null") ?? {});
  return schema;
}

function typeOf(s) {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null");
  return s.type ?? (s.properties ? "object" : s.items ? "array" : undefined);
}

/** A string for a schema: fixed length within its bounds, characters from its pattern's class. */
function text(s) {
  const n = Math.max(s.minLength ?? 1, 3);
  const len = s.maxLength !== undefined ? Math.min(n, s.maxLength) : n;
  return "a".repeat(len);
}

function build(schema, path, fx) {
  const s = pick(schema);
  const name = path.at(-1);
  const type = typeOf(s);
  if (name in BY_NAME && type === "string") return fx[BY_NAME[name]] ?? "fx_user";
  if (name in LISTS && type === "array") return [fx[LISTS[name]]];
  switch (type) {
    case "object": {
      const out = {};
      const required = new Set(s.required ?? []);
      for (const [prop, sub] of Object.entries(s.properties ?? {})) {
        const fixture = prop in BY_NAME || prop in LISTS;
        if (required.has(prop) || (fixture && !["externalId"].includes(prop))) out[prop] = build(sub, [...path, prop], fx);
      }
      return out;
    }
    case "array":
      return Array.from({ length: Math.max(s.minItems ?? 0, 1) }, () => build(s.items ?? {}, [...path, "[]"], fx));
    case "string":
      return s.enum ? s.enum[0] : text(s);
    case "integer":
    case "number":
      return Math.max(s.minimum ?? 0, name === "limit" ? 1 : 0);
    case "boolean":
      return false;
    default:
      return null;
  }
}

function requestBody(o, fx) {
  const schema = o.op.requestBody?.content?.["application/json"]?.schema ?? {};
  return build(schema, [], fx);
}

// ---- stored state of a workspace

const TABLES = [
  "apis", "key_auth", "keys", "credits", "identities", "ratelimits", "permissions", "roles", "keys_permissions",
  "keys_roles", "roles_permissions", "encrypted_keys", "ratelimit_namespaces", "ratelimit_overrides",
  "key_migrations", "audit_log",
];

async function snapshot(workspaceId) {
  const out = {};
  for (const table of TABLES) out[table] = JSON.stringify(await kg.rows(`SELECT * FROM ${table} WHERE workspace_id = ? ORDER BY 1, 2`, workspaceId));
  return out;
}

async function assertUnchanged(fx, before, what) {
  const after = await snapshot(fx.workspaceId);
  for (const table of TABLES) assert.equal(after[table], before[table], `${what} changed ${table}`);
}

/** No fixture id or secret in the answer, except the ones the request itself named (a 404 may
 * repeat what it was asked). */
function assertNoSecrets(fx, res, what, body) {
  const asked = JSON.stringify(body);
  for (const name of SECRETS) {
    if (asked.includes(fx[name])) continue;
    assert.ok(!res.text.includes(fx[name]), `${what} answered the workspace's ${name}: ${res.text}`);
  }
}

function expectType(res, status, type, what) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.match(res.body?.meta?.requestId ?? "", /^req_/, `${what}: ${res.text}`);
  assert.equal(res.body.error.status, status, what);
  if (type) assert.equal(res.body.error.type, `${TYPE}${type}`, `${what}: ${res.text}`);
  if (status === 400) assert.ok(Array.isArray(res.body.error.errors), what);
}

// shared callers that never change
let disabledRoot, plainKey;
before(async () => {
  const ws = await kg.workspace("disabled");
  disabledRoot = await kg.rootKey(ws, ["*"]);
  await kg.admin("updateWorkspace", { workspaceId: ws, enabled: false });
  const other = await kg.workspace("plain");
  const admin = await kg.rootKey(other, ["*"]);
  const apiId = (await sdk(kg, admin).apis.createApi({ name: "plain" })).data.apiId;
  plainKey = (await sdk(kg, admin).keys.createKey({ apiId })).data.key;
});

test("the document lists every v2 route and secures all but liveness", () => {
  assert.equal(OPERATIONS.length, 41);
  for (const o of OPERATIONS) {
    const name = `${o.method} ${o.path}`;
    assert.ok(Array.isArray(o.op.security), `${name} declares security`);
    if (PUBLIC.has(name)) assert.deepEqual(o.op.security, [], name);
    else assert.ok(securedBy(o, "rootKey"), `${name} needs a root key`);
    if (o.method === "POST") assert.equal(o.op.requestBody.content["application/json"].schema.additionalProperties ?? false, false, `${name} is strict`);
  }
  assert.equal(ROOT_KEY_OPERATIONS.length, 40);
});

describe("every root-key route refuses callers without rights, changing nothing", () => {
  for (const o of ROOT_KEY_OPERATIONS) {
    test(o.route, async () => {
      const fx = await fixtures();
      fx.identifier = "fx_user";
      const body = requestBody(o, fx);
      const other = await kg.rootKey(await kg.workspace("other"), ["*"]);
      const before = await snapshot(fx.workspaceId);
      const send = (rootKey, headers) => v2(kg, o.route, body, rootKey, headers);

      let r = await send();
      expectType(r, 400, "unkey/authentication/missing", "no Authorization");
      r = await send(undefined, { Authorization: `Basic ${fx.admin}` });
      expectType(r, 400, "unkey/authentication/malformed", "Basic authorization");
      r = await send("unknown_root_key");
      expectType(r, 401, "unkey/authentication/key_not_found", "unknown key");
      r = await send(plainKey);
      expectType(r, 401, "unkey/authentication/key_not_found", "a key that is not a root key");
      r = await send(disabledRoot);
      expectType(r, 403, "unkey/authorization/workspace_disabled", "disabled workspace");
      await assertUnchanged(fx, before, "refused callers");

      r = await send(other);
      const what = "another workspace's * root key";
      assert.ok(![400, 401].includes(r.status) && r.status < 500, `${what}: ${r.status} ${r.text}`);
      if (r.status === 200 && o.route === "keys.verifyKey") assert.deepEqual(r.body.data, { valid: false, code: "NOT_FOUND" });
      assertNoSecrets(fx, r, what, body);
      await assertUnchanged(fx, before, what);

      r = await send(fx.unrelated);
      const weak = "a root key with an unrelated permission";
      if (o.route === "keys.verifyKey") {
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.data, { valid: false, code: "NOT_FOUND" });
      } else if (r.status === 404) {
        expectType(r, 404, undefined, weak);
        assertNoSecrets(fx, r, weak, body);
      } else {
        expectType(r, 403, "unkey/authorization/insufficient_permissions", weak);
      }
      await assertUnchanged(fx, before, weak);

      // control: the workspace's own * root key gets past validation and authentication
      r = await send(fx.admin);
      assert.ok(![400, 401, 403].includes(r.status) && r.status < 500, `control: ${r.status} ${r.text}`);
    });
  }
});

test("liveness needs nothing", async () => {
  const r = await kg.call("/v2/liveness");
  assert.equal(r.status, 200);
  assert.equal(r.body.data.message, "we're cooking");
});

test("the generated requests are the ones the routes expect (sanity)", async () => {
  const fx = await fixtures();
  fx.identifier = "fx_user";
  const byRoute = Object.fromEntries(ROOT_KEY_OPERATIONS.map((o) => [o.route, requestBody(o, fx)]));
  assert.deepEqual(byRoute["keys.getKey"], { keyId: fx.keyId });
  assert.equal(byRoute["keys.verifyKey"].key, fx.key);
  assert.deepEqual(byRoute["keys.addRoles"], { keyId: fx.keyId, roles: [fx.roleName] });
  assert.deepEqual(byRoute["ratelimit.multiLimit"], [{ namespace: fx.namespaceName, identifier: "fx_user", limit: 1, duration: 1000 }]);
  assert.equal(createHash("sha256").update(fx.key).digest("base64"), (await kg.row("SELECT hash FROM keys WHERE id = ?", fx.keyId)).hash);
});
