// Test harness: runs the built worker (build/index.js) in Miniflare with a fresh in-memory D1
// database (migrations applied) and Durable Objects, bound to 127.0.0.1 on a random port; with
// KEYGATE_BACKEND=postgres, the Postgres build on a fresh Postgres database (see backend.mjs).
// Also the helpers the test files share, each with one signature: methods of Keygate (createKey,
// verify, getKey, creditsOf, seedLegacy, createIdentity, createPermission, counts, ...) and the
// exported functions below it (ok, uniq, at, midWindow, sha256, base58Decode, ...).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import { Miniflare, Log, LogLevel } from "miniflare";
import { Unkey } from "@unkey/api";
import { storeFor } from "./backend.mjs";

export const ADMIN_TOKEN = "test-admin-token";

// Tests fire hundreds of requests at once; the local server resets connections beyond its listen
// backlog, so at most 128 connections are open at a time (one request each, no keep-alive reuse,
// so a request is never retried on a stale socket). The rest wait for a free connection: the
// worker always has 128 requests in flight.
function request(agent, url, { method, headers, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])), text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
const ROOT = new URL("..", import.meta.url).pathname;

/** Splits a migration file into statements (no semicolons inside literals in our migrations). */
export function splitSql(sql) {
  return sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The Miniflare worker of the built keygate on `store` (from `storeFor`) with `bindings`. */
export function keygateWorker(store, bindings) {
  return {
    name: "keygate",
    modules: true,
    scriptPath: `${ROOT}${store.build}/index.js`,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-08-01",
    ...store.bindings,
    durableObjects: {
      USAGE_LIMITER: { className: "UsageLimiter", useSQLite: true },
      RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
    },
    bindings,
  };
}

/** `direct`: also open a socket straight to the worker (`kg.direct`), where a client that hangs up
 * cancels its request (Miniflare's own entry in front of `kg.url` does not pass that on). */
export async function startKeygate({ adminToken = ADMIN_TOKEN, bindings = {}, direct = false } = {}) {
  // UNSAFE_TEST_CLOCK lets a request carry its time in `X-Test-Now` (never set outside tests)
  const vars = { UNSAFE_TEST_CLOCK: "1", ...bindings };
  if (adminToken !== null) vars.ADMIN_TOKEN = adminToken;
  const store = await storeFor();
  const mf = new Miniflare({
    ...(process.env.MF_LOG ? { log: new Log(LogLevel.DEBUG) } : {}),
    host: "127.0.0.1",
    port: 0,
    workers: [{ ...keygateWorker(store, vars), ...(direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}) }],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  // Postgres: the database was made from the migrated template
  let db = store.db;
  if (!db) {
    db = await mf.getD1Database("DB", "keygate");
    const dir = `${ROOT}migrations`;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
      const statements = splitSql(readFileSync(`${dir}/${file}`, "utf8"));
      await db.batch(statements.map((s) => db.prepare(s)));
    }
  }
  const kg = new Keygate(mf, url, db, adminToken, store.drop);
  if (direct) kg.direct = (await mf.unsafeGetDirectURL("keygate")).toString().replace(/\/$/, "");
  return kg;
}

export class Keygate {
  constructor(mf, url, db, adminToken, drop) {
    this.mf = mf;
    this.url = url;
    this.db = db;
    this.adminToken = adminToken;
    this.drop = drop;
    this.agent = new http.Agent({ keepAlive: false, maxSockets: 128 });
  }

  async stop() {
    this.agent.destroy();
    await this.mf.dispose();
    await this.drop?.();
  }

  /** Raw HTTP call: returns { status, body (parsed JSON), text, headers, request (what was asked) }. */
  async call(path, { method, body, rootKey, headers = {}, raw } = {}) {
    const h = { ...headers };
    if (rootKey) h.Authorization = `Bearer ${rootKey}`;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["Content-Type"] = "application/json";
    }
    const m = method ?? (payload === undefined ? "GET" : "POST");
    const res = await request(this.agent, `${this.url}${path}`, { method: m, headers: h, body: payload });
    const text = res.text;
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    // what was asked, for assertion messages (see `ok`)
    const asked = `${m} ${path}${payload === undefined ? "" : ` ${String(payload).slice(0, 300)}`}`;
    return { status: res.status, body: json, text, headers: res.headers, request: asked };
  }

  post(route, body, rootKey, headers) {
    return this.call(`/v1/${route}`, { method: "POST", body, rootKey, headers });
  }

  get(route, query, rootKey) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) qs.set(k, String(v));
    const s = qs.toString();
    return this.call(`/v1/${route}${s ? `?${s}` : ""}`, { method: "GET", rootKey });
  }

  async admin(route, body) {
    const r = await this.call(`/v1/admin.${route}`, { method: "POST", body, headers: { Authorization: `Bearer ${this.adminToken}` } });
    if (r.status !== 200) throw new Error(`admin.${route} failed: ${r.status} ${r.text}`);
    return r.body;
  }

  async workspace(name = "test") {
    return (await this.admin("createWorkspace", { name })).workspaceId;
  }

  async rootKey(workspaceId, permissions = ["*"]) {
    return (await this.admin("createRootKey", { workspaceId, permissions })).key;
  }

  /** A workspace, a `*` root key and an api in it. */
  async setup(permissions = ["*"]) {
    const workspaceId = await this.workspace();
    const rootKey = await this.rootKey(workspaceId, permissions);
    const admin = await this.rootKey(workspaceId, ["*"]);
    const api = await this.post("apis.createApi", { name: "test-api" }, admin);
    if (api.status !== 200) throw new Error(`createApi failed: ${api.text}`);
    return { workspaceId, rootKey, adminRootKey: admin, apiId: api.body.apiId };
  }

  /** The SDK users already have, pointed at this server. */
  sdk(rootKey) {
    return new Unkey({ rootKey, baseUrl: this.url, disableTelemetry: true, retry: { attempts: 0 } });
  }

  /** One row (or null) straight from D1, for asserting stored state. */
  async row(sql, ...args) {
    return (await this.db.prepare(sql).bind(...args).first()) ?? null;
  }

  async rows(sql, ...args) {
    return (await this.db.prepare(sql).bind(...args).all()).results;
  }

  /** The `n` of a `SELECT COUNT(*) AS n …` query. */
  async count(sql, ...args) {
    return (await this.row(sql, ...args)).n;
  }

  /** Row counts of `tables` in one workspace, or (no workspaceId) in every workspace but keygate's
   * own, where root keys and their permissions live (so creating root keys changes nothing). */
  async counts(tables, workspaceId) {
    const out = {};
    for (const t of tables) {
      out[t] = workspaceId === undefined
        ? await this.count(`SELECT COUNT(*) AS n FROM ${t} WHERE workspace_id <> 'ws_keygate'`)
        : await this.count(`SELECT COUNT(*) AS n FROM ${t} WHERE workspace_id = ?`, workspaceId);
    }
    return out;
  }

  // ---- keys ------------------------------------------------------------------------------------

  /** keys.createKey in ctx's api ({apiId, rootKey}) that must succeed; returns {keyId, key}. */
  async createKey(ctx, body = {}) {
    const r = await this.post("keys.createKey", { apiId: ctx.apiId, ...body }, ctx.rootKey);
    assert.equal(r.status, 200, `createKey: ${r.text}`);
    assert.match(r.body.keyId, /^key_/);
    assert.equal(typeof r.body.key, "string");
    return r.body;
  }

  /** keys.getKey with ctx's root key that must answer 200; returns the key. */
  async getKey(ctx, keyId) {
    const r = await this.get("keys.getKey", { keyId }, ctx.rootKey);
    assert.equal(r.status, 200, `getKey: ${r.text}`);
    return r.body;
  }

  /** keys.verifyKey (no Authorization) as it answers: {status, body, …}. */
  verifyKey(body, headers) {
    return this.post("keys.verifyKey", body, undefined, headers);
  }

  /** keys.verifyKey of `key` (plus `extra` fields), which must answer HTTP 200; returns the body. */
  async verify(key, extra = {}, headers) {
    const r = await this.verifyKey({ key, ...extra }, headers);
    assert.equal(r.status, 200, `verifyKey: ${r.text}`);
    return r.body;
  }

  /** The verification code of `key` for a permission query (none when undefined). */
  async codeOf(key, permissions) {
    return (await this.verify(key, permissions === undefined ? {} : { authorization: { permissions } })).code;
  }

  /** The key's credits row, or null. */
  creditsOf(keyId) {
    return this.row("SELECT * FROM credits WHERE key_id = ?", keyId);
  }

  /** The key's legacy credit columns: {remaining_requests, refill_amount, refill_day, last_refill_at}. */
  legacyOf(keyId) {
    return this.row("SELECT remaining_requests, refill_amount, refill_day, last_refill_at FROM keys WHERE id = ?", keyId);
  }

  /** Test-only D1 write: turn a key into a legacy-credits key (keys.remaining_requests & co); the
   * API cannot create one (keygate's createKey always writes credits rows). */
  async seedLegacy(keyId, remaining, { amount = null, day = null, lastRefillAt = null } = {}) {
    await this.db
      .prepare("UPDATE keys SET remaining_requests = ?, refill_amount = ?, refill_day = ?, last_refill_at = ? WHERE id = ?")
      .bind(remaining, amount, day, lastRefillAt, keyId)
      .run();
  }

  /** A key (createKey with `body`) whose balance lives in the legacy columns; returns {keyId, key}. */
  async legacyKey(ctx, remaining, refill = {}, body = {}) {
    const k = await this.createKey(ctx, body);
    await this.seedLegacy(k.keyId, remaining, refill);
    return k;
  }

  /** Test-only D1 write: give a key a credits row directly (for legacy + credits combinations);
   * returns the row's id (`cr_test_…`). */
  async seedCredits(ctx, keyId, remaining, { amount = null, day = null, refilledAt = null } = {}) {
    const id = `cr_test_${++seq}_${Date.now()}`;
    await this.db
      .prepare(
        "INSERT INTO credits (id, workspace_id, key_id, remaining, refill_amount, refill_day, refilled_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .bind(id, ctx.workspaceId, keyId, remaining, amount, day, refilledAt, Date.now())
      .run();
    return id;
  }

  /** How many audit log entries of `event` in the workspace name the key as a target. */
  auditTargets(workspaceId, event, keyId) {
    return this.count(
      "SELECT COUNT(*) AS n FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE l.workspace_id = ? AND l.event = ? AND t.type = 'key' AND t.id = ?",
      workspaceId,
      event,
      keyId,
    );
  }

  /** A second api in ctx's workspace (for "permission on another api" cases); returns its id. */
  async otherApi(ctx) {
    const r = await this.post("apis.createApi", { name: "other-api" }, ctx.adminRootKey);
    assert.equal(r.status, 200, r.text);
    return r.body.apiId;
  }

  /** The key's direct links in D1: permission ids and role ids, sorted. */
  async linked(keyId) {
    const permissions = await this.rows("SELECT permission_id AS id FROM keys_permissions WHERE key_id = ? ORDER BY permission_id", keyId);
    const roles = await this.rows("SELECT role_id AS id FROM keys_roles WHERE key_id = ? ORDER BY role_id", keyId);
    return { permissions: permissions.map((r) => r.id), roles: roles.map((r) => r.id) };
  }

  // ---- identities, permissions, roles -----------------------------------------------------------

  /** identities.createIdentity with ctx's root key that must succeed; returns the identityId. */
  async createIdentity(ctx, body) {
    const r = await this.post("identities.createIdentity", body, ctx.rootKey);
    assert.equal(r.status, 200, r.text);
    return r.body.identityId;
  }

  /** permissions.createPermission with ctx's root key that must succeed; returns the permissionId. */
  async createPermission(ctx, body) {
    return (await ok(this.post("permissions.createPermission", body, ctx.rootKey))).permissionId;
  }

  /** permissions.createRole (with keygate's `permissions` extension: slugs of existing
   * permissions) with ctx's root key that must succeed; returns the roleId. */
  async createRole(ctx, body) {
    return (await ok(this.post("permissions.createRole", body, ctx.rootKey))).roleId;
  }
}

let seq = 0;

/** A fresh name: `<base>_<n>`, so tests sharing a workspace do not collide. */
export const uniq = (base = "user") => `${base}_${++seq}`;

/** Headers that set the request's clock (UNSAFE_TEST_CLOCK) to `ms`. */
export const at = (ms) => ({ "X-Test-Now": String(ms) });

// Rate limits count in fixed windows aligned to the epoch ([k·d, (k+1)·d)): requests of one test
// on the real clock may straddle a window's edge, and the next window rightly has fresh tokens.

/** A time to pin a test's rate-limited requests to (`at(midWindow())` on each): the middle of a
 * `durationMs` window, this one's when it is still ahead, else the next one's (never in the past,
 * at most one window ahead). */
export function midWindow(durationMs = 60_000) {
  const now = Date.now();
  const mid = Math.floor(now / durationMs) * durationMs + durationMs / 2;
  return mid >= now ? mid : mid + durationMs;
}

/** Waits until at least `marginMs` of the current `durationMs` window are left, for the few tests
 * that go through a client which cannot carry `X-Test-Now` (the SDKs' `ratelimits.limit` /
 * `Ratelimit.limit`). */
export async function awayFromWindowEdge(durationMs, marginMs = 20_000) {
  const left = durationMs - (Date.now() % durationMs);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}

/** A call (or its promise) that must answer 200; returns the body. */
export async function ok(res) {
  const r = await res;
  assert.equal(r.status, 200, `${r.request}: ${r.text}`);
  return r.body;
}

/** Standard base64 of the SHA-256 of a string (keygate's key hash). */
export const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("base64");

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** The bytes of a base58 string (Bitcoin alphabet); asserts it is base58. */
export function base58Decode(text) {
  let n = 0n;
  for (const c of text) {
    const i = BASE58.indexOf(c);
    assert.ok(i >= 0, `not base58: ${c} in ${text}`);
    n = n * 58n + BigInt(i);
  }
  const bytes = [];
  while (n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const c of text) {
    if (c !== "1") break;
    bytes.unshift(0);
  }
  return bytes;
}

export const sorted = (list) => [...list].sort();
export const byId = (list) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** The 403 message of a permission query; the root key's permissions are listed sorted. */
export const missingPermissions = (wanted, have) =>
  `Missing one of these permissions: [${wanted.map((w) => `'"${w}"'`).join(", ")}], have: [${sorted(have).map((h) => `'"${h}"'`).join(", ")}]`;

/** Every table a key route writes (for "a refused request wrote nothing"; see Keygate.counts). */
export const KEY_TABLES = ["keys", "credits", "ratelimits", "identities", "permissions", "roles", "keys_permissions", "keys_roles", "encrypted_keys"];

/** Every table the key permission/role routes write, audit log included. */
export const RBAC_TABLES = ["permissions", "roles", "keys_permissions", "keys_roles", "roles_permissions", "audit_log", "keys"];

/** Asserts the v1 error envelope and returns it. */
export function expectError(assert, res, status, code, message) {
  assert.equal(res.status, status, `status of ${res.text}`);
  assert.equal(res.body?.error?.code, code, res.text);
  assert.match(res.body.error.requestId, /^req_/);
  assert.equal(res.body.error.docs, `https://unkey.dev/docs/api-reference/errors/code/${code}`);
  if (message instanceof RegExp) assert.match(res.body.error.message, message);
  else if (message !== undefined) assert.equal(res.body.error.message, message);
  return res.body.error;
}
