// What the benchmark scripts share (`bench.mjs`, `bench-ab.mjs`, `bench/profile.mjs`): the
// hello-world baseline worker, the keygate worker's Miniflare options, migrating its D1 database,
// seeding through the API (`seed`, `createKeys`), the key each verification scenario verifies,
// warming every key of a scenario (`visitAll`), and where Miniflare keeps its storage while they
// run (`useStorage`).
import { W_OK, accessSync, readFileSync, readdirSync } from "node:fs";
import { splitSql } from "../../tests/helpers.mjs";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const COMPATIBILITY_DATE = "2026-08-01";
const DIRECT = [{ host: "127.0.0.1", port: 0 }];

/** Where Miniflare keeps the local D1 and the Durable Objects' SQLite files while a benchmark runs:
 * `--storage memory` (the default: a RAM disk, `/dev/shm`) or `--storage disk` (the system's
 * temporary directory, Miniflare's own default). workerd runs every worker, object and the local
 * D1 on one thread and commits their SQLite files there: on disk, each commit's `fsync` holds that
 * thread (strace on this machine's VM disk: ~0.8 ms per call, 1,412 calls in 8 s of the 1,000-object
 * ceiling), so the hello-world's requests and keygate's wait for the disk alike. On the edge a D1
 * query and an object's storage run on other machines, never on the worker's thread, and their
 * durability is theirs: the code path is the same either way (every write awaited before the
 * reply). Measured in one run each (docs/performance.md, "How it is measured"): the JavaScript
 * ceilings one object + write 0.15 on disk against 0.25 in memory, 1,000 objects + write 0.09
 * against 0.33. Sets `TMPDIR`, which Miniflare reads when it is constructed; answers what was
 * chosen, `disk` too when there is no writable `/dev/shm`. */
export function useStorage(argv = process.argv) {
  const i = argv.indexOf("--storage");
  const asked = i >= 0 ? argv[i + 1] : "memory";
  if (asked !== "memory" && asked !== "disk") throw new Error(`--storage ${asked}: one of memory, disk`);
  if (asked === "disk") return "disk";
  try {
    accessSync("/dev/shm", W_OK);
  } catch {
    console.log("storage: no writable /dev/shm here, so on disk");
    return "disk";
  }
  process.env.TMPDIR = "/dev/shm";
  return "memory";
}

/** The hello-world's answer: shaped like a verification's. */
export const BASELINE_BODY = JSON.stringify({
  keyId: "key_0000000000000000",
  valid: true,
  code: "VALID",
  enabled: true,
  permissions: [],
  roles: [],
  requestId: "req_0000000000000000",
});

/** The baseline: a JavaScript worker that reads the body (a worker that leaves it unread makes
 * workerd close the connection) and answers a fixed verification-shaped body. */
export const baselineWorker = (name = "baseline") => ({
  name,
  modules: true,
  script: `const BODY = ${JSON.stringify(BASELINE_BODY)};
export default {
  async fetch(request) {
    await request.text();
    return new Response(BODY, { headers: { "content-type": "application/json" } });
  },
};`,
  compatibilityDate: COMPATIBILITY_DATE,
  unsafeDirectSockets: DIRECT,
});

/** The built keygate in directory `dir` (inside the repository: workerd refuses module paths
 * outside its starting directory) as worker `name`, with the store `bindings` (D1 or
 * Hyperdrive), its own Durable Objects, and `vars`. */
export const keygateWorker = ({ name, dir, bindings, vars = {} }) => ({
  name,
  modules: true,
  scriptPath: `${dir.startsWith("/") ? dir : ROOT + dir}/index.js`,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
  compatibilityDate: COMPATIBILITY_DATE,
  ...bindings,
  durableObjects: {
    USAGE_LIMITER: { className: "UsageLimiter", useSQLite: true },
    RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
  },
  bindings: vars,
  unsafeDirectSockets: DIRECT,
});

/** Applies keygate's migrations to the D1 database `DB` of worker `name`. */
export async function migrate(mf, name) {
  const db = await mf.getD1Database("DB", name);
  for (const file of readdirSync(`${ROOT}migrations`).filter((f) => f.endsWith(".sql")).sort()) {
    await db.batch(splitSql(readFileSync(`${ROOT}migrations/${file}`, "utf8")).map((s) => db.prepare(s)));
  }
}

/** One POST to keygate that must answer 200; its JSON body. */
export async function call(base, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** A workspace, a root key with every permission and an api, through the API (`adminToken`: the
 * worker's `ADMIN_TOKEN`); `create(extra)` makes a key of that api and answers its secret. */
export async function seed(base, adminToken) {
  const ws = await call(base, "/v1/admin.createWorkspace", { name: "bench" }, adminToken);
  const { key: root } = await call(base, "/v1/admin.createRootKey", { workspaceId: ws.workspaceId, permissions: ["*"] }, adminToken);
  const { apiId } = await call(base, "/v1/apis.createApi", { name: "bench" }, root);
  const create = async (extra) => (await call(base, "/v1/keys.createKey", { apiId, ...extra }, root)).key;
  return { root, apiId, create };
}

/** `count` keys made by `create` (from `seed`) with createKey's fields `extra`, 50 at a time;
 * their secrets. */
export async function createKeys(create, extra, count) {
  const keys = [];
  while (keys.length < count) {
    keys.push(...(await Promise.all(Array.from({ length: Math.min(50, count - keys.length) }, () => create(extra)))));
  }
  return keys;
}

/** A POST whose connection failed is sent again (twice at most): node's fetch may reuse a
 * keep-alive connection that the server has just closed (ECONNRESET), which says nothing of
 * keygate. */
async function post(url, body, attempts = 3) {
  try {
    return await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  } catch (e) {
    if (attempts <= 1) throw e;
    return post(url, body, attempts - 1);
  }
}

/** One request per key of `sc` ({ keys, body with `%KEY%`, expect }), 32 at a time, each checked
 * like a measured one: a key's object and cache entry are then warm, as under steady load. */
export async function visitAll(url, sc) {
  let next = 0;
  const visitor = async () => {
    while (next < sc.keys.length) {
      const body = sc.body.replace("%KEY%", sc.keys[next++]);
      const r = await post(url, body);
      const text = await r.text();
      if (r.status !== 200 || !text.includes(sc.expect)) throw new Error(`warm-up of ${sc.name ?? url}: ${r.status} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, visitor));
}

/** A verification request of the load generator (`%KEY%`: each key in turn), and the text of an
 * answer that counts: a 200 `NOT_FOUND` is an error. */
export const VERIFY = { body: '{"key":"%KEY%"}', expect: '"valid":true' };

const BIG = 1_000_000_000;
/** The kinds of key the verification scenarios verify (createKey's extra fields). */
export const KEYS = {
  plain: {},
  credits: { remaining: BIG },
  rate: { ratelimit: { limit: BIG, duration: 60_000 } },
  both: { remaining: BIG, ratelimit: { limit: BIG, duration: 60_000 } },
};
