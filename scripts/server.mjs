// A local keygate started as `npm start` starts it: the built worker under `wrangler dev` on
// 127.0.0.1, its D1 database and Durable Objects persisted in a state directory (migrations
// applied with `wrangler d1 migrations apply --local`). Used by the fuzz and chaos scripts.
//
// wrangler runs in its own process group (wrangler, esbuild, workerd), so `kill()` ends every
// process it started, by that group's id, and nothing else.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { openSync, closeSync } from "node:fs";
import { randomBytes } from "node:crypto";

export const ROOT = new URL("..", import.meta.url).pathname;

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Applies the D1 migrations to the local database in `stateDir`. */
export function migrate(stateDir) {
  execFileSync("wrangler", ["d1", "migrations", "apply", "keygate", "--local", "--persist-to", stateDir], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "1" },
  });
}

/**
 * Starts keygate on `stateDir` (which must be migrated) and waits until it answers.
 * `vars` are worker variables (ADMIN_TOKEN, ENCRYPTION_KEY, ...). Returns
 * `{ url, port, pid, kill(signal) }`; the server's output goes to `log`.
 */
export async function start({ stateDir, port, vars = {}, log }) {
  port ??= await freePort();
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", stateDir, "--show-interactive-dev-session=false", "--inspector-port", String(await freePort())];
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  const out = openSync(log, "a");
  const child = spawn("wrangler", args, {
    cwd: ROOT,
    detached: true, // its own process group: killed as one, by its id
    stdio: ["ignore", out, out],
    env: { ...process.env, CI: "1" },
  });
  closeSync(out);
  let exited = false;
  child.on("exit", () => (exited = true));
  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    /** Signals wrangler and everything it started (its process group). */
    kill(signal = "SIGTERM") {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
      return new Promise((resolve) => (exited ? resolve() : child.once("exit", resolve)));
    },
  };
  for (let i = 0; i < 240; i++) {
    if (exited) throw new Error(`wrangler dev exited; see ${log}`);
    try {
      const r = await fetch(`${server.url}/v1/liveness`);
      if (r.status === 200) return server;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await server.kill("SIGKILL");
  throw new Error(`keygate did not come up on ${server.url}; see ${log}`);
}

/** A random secret for ADMIN_TOKEN / ENCRYPTION_KEY. */
export const secret = (bytes = 32) => randomBytes(bytes).toString("base64");

/** Calls the operator API. */
export async function admin(url, token, route, body) {
  const r = await fetch(`${url}/v1/admin.${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`admin.${route}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Calls a v1 route with a root key: POST with a body, GET (query in `route`) without. */
export async function call(url, rootKey, route, body) {
  const r = await fetch(`${url}/v1/${route}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { ...(rootKey ? { Authorization: `Bearer ${rootKey}` } : {}), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, body: json, text };
}

/** A workspace with a `*` root key and an api, through the operator API. */
export async function seed(url, adminToken) {
  const { workspaceId } = await admin(url, adminToken, "createWorkspace", { name: "seeded" });
  const { key: rootKey } = await admin(url, adminToken, "createRootKey", { workspaceId, permissions: ["*"], name: "seed" });
  const api = await call(url, rootKey, "apis.createApi", { name: "seeded-api" });
  if (api.status !== 200) throw new Error(`apis.createApi: ${api.status} ${api.text}`);
  return { workspaceId, rootKey, apiId: api.body.apiId };
}
