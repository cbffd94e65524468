// Security suite generated from the worker's own GET /openapi.json: no route is named in the checks.
//
// - Every operation declares `security`; the only public ones (`security: []`) are PUBLIC below, so
//   a route added without authentication fails this file.
// - For EVERY operation secured by `rootKey`, a request is built from its schema (see `build`) for
//   the fixtures of a workspace and sent as follows; each must be refused with the v1 envelope:
//     no Authorization header                ⇒ 403 UNAUTHORIZED "key required"
//     an unknown key                         ⇒ 403 UNAUTHORIZED "key not found"
//     a `*` root key of a disabled workspace ⇒ 403 FORBIDDEN "workspace is disabled"
//     a `*` root key of another workspace    ⇒ no access: refused (404, or 403) when the request
//                                              names one of this workspace's resources, never a
//                                              2xx; and never any of this workspace's ids in the
//                                              answer, whatever the request
//     a root key of the workspace holding only an unrelated permission
//                                            ⇒ 403 INSUFFICIENT_PERMISSIONS (or UNAUTHORIZED, which
//                                              a few routes send for a missing inner right)
//   and none of them may change anything stored for the workspace (compared after each). The issue
//   asks for "401" without a key: that is the UNAUTHORIZED code, which v1 sends with HTTP 403
//   (upstream's code → status table; v1-api.md §2.1–2.2, decisions.md §1).
//   A control per route sends the same kind of request with a `*` root key of its own workspace:
//   it must get past validation (no 400, no 5xx), so the refusals are about the caller.
// - Every operation secured by `adminToken` (the operator API) is refused without the token and
//   with a wrong one (403 UNAUTHORIZED), changing nothing.
//
// How a request is built (so that a route added later gets a valid one without anyone editing this
// file; bodies are validated BEFORE authentication, so an invalid one would be a 400 and fail the
// checks): bodies from requestBody.content["application/json"].schema, query (and path) strings
// from `parameters`. A property is filled when it is required, or when its name is a fixture name
// (BY_NAME: apiId, keyId, key, identityId, externalId, permissionId, roleId, namespaceId,
// namespaceName, namespace, identifier, workspaceId; IN_LIST: `permissions[].id`, `roles[].id`,
// lists of permission slugs / role names): those take the workspace's fixtures (made in before()).
// Anything else gets a value from its type and constraints (enum, minimum / exclusiveMinimum /
// maximum, minLength / maxLength / pattern, minItems / maxItems, $ref / allOf / oneOf / anyOf).
// OVERRIDES (per route) are only for what the schema cannot say; INERT lists routes that answer
// every caller alike.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startKeygate, expectError, ok, sha256 } from "./helpers.mjs";
import { POSTGRES, columnNames, tableNames } from "./backend.mjs";

const kg = await startKeygate();
after(async () => {
  await kg.stop();
});

const openapi = await kg.call("/openapi.json");
assert.equal(openapi.status, 200, openapi.text);
const doc = openapi.body;

const METHODS = ["get", "post", "put", "patch", "delete"];
const OPERATIONS = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({
    method: m.toUpperCase(),
    path,
    op: item[m],
    name: `${m.toUpperCase()} ${path}`,
    route: path.replace(/^\/v1\//, ""),
  })),
);
const securedBy = (o, scheme) => JSON.stringify(o.op.security) === JSON.stringify([{ [scheme]: [] }]);
const ROOT_KEY_OPERATIONS = OPERATIONS.filter((o) => securedBy(o, "rootKey"));
const ADMIN_OPERATIONS = OPERATIONS.filter((o) => securedBy(o, "adminToken"));

/** The operations that may be called without credentials (when the document lists them). */
const PUBLIC = new Set(["POST /v1/keys.verifyKey", "POST /v1/keys/verify", "GET /v1/liveness", "GET /openapi.json"]);

/** Routes that refuse every caller with the same answer before looking at the credentials (such
 * an answer leaks nothing as long as a valid `*` root key gets it too, which the route's control
 * test asserts; each check would accept it in place of the expected refusal). None today:
 * migrations.enqueueKeys authenticates before answering its 412 (keygate has no queue). */
const INERT = {};

/** Per-route changes of the generated request: (request, fixtures) => request, for what the schema
 * cannot say. (keys.setPermissions / keys.setRoles, whose rights depend on what the request
 * changes, need none: the generated request connects the fixture permission / role, which the
 * fixture key does not hold, a change that needs the add right.) */
const OVERRIDES = {
  // each key needs `plaintext` or `hash` (one of two optional fields; checked after the schema)
  "migrations.createKeys": (req, fx) => ({
    ...req,
    body: req.body.map((k) => ({ ...k, plaintext: `fx_${fx.tag}_${randomBytes(8).toString("hex")}_imported` })),
  }),
};

// ---- request generation --------------------------------------------------------------------------

/** Fixture names: a property of this name takes the workspace's fixture (see `fixtures`). */
const BY_NAME = {
  apiId: "apiId",
  keyId: "keyId",
  key: "key",
  identityId: "identityId",
  externalId: "externalId",
  permissionId: "permissionId",
  roleId: "roleId",
  namespaceId: "namespaceId",
  namespaceName: "namespaceName",
  namespace: "namespaceName",
  identifier: "identifier",
  workspaceId: "workspaceId",
};
/** Inside a list named `permissions` / `roles`: an element's `id`, or the element itself when the
 * elements are names. */
const IN_LIST = {
  permissions: { id: "permissionId", element: "permissionSlug" },
  roles: { id: "roleId", element: "roleName" },
};

function deref(schema) {
  let s = schema ?? {};
  for (let i = 0; s.$ref && i < 20; i++) {
    s = s.$ref.replace(/^#\//, "").split("/").reduce((node, part) => node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
    assert.ok(s, `unresolvable ${schema.$ref}`);
  }
  if (s.allOf) {
    const parts = s.allOf.map(deref);
    s = {
      ...Object.assign({}, ...parts),
      ...s,
      properties: Object.assign({}, ...parts.map((p) => p.properties ?? {}), s.properties ?? {}),
      required: [...parts.flatMap((p) => p.required ?? []), ...(s.required ?? [])],
    };
    delete s.allOf;
  }
  const variants = s.oneOf ?? s.anyOf;
  if (variants) {
    const v = variants.map(deref).find((x) => x.type !== "null") ?? {};
    const { oneOf, anyOf, ...rest } = s;
    // a variant adds to the schema (either/or fields are `anyOf` of required sets)
    const properties = { ...(rest.properties ?? {}) };
    for (const [k, p] of Object.entries(v.properties ?? {})) properties[k] = { ...properties[k], ...p };
    s = { ...rest, ...v, properties, required: [...(rest.required ?? []), ...(v.required ?? [])] };
  }
  return s;
}

function typeOf(s) {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null") ?? "null";
  if (s.type) return s.type;
  if (s.properties) return "object";
  if (s.items) return "array";
  return undefined;
}

/** The fixture a property at `path` takes, if its name is a fixture name. */
function fixtureAt(path, fx) {
  const name = path.at(-1);
  const list = path.at(-2) === "[]" ? IN_LIST[path.at(-3)] : undefined;
  if (list && name === "id") return fx[list.id];
  if (name !== "[]" && BY_NAME[name]) return fx[BY_NAME[name]];
  return undefined;
}

function stringFor(s, path) {
  if (s.format === "date-time") return new Date().toISOString();
  if (s.format === "uri" || s.format === "url") return "https://example.com/fx";
  if (s.format === "email") return "fx@example.com";
  const base = `fx${String(path.filter((p) => p !== "[]").at(-1) ?? "value").replace(/[^a-zA-Z0-9]/g, "")}`;
  const min = s.minLength ?? 0;
  const max = s.maxLength ?? Infinity;
  let v = base.padEnd(min, "x").slice(0, Math.max(min, Math.min(max, base.length)));
  if (s.pattern && !new RegExp(s.pattern).test(v)) {
    const alt = "x".repeat(Math.max(min, 1));
    assert.ok(new RegExp(s.pattern).test(alt), `${path.join(".")}: no value for pattern ${s.pattern}; add an OVERRIDES entry`);
    v = alt;
  }
  return v;
}

function numberFor(s) {
  let v = 1;
  if (typeof s.minimum === "number") v = s.minimum;
  if (typeof s.exclusiveMinimum === "number") v = Math.max(v, s.exclusiveMinimum + 1);
  if (typeof s.maximum === "number") v = Math.min(v, s.maximum);
  if (typeof s.exclusiveMaximum === "number") v = Math.min(v, s.exclusiveMaximum - 1);
  return v;
}

/** A schema-valid value for `schema` at `path`, taking fixtures from `fx`. */
function build(schema, fx, path = []) {
  const s = deref(schema);
  const fixture = fixtureAt(path, fx);
  if (fixture !== undefined) return fixture;
  if (Array.isArray(s.enum)) return s.enum.find((v) => v !== null);
  if ("const" in s) return s.const;
  switch (typeOf(s)) {
    case "object": {
      const out = {};
      for (const [k, sub] of Object.entries(s.properties ?? {})) {
        const p = [...path, k];
        if ((s.required ?? []).includes(k) || fixtureAt(p, fx) !== undefined) out[k] = build(sub, fx, p);
      }
      return out;
    }
    case "array": {
      const n = Math.min(Math.max(s.minItems ?? 0, 1), s.maxItems ?? Infinity);
      const item = [...path, "[]"];
      const list = IN_LIST[path.at(-1)];
      const items = deref(s.items);
      if (list && typeOf(items) === "string") return Array.from({ length: n }, () => fx[list.element]);
      return Array.from({ length: n }, () => build(items, fx, item));
    }
    case "string":
      return stringFor(s, path);
    case "integer":
    case "number":
      return numberFor(s);
    case "boolean":
      return false;
    case "null":
      return null;
    default:
      return {}; // any value
  }
}

/** The request of an operation for the workspace `fx`: {method, url, body}. */
function requestFor(o, fx) {
  let req = { method: o.method, url: o.path, body: undefined };
  const qs = new URLSearchParams();
  for (const p of o.op.parameters ?? []) {
    if (!(p.required || fixtureAt([p.name], fx) !== undefined)) continue;
    const v = build(p.schema, fx, [p.name]);
    const text = typeof v === "object" ? JSON.stringify(v) : String(v);
    if (p.in === "query") qs.set(p.name, text);
    else if (p.in === "path") req.url = req.url.replace(`{${p.name}}`, encodeURIComponent(text));
  }
  const q = qs.toString();
  if (q) req.url = `${req.url}?${q}`;
  if (o.method !== "GET") {
    const schema = o.op.requestBody?.content?.["application/json"]?.schema;
    req.body = schema ? build(schema, fx) : {};
  }
  if (OVERRIDES[o.route]) req = OVERRIDES[o.route](req, fx);
  return req;
}

const send = (req, rootKey) => kg.call(req.url, { method: req.method, body: req.body, rootKey });

// ---- fixtures ------------------------------------------------------------------------------------

/** A workspace with one of everything: an api, a key in it with credits (linked to an identity,
 * holding no permission or role), a permission, a role holding it, an identity, a ratelimit
 * namespace with an override; plus a `*` root key and a root key with an unrelated permission. */
async function fixtures(tag) {
  const ctx = await kg.setup();
  const secret = randomBytes(4).toString("hex");
  const fx = { ...ctx, tag };
  fx.externalId = `fx_${tag}_${secret}_user`;
  fx.identityId = await kg.createIdentity(ctx, { externalId: fx.externalId, meta: { tag } });
  fx.permissionSlug = `fx.${tag}.${secret}.perm`;
  fx.permissionId = await kg.createPermission(ctx, { name: fx.permissionSlug });
  fx.roleName = `fx.${tag}.${secret}.role`;
  fx.roleId = await kg.createRole(ctx, { name: fx.roleName, permissions: [fx.permissionSlug] });
  const key = await kg.createKey(ctx, { name: `fx-${tag}-${secret}-key`, remaining: 100, externalId: fx.externalId });
  fx.keyId = key.keyId;
  fx.key = key.key;
  fx.namespaceName = `fx.${tag}.${secret}.ns`;
  fx.identifier = `fx_${tag}_${secret}_who`;
  await ok(kg.post("ratelimits.limit", { namespace: fx.namespaceName, identifier: fx.identifier, limit: 10, duration: 60000, cost: 0 }, ctx.rootKey));
  fx.namespaceId = (await kg.row("SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?", ctx.workspaceId, fx.namespaceName)).id;
  fx.overrideId = (await ok(kg.post("ratelimits.setOverride", { namespaceId: fx.namespaceId, identifier: fx.identifier, limit: 5, duration: 60000 }, ctx.rootKey))).overrideId;
  fx.weakRootKey = await kg.rootKey(ctx.workspaceId, ["api.api_doesnotexist.read_api"]);
  return fx;
}

/** Everything stored for a workspace: its row, its root keys and every row of every table with a
 * `workspace_id` (verification events aside: they are analytics). One SQL statement (D1 calls
 * from the test process are slow), built from the schema on first use, so a table added later is
 * compared too. */
let stateSql;
async function stateOf(workspaceId) {
  if (!stateSql) {
    const columns = (table) => columnNames(kg, table);
    // the rows of a table as a JSON array of arrays, sorted (in each backend's JSON functions)
    const rows = (label, table, names, where) => {
      const list = names.map((n) => `"${n}"`).join(", ");
      return POSTGRES
        ? `'${label}', (SELECT COALESCE(json_agg(r ORDER BY r::text), '[]') FROM (SELECT json_build_array(${list}) AS r FROM "${table}" WHERE ${where}) x)`
        : `'${label}', (SELECT json_group_array(json(r)) FROM (SELECT json_array(${list}) AS r FROM "${table}" WHERE ${where} ORDER BY r))`;
    };
    const tables = (await tableNames(kg)).filter((t) => t !== "key_verifications");
    const parts = [
      rows("workspace", "workspaces", await columns("workspaces"), "id = ?1"),
      rows("root keys", "keys", ["id", "hash", "enabled", "deleted_at_m", "expires"], "for_workspace_id = ?1"),
    ];
    for (const t of tables) {
      const names = await columns(t);
      if (names.includes("workspace_id")) parts.push(rows(t, t, names, "workspace_id = ?1"));
    }
    assert.ok(parts.length > 10, `only ${parts.length} parts of a workspace's state`);
    stateSql = `SELECT ${POSTGRES ? "json_build_object" : "json_object"}(${parts.join(", ")})${POSTGRES ? "::text" : ""} AS state`;
  }
  return JSON.parse((await kg.row(stateSql, workspaceId)).state);
}

/** What must never appear in another caller's answer: the workspace's id, its key, and every
 * generated id (`<prefix>_<base58>`) and key hash stored for it. (Not the names of its fixtures:
 * those are labels another workspace may use too, and the requests built for A do copy them into
 * B, e.g. createIdentity with A's externalId.) */
function secretsOf(fx) {
  const out = new Set([fx.key, sha256(fx.key), fx.workspaceId]);
  for (const rows of Object.values(fx.state)) {
    for (const row of rows) {
      for (const value of row) if (typeof value === "string" && /^[a-z]+_[1-9A-HJ-NP-Za-km-z]{8,}$/.test(value)) out.add(value);
    }
  }
  out.delete("ws_keygate");
  return [...out];
}

/** The answer mentions none of fx's secrets, apart from those the request named itself. */
function assertNoLeak(fx, req, res) {
  const asked = `${req.url} ${JSON.stringify(req.body ?? null)}`;
  const leaked = fx.secrets.filter((v) => !asked.includes(v) && res.text.includes(v));
  assert.deepEqual(leaked, [], `${req.method} ${req.url} answered ${res.text}`);
}

async function assertUnchanged(fx) {
  assert.deepEqual(await stateOf(fx.workspaceId), fx.state, `workspace ${fx.tag} changed`);
}

/** True when the request names one of fx's resources by id (or its key). */
function namesResourceOf(fx, req) {
  const asked = `${req.url} ${JSON.stringify(req.body ?? null)}`;
  return [fx.apiId, fx.keyId, fx.key, fx.identityId, fx.permissionId, fx.roleId, fx.namespaceId, fx.overrideId].some((v) => asked.includes(v));
}

/** The inert answer of `route` when it gave it (see INERT); false when the route answered otherwise. */
function inert(route, res) {
  const i = INERT[route];
  if (!i || res.status !== i.status) return false;
  expectError(assert, res, i.status, i.code, i.message);
  return true;
}

let A; // the workspace whose resources every request names
let B; // another workspace: its `*` root key must not reach A
let D; // a workspace that is disabled after its fixtures are made
const C = new Map(); // route → a workspace of its own for the route's control
before(async () => {
  [A, B, D] = await Promise.all([fixtures("a"), fixtures("b"), fixtures("d")]);
  await Promise.all(ROOT_KEY_OPERATIONS.map(async (o) => C.set(o.route, await fixtures("c"))));
  await kg.admin("updateWorkspace", { workspaceId: D.workspaceId, enabled: false });
  for (const fx of [A, B, D]) fx.state = await stateOf(fx.workspaceId);
  A.secrets = secretsOf(A);
});

// ---- the document ----------------------------------------------------------------------------------

describe("openapi.json", () => {
  test("every operation declares security; the public ones are exactly the allowlist", () => {
    assert.ok(OPERATIONS.length > 0);
    const undeclared = OPERATIONS.filter((o) => !Array.isArray(o.op.security)).map((o) => o.name);
    assert.deepEqual(undeclared, [], "operations without `security`");
    // `[]` and an empty requirement `[{}]` both mean "no credentials needed"
    const open = OPERATIONS.filter((o) => o.op.security.length === 0 || o.op.security.some((r) => Object.keys(r).length === 0)).map((o) => o.name);
    assert.deepEqual(open.filter((n) => !PUBLIC.has(n)), [], "public operations outside the allowlist");
    assert.ok(open.includes("POST /v1/keys.verifyKey"), "keys.verifyKey is public");
    // everything else needs a root key or, for the operator API only, the admin token
    const other = OPERATIONS.filter((o) => !open.includes(o.name) && !securedBy(o, "rootKey") && !securedBy(o, "adminToken")).map((o) => o.name);
    assert.deepEqual(other, [], "operations with another security requirement");
    assert.deepEqual(ADMIN_OPERATIONS.filter((o) => !o.route.startsWith("admin.")).map((o) => o.name), [], "adminToken outside /v1/admin.*");
    assert.deepEqual(OPERATIONS.filter((o) => o.route.startsWith("admin.") && !securedBy(o, "adminToken")).map((o) => o.name), [], "/v1/admin.* without adminToken");
    assert.ok(ROOT_KEY_OPERATIONS.length >= 30, `${ROOT_KEY_OPERATIONS.length} root-key operations`);
    // the checks below know the v1 error envelope only: other versions need their own here
    assert.deepEqual([...ROOT_KEY_OPERATIONS, ...ADMIN_OPERATIONS].filter((o) => !o.path.startsWith("/v1/")).map((o) => o.name), [],
      "authenticated operations outside /v1/");
    assert.deepEqual(Object.keys(doc.components?.securitySchemes ?? {}).sort(), ["adminToken", "rootKey"]);
  });
});

// ---- every root-key operation ------------------------------------------------------------------------

for (const o of ROOT_KEY_OPERATIONS) {
  const { route } = o;
  describe(route, () => {
    // The control: the request built for the route gets past validation for a `*` root key of its
    // own workspace (fresh fixtures, so that destructive routes destroy nothing the checks use), so
    // that the refusals below are about the caller, not the request. An INERT route must give its
    // answer to this caller too.
    test(`${route}: the generated request is valid for a * root key of its workspace`, async () => {
      const own = C.get(route);
      const res = await send(requestFor(o, own), own.rootKey);
      if (INERT[route]) {
        const { status, code, message } = INERT[route];
        expectError(assert, res, status, code, message);
        return;
      }
      assert.ok(res.status !== 400 && res.status < 500, `${res.request}: ${res.status} ${res.text}`);
    });

    // The "401": the UNAUTHORIZED code, which v1 sends with HTTP 403.
    test(`${route}: no Authorization header ⇒ 403 UNAUTHORIZED "key required"`, async () => {
      const req = requestFor(o, A);
      const res = await send(req);
      if (!inert(route, res)) expectError(assert, res, 403, "UNAUTHORIZED", "key required");
      assertNoLeak(A, req, res);
      await assertUnchanged(A);
    });

    test(`${route}: an unknown key ⇒ 403 UNAUTHORIZED "key not found"`, async () => {
      const req = requestFor(o, A);
      const res = await send(req, `unknown_${randomBytes(12).toString("hex")}`);
      if (!inert(route, res)) expectError(assert, res, 403, "UNAUTHORIZED", "key not found");
      assertNoLeak(A, req, res);
      await assertUnchanged(A);
    });

    test(`${route}: a * root key of a disabled workspace ⇒ 403 FORBIDDEN "workspace is disabled"`, async () => {
      const res = await send(requestFor(o, D), D.rootKey);
      if (!inert(route, res)) expectError(assert, res, 403, "FORBIDDEN", "workspace is disabled");
      await assertUnchanged(D);
    });

    test(`${route}: a * root key of another workspace has no access`, async () => {
      const req = requestFor(o, A);
      const res = await send(req, B.rootKey);
      if (!inert(route, res)) {
        if (namesResourceOf(A, req)) {
          // refused as not found (404), or 403: keys.deleteKey answers UNAUTHORIZED "you are not
          // allowed to do this" as upstream; a route whose query leaves out `*` answers
          // INSUFFICIENT_PERMISSIONS before it looks (ratelimits.getOverride today)
          assert.ok([403, 404].includes(res.status), `${res.status}: ${res.text}`);
          const code = res.status === 404 ? "NOT_FOUND" : res.body?.error?.code;
          assert.ok(res.status === 404 || ["UNAUTHORIZED", "INSUFFICIENT_PERMISSIONS"].includes(code), res.text);
          expectError(assert, res, res.status, code);
        } else {
          // a request that names none of A's resources acts in B's own workspace
          assert.ok(res.status < 500, `${res.status}: ${res.text}`);
          if (res.status >= 400) expectError(assert, res, res.status, res.body?.error?.code);
        }
      }
      assertNoLeak(A, req, res);
      await assertUnchanged(A);
    });

    test(`${route}: a root key with an unrelated permission ⇒ 403`, async () => {
      const res = await send(requestFor(o, A), A.weakRootKey);
      if (!inert(route, res)) {
        // INSUFFICIENT_PERMISSIONS; a few routes answer UNAUTHORIZED for a missing inner right
        const code = res.body?.error?.code;
        assert.ok(["INSUFFICIENT_PERMISSIONS", "UNAUTHORIZED"].includes(code), `${res.status}: ${res.text}`);
        expectError(assert, res, 403, code);
      }
      await assertUnchanged(A);
    });

  });
}

// ---- the operator API -------------------------------------------------------------------------------

for (const o of ADMIN_OPERATIONS) {
  describe(o.route, () => {
    for (const [what, token] of [["no token", undefined], ["a wrong token", `wrong_${randomBytes(8).toString("hex")}`]]) {
      test(`${o.route}: ${what} ⇒ 403 UNAUTHORIZED`, async () => {
        const workspacesBefore = await kg.rows("SELECT * FROM workspaces ORDER BY id");
        const res = await send(requestFor(o, A), token);
        expectError(assert, res, 403, "UNAUTHORIZED");
        assert.deepEqual(await kg.rows("SELECT * FROM workspaces ORDER BY id"), workspacesBefore);
        await assertUnchanged(A);
      });
    }
  });
}

// ---- afterwards ----------------------------------------------------------------------------------------

describe("after every refused request", () => {
  test("workspace A's fixtures are all still there and work", async () => {
    await assertUnchanged(A);
    const a = A.rootKey;
    const key = await kg.getKey(A, A.keyId);
    assert.equal(key.remaining, 100);
    const v = await kg.verify(A.key, { remaining: { cost: 0 } });
    assert.deepEqual([v.valid, v.keyId, v.remaining, v.identity?.id], [true, A.keyId, 100, A.identityId]);
    assert.equal((await ok(kg.get("apis.getApi", { apiId: A.apiId }, a))).id, A.apiId);
    assert.equal((await ok(kg.get("identities.getIdentity", { identityId: A.identityId }, a))).externalId, A.externalId);
    assert.equal((await ok(kg.get("permissions.getPermission", { permissionId: A.permissionId }, a))).slug, A.permissionSlug);
    assert.deepEqual((await ok(kg.get("permissions.getRole", { roleId: A.roleId }, a))).permissions.map((p) => p.id), [A.permissionId]);
    const overrides = await ok(kg.get("ratelimits.listOverrides", { namespaceId: A.namespaceId }, a));
    assert.deepEqual(overrides.overrides.map((x) => [x.id, x.identifier, x.limit]), [[A.overrideId, A.identifier, 5]]);
    assert.equal((await kg.row("SELECT enabled FROM workspaces WHERE id = ?", A.workspaceId)).enabled, 1);
  });

  test("the disabled workspace's fixtures are unchanged too", async () => {
    await assertUnchanged(D);
    await kg.admin("updateWorkspace", { workspaceId: D.workspaceId, enabled: true });
    assert.equal((await kg.getKey(D, D.keyId)).remaining, 100);
  });
});
