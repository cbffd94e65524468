// The verification benchmark (`npm run bench`). One Miniflare (one workerd) serves the built
// keygate worker and a hello-world JavaScript worker (it reads the body and answers a fixed
// verification-shaped body), each on its own direct socket on 127.0.0.1. Load comes from
// keygate-load (tools/load, built by cargo) in a separate process; latencies are each request's
// own, as it happened. Scenarios alternate with the baseline, over several rounds, and every figure
// is reported as a ratio to the baseline measured next to it: the machines are shared and noisy.
// A request counts as a success only if its answer says it verified (`"valid":true`), so a 200
// NOT_FOUND is an error here. "cpu µs" is workerd's CPU time per request during a measurement
// (the workers, their Durable Objects and the local D1 all run in it; the load generator does
// not; with --backend postgres the Postgres server is not counted): steadier than req/s on a
// shared machine, and what a change to the code's own cost moves first.
//
// Two scenarios verify 200 keys while a key is changed through the API (updateKey, up to 20 per
// second) in another workspace, or another key of the same workspace: what the verification
// cache keeps while changes are made.
//
// Then the cost of one analytics flush (one upsert of N hourly rollups), unless --no-flush.
//
// Options: --duration S (per measurement, default 5), --rounds R (default 3), --json FILE,
// --backend d1|postgres (default d1; postgres: the Postgres build on a fresh database of the local
// server scripts/bench.sh starts, bound as Hyperdrive, as the tests run it), --only TEXT (only
// the scenarios whose name contains TEXT, e.g. "plain key"; for iterating, not for reports),
// --storage memory|disk (where Miniflare keeps the local D1's and the objects' files: default
// memory, a RAM disk; `useStorage` in bench/world.mjs says why)
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import { BACKEND, storeFor } from "../tests/backend.mjs";
import { load } from "./bench/load.mjs";
import { BASELINE_BODY, COMPATIBILITY_DATE, KEYS, ROOT, VERIFY, baselineWorker, call, createKeys, keygateWorker as worker, migrate, seed, useStorage, visitAll } from "./bench/world.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const DURATION = Number(arg("--duration", 5));
const ROUNDS = Number(arg("--rounds", 3));
const JSON_OUT = arg("--json", null);
const ONLY = arg("--only", null);
const ADMIN_TOKEN = "bench-admin-token";
const STORAGE = useStorage();

/** keygate; `vars` adds variables. A second instance (another name) shares the first one's D1
 * database and Durable Objects. */
function keygateWorker(store, name = "keygate", vars = {}) {
  const own = worker({ name, dir: store.build, bindings: store.bindings, vars: { ADMIN_TOKEN, ...vars } });
  if (name === "keygate") return own;
  const shared = (className) => ({ className, scriptName: "keygate" });
  return { ...own, durableObjects: { USAGE_LIMITER: shared("UsageLimiter"), RATE_LIMITER: shared("RateLimiter") } };
}

/** What one Durable Object hop costs in this runtime, whatever the code: a JavaScript worker that
 * forwards each request to one object (`/hop`: the object answers at once; `/hop-write`: it first
 * reads and writes a counter in its storage, as a deduction must), through the object's `fetch`
 * as keygate's limiters are called, or as a JS RPC method call (`/rpc`, `/rpc-write`: what that
 * transport would gain). `/many`, `/many-write`: the same, each request to the object named by
 * its body's `key` (one object per balance, as keygate's credits over many keys). `/many-d1`: each
 * of the 1,000 objects writes its counter as a row of one D1 database before it answers — where
 * keygate's usage limiters write a balance back (`migrations/`: a credits row in D1). */
const hopWorker = {
  name: "hop",
  modules: true,
  script: `import { DurableObject } from "cloudflare:workers";
const BODY = ${JSON.stringify(BASELINE_BODY)};
export class Hop extends DurableObject {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/hop-d1") {
      await this.env.DB.prepare("INSERT INTO counters (id, n) VALUES (?1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1")
        .bind(this.ctx.id.toString())
        .run();
    }
    await this.spend(path === "/hop-write");
    return new Response(BODY, { headers: { "content-type": "application/json" } });
  }
  async spend(write) {
    if (write) this.ctx.storage.put("n", ((await this.ctx.storage.get("n")) ?? 0) + 1);
    return BODY;
  }
}
export default {
  async fetch(request, env) {
    const body = await request.text();
    const path = new URL(request.url).pathname;
    const stub = env.HOP.get(env.HOP.idFromName(path.startsWith("/many") ? JSON.parse(body).key : "one"));
    if (path.startsWith("/rpc")) {
      return new Response(await stub.spend(path === "/rpc-write"), { headers: { "content-type": "application/json" } });
    }
    return stub.fetch(request.url.replace("/many", "/hop"));
  },
};`,
  compatibilityDate: COMPATIBILITY_DATE,
  durableObjects: { HOP: { className: "Hop", useSQLite: true } },
  d1Databases: { DB: "cccccccc-0000-0000-0000-000000000000" },
  unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
};

async function start() {
  const store = await storeFor();
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [keygateWorker(store), keygateWorker(store, "nocache", { VERIFY_CACHE_TTL_MS: "0" }), baselineWorker(), hopWorker],
  });
  await mf.ready;
  if (!store.db) await migrate(mf, "keygate");
  await (await mf.getD1Database("DB", "hop")).exec("CREATE TABLE counters (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
  const url = async (name) => (await mf.unsafeGetDirectURL(name)).toString().replace(/\/$/, "");
  const dispose = async () => {
    await mf.dispose();
    await store.drop?.();
  };
  return { mf, dispose, keygate: await url("keygate"), nocache: await url("nocache"), baseline: await url("baseline"), hop: await url("hop") };
}

/** A scenario over many keys sits idle while the others are measured: long enough for the
 * runtime to evict its objects (after ~10 s) and for its verification-cache entries to expire
 * (`VERIFY_CACHE_TTL_MS`, 5 s), so a measurement would mostly time cold starts — a state that a
 * key verified every few seconds never reaches. Each measurement of it therefore follows one
 * request per key. */
async function rewarm(url, sc) {
  if (sc.keys.length > 1) await visitAll(url, sc);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Changes made through the API while a scenario is measured (`sc.changing`: a key and the root
 * key of its workspace): an updateKey of that key every 50 ms (20 per second; at most 4 in
 * flight, so fewer when keygate answers them slower) until `done` settles; the number of changes
 * made. */
async function changing(base, sc, done) {
  if (!sc.changing) return 0;
  let stop = false;
  done.finally(() => (stop = true)).catch(() => {});
  const inFlight = new Set();
  let n = 0;
  while (!stop) {
    if (inFlight.size < 4) {
      const change = call(base, "/v1/keys.updateKey", { keyId: sc.changing.keyId, name: `changed-${n++}` }, sc.changing.root)
        // a connection node's fetch found closed (see `post`) is not keygate's answer
        .catch((e) => {
          if (!(e instanceof TypeError)) throw e;
        });
      inFlight.add(change);
      change.finally(() => inFlight.delete(change)).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await Promise.all(inFlight);
  return n;
}

/** One measurement of a scenario, with its changes made meanwhile (see `changing`). */
async function measure(base, url, sc, options) {
  const measured = load(url, { ...sc, ...options });
  const changes = await changing(base, sc, measured);
  const r = await measured;
  if (sc.changing) r.changesPerS = changes / options.seconds;
  return r;
}

/** The cost of one analytics flush: an analytics read flushes the isolate's rollups first, so its
 * time over a read with nothing to flush is the cost of one upsert of N rollups (each
 * verification gets a tag set of its own, so N verifications make N rollups, below the
 * 1000-verification flush). */
async function flushCost(keygate, root, apiId, create) {
  const key = await create({});
  const probe = new URLSearchParams({ apiId, start: String(Date.now() - 3_600_000), keyId: "key_none" });
  const read = async () => {
    const t0 = performance.now();
    const r = await fetch(`${keygate}/v1/analytics.getVerifications?${probe}`, { headers: { Authorization: `Bearer ${root}` } });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`analytics read: ${r.status} ${text}`);
    return performance.now() - t0;
  };
  const rows = [];
  for (const n of [1, 100, 500, 900]) {
    const costs = [];
    for (let round = 0; round < ROUNDS; round++) {
      await new Promise((r) => setTimeout(r, 5_500)); // the delayed flush of the previous round has run
      await read();
      let next = 0;
      const verifier = async () => {
        while (next < n) {
          const i = next++;
          await call(keygate, "/v1/keys.verifyKey", { key, tags: [`n${n}-r${round}-${i}`] });
        }
      };
      await Promise.all(Array.from({ length: 32 }, verifier));
      const flushing = await read();
      costs.push(flushing - (await read()));
    }
    rows.push({ rollups: n, ms: median(costs) });
  }
  console.log(`\nanalytics flush (one upsert of N new rollups), median of ${ROUNDS} rounds\n`);
  console.log("rollups".padStart(8), "flush ms".padStart(10), "µs/rollup".padStart(10));
  for (const { rollups, ms } of rows) {
    console.log(String(rollups).padStart(8), ms.toFixed(2).padStart(10), ((ms * 1000) / rollups).toFixed(1).padStart(10));
  }
  return rows;
}

async function main() {
  const wasm = `${ROOT}${BACKEND === "postgres" ? "build-pg" : "build"}/index_bg.wasm`;
  console.log(`backend: ${BACKEND}`);
  const size = { bytes: statSync(wasm).size, gzipped: gzipSync(readFileSync(wasm)).length };

  // the first request after a cold start (a fresh workerd: wasm compiled and instantiated)
  const cold = await start();
  let t0 = performance.now();
  await fetch(`${cold.keygate}/v1/liveness`).then((r) => r.text());
  const coldFirstMs = performance.now() - t0;
  await cold.dispose();

  const { dispose, keygate, nocache, baseline, hop } = await start();
  try {
    const { root, apiId, create } = await seed(keygate, ADMIN_TOKEN);
    const many = await createKeys(create, KEYS.credits, 1000);
    // 200 plain keys of one workspace; a key of theirs and one of another workspace to change
    const plain = await createKeys(create, KEYS.plain, 200);
    const sibling = (await call(keygate, "/v1/keys.createKey", { apiId }, root)).keyId;
    const other = await seed(keygate, ADMIN_TOKEN);
    const stranger = (await call(keygate, "/v1/keys.createKey", { apiId: other.apiId }, other.root)).keyId;
    const objects = Array.from({ length: 1000 }, (_, i) => `balance-${i}`);
    const scenarios = [
      { name: "verify, plain key", keys: [await create(KEYS.plain)], connections: 32, ...VERIFY },
      // the same with the verification cache off (VERIFY_CACHE_TTL_MS=0: storage read every time)
      { name: "verify, plain key, VERIFY_CACHE_TTL_MS=0", keys: [await create(KEYS.plain)], connections: 32, ...VERIFY, base: nocache },
      { name: "verify, credits (one key)", keys: [await create(KEYS.credits)], connections: 32, ...VERIFY },
      { name: "verify, rate limit", keys: [await create(KEYS.rate)], connections: 32, ...VERIFY },
      {
        name: "verify, credits + rate limit",
        keys: [await create(KEYS.both)],
        connections: 32,
        ...VERIFY,
      },
      { name: "verify, credits over 1,000 keys", keys: many, connections: 32, ...VERIFY },
      // the verification cache while changes are made through keygate (a change elsewhere
      // leaves these keys cached: docs/performance.md, "Freshness")
      { name: "verify, 200 plain keys", keys: plain, connections: 32, ...VERIFY },
      {
        name: "verify, 200 plain keys, another workspace changing",
        keys: plain,
        connections: 32,
        ...VERIFY,
        changing: { keyId: stranger, root: other.root },
      },
      {
        name: "verify, 200 plain keys, another key changing",
        keys: plain,
        connections: 32,
        ...VERIFY,
        changing: { keyId: sibling, root },
      },
      { name: "verify, one hot key with credits, 64 conn", keys: [await create(KEYS.credits)], connections: 64, ...VERIFY },
      {
        name: "createKey",
        keys: ["-"],
        connections: 32,
        body: JSON.stringify({ apiId, remaining: 100 }),
        expect: '"keyId"',
        auth: root,
      },
    ];
    // not keygate: the ceiling of any design with one object hop per verification, in this runtime
    scenarios.push(
      // the runtime's own tail where the hot key is measured (its p99 is mostly the collector's pauses)
      { name: "(hello-world JS worker, 64 conn)", keys: ["-"], connections: 64, ...VERIFY, url: `${baseline}/v1/keys.verifyKey` },
      { name: "(JS worker → Durable Object)", keys: ["-"], connections: 32, ...VERIFY, url: `${hop}/hop` },
      { name: "(JS worker → Durable Object + write)", keys: ["-"], connections: 32, ...VERIFY, url: `${hop}/hop-write` },
      { name: "(JS worker → Durable Object, RPC)", keys: ["-"], connections: 32, ...VERIFY, url: `${hop}/rpc` },
      { name: "(JS worker → Durable Object + write, RPC)", keys: ["-"], connections: 32, ...VERIFY, url: `${hop}/rpc-write` },
      { name: "(JS worker → 1,000 Durable Objects)", keys: objects, connections: 32, ...VERIFY, url: `${hop}/many` },
      { name: "(JS worker → 1,000 Durable Objects + write)", keys: objects, connections: 32, ...VERIFY, url: `${hop}/many-write` },
      { name: "(JS worker → 1,000 Durable Objects + D1 write)", keys: objects, connections: 32, ...VERIFY, url: `${hop}/many-d1` },
    );
    if (ONLY) {
      scenarios.splice(0, scenarios.length, ...scenarios.filter((sc) => sc.name.includes(ONLY)));
      if (!scenarios.length) throw new Error(`--only ${JSON.stringify(ONLY)}: no scenario's name contains it`);
    }
    const base = { name: "baseline: hello-world JS worker", keys: ["-"], connections: 32, ...VERIFY };
    const baseUrl = `${baseline}/v1/keys.verifyKey`;
    const urlOf = (sc) => sc.url ?? `${sc.base ?? keygate}/v1/${sc.name === "createKey" ? "keys.createKey" : "keys.verifyKey"}`;

    // warm up every code path and object: first one request per key (a scenario over many keys
    // would otherwise measure objects started and keys read for the first time), then load
    for (const sc of scenarios.filter((sc) => sc.keys.length > 1)) await visitAll(urlOf(sc), sc);
    await load(baseUrl, { ...base, seconds: 2 });
    for (const sc of scenarios) await load(urlOf(sc), { ...sc, seconds: 2 });

    const results = new Map([[base.name, []], ...scenarios.map((sc) => [sc.name, []])]);
    const seq = new Map(scenarios.map((sc) => [sc.name, []]));
    const seqBase = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const sc of scenarios) {
        // the baseline right before each scenario, so drift hits both alike
        const b = await load(baseUrl, { ...base, seconds: DURATION });
        results.get(base.name).push(b);
        await rewarm(urlOf(sc), sc);
        const r = await measure(keygate, urlOf(sc), sc, { seconds: DURATION });
        r.ratio = r.rps / b.rps;
        results.get(sc.name).push(r);
      }
      seqBase.push(await load(baseUrl, { ...base, connections: 1, seconds: Math.max(2, Math.round(DURATION / 2)) }));
      for (const sc of scenarios) {
        await rewarm(urlOf(sc), sc);
        const seconds = Math.max(2, Math.round(DURATION / 2));
        seq.get(sc.name).push(await measure(keygate, urlOf(sc), sc, { connections: 1, seconds }));
      }
    }

    const rows = [base, ...scenarios].map((sc) => {
      const rs = results.get(sc.name);
      const s = sc === base ? seqBase : seq.get(sc.name);
      return {
        scenario: sc.name,
        connections: sc.connections,
        rps: median(rs.map((r) => r.rps)),
        ratio: sc === base ? 1 : median(rs.map((r) => r.ratio)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        p999: median(rs.map((r) => r.p999)),
        errors: rs.reduce((n, r) => n + r.errors, 0),
        requests: rs.reduce((n, r) => n + r.requests, 0),
        sequentialP50: median(s.map((r) => r.p50)),
        cpuUs: rs.some((r) => r.cpuUs === null) ? null : median(rs.map((r) => r.cpuUs)),
        ...(sc.changing ? { changesPerS: median(rs.map((r) => r.changesPerS)) } : {}),
      };
    });
    console.log(`\nkeygate benchmark — ${ROUNDS} rounds × ${DURATION} s per measurement, medians; keygate-load (1 thread) in a separate process`);
    console.log(`storage (the local D1's and the objects' files): ${STORAGE === "memory" ? "memory (/dev/shm)" : "disk"}`);
    console.log(`wasm: ${size.bytes} bytes (${size.gzipped} gzipped); first request after a cold start: ${coldFirstMs.toFixed(1)} ms\n`);
    console.log(
      "scenario".padEnd(44),
      "conn".padStart(4),
      "req/s".padStart(8),
      "× base".padStart(7),
      "p50 ms".padStart(7),
      "p99 ms".padStart(7),
      "p99.9".padStart(7),
      "errors".padStart(7),
      "seq p50".padStart(8),
      "cpu µs".padStart(7),
    );
    for (const r of rows) {
      console.log(
        r.scenario.padEnd(44),
        String(r.connections).padStart(4),
        r.rps.toFixed(0).padStart(8),
        r.ratio.toFixed(2).padStart(7),
        r.p50.toFixed(1).padStart(7),
        r.p99.toFixed(1).padStart(7),
        r.p999.toFixed(1).padStart(7),
        `${r.errors}`.padStart(7),
        r.sequentialP50.toFixed(2).padStart(8),
        (r.cpuUs === null ? "–" : r.cpuUs.toFixed(0)).padStart(7),
      );
    }
    for (const r of rows.filter((r) => r.changesPerS !== undefined)) {
      console.log(`${r.scenario}: ${r.changesPerS.toFixed(1)} changes per second while measured`);
    }
    const flush = process.argv.includes("--no-flush") ? [] : await flushCost(keygate, root, apiId, create);
    if (JSON_OUT) {
      writeFileSync(JSON_OUT, JSON.stringify({ backend: BACKEND, storage: STORAGE, duration: DURATION, rounds: ROUNDS, wasm: size, coldFirstMs, rows, flush }, null, 2));
      console.log(`\nwritten to ${JSON_OUT}`);
    }
  } finally {
    await dispose();
  }
}

await main();
