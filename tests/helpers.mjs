// Test harness: runs the built worker (build/index.js) in Miniflare with a fresh in-memory D1
// database (migrations applied) and Durable Objects, bound to 127.0.0.1 on a random port.
import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import { Miniflare, Log, LogLevel } from "miniflare";
import { Unkey } from "@unkey/api";

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

export async function startKeygate({ adminToken = ADMIN_TOKEN, bindings = {} } = {}) {
  // UNSAFE_TEST_CLOCK lets a request carry its time in `X-Test-Now` (never set outside tests)
  const vars = { UNSAFE_TEST_CLOCK: "1", ...bindings };
  if (adminToken !== null) vars.ADMIN_TOKEN = adminToken;
  const mf = new Miniflare({
    ...(process.env.MF_LOG ? { log: new Log(LogLevel.DEBUG) } : {}),
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        name: "keygate",
        modules: true,
        scriptPath: `${ROOT}build/index.js`,
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
        compatibilityDate: "2026-08-01",
        d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
        durableObjects: {
          USAGE_LIMITER: { className: "UsageLimiter", useSQLite: true },
          RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
        },
        bindings: vars,
      },
    ],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB", "keygate");
  const dir = `${ROOT}migrations`;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = splitSql(readFileSync(`${dir}/${file}`, "utf8"));
    await db.batch(statements.map((s) => db.prepare(s)));
  }
  return new Keygate(mf, url, db, adminToken);
}

export class Keygate {
  constructor(mf, url, db, adminToken) {
    this.mf = mf;
    this.url = url;
    this.db = db;
    this.adminToken = adminToken;
    this.agent = new http.Agent({ keepAlive: false, maxSockets: 128 });
  }

  async stop() {
    this.agent.destroy();
    await this.mf.dispose();
  }

  /** Raw HTTP call: returns { status, body, headers }. */
  async call(path, { method, body, rootKey, headers = {}, raw } = {}) {
    const h = { ...headers };
    if (rootKey) h.Authorization = `Bearer ${rootKey}`;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["Content-Type"] = "application/json";
    }
    const res = await request(this.agent, `${this.url}${path}`, { method: method ?? (payload === undefined ? "GET" : "POST"), headers: h, body: payload });
    const text = res.text;
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, text, headers: res.headers };
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
}

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
