// A CPU profile of keygate under load (`npm run bench:profile -- [scenario]`): V8's sampling
// profiler, through workerd's inspector, on the isolate that runs the keygate worker and its
// Durable Objects, while keygate-load drives one scenario (32 connections). Prints the share of
// the samples per function (self time), the isolate's idle share and its garbage collector's.
// For function names build with `KEYGATE_KEEP_NAMES=1 npm run build` (a release build strips
// them: Wasm frames then show as `wasm-function[N]`). For finding where the time goes, not for
// figures: a profiler that samples every 100 µs slows what it measures.
//
// Scenarios: plain (default), credits, rate, both, spread (credits over 1,000 keys); hello: the bench's hello-world JavaScript worker
// (in the same workerd), to compare with. Options: --seconds S (default 6),
// --connections N (default 32), --top N (rows, default 40), --json FILE (the raw .cpuprofile,
// for Chrome's DevTools), --build DIR (a build other than build/, inside the repository),
// --storage memory|disk (as `npm run bench`).
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { Miniflare } from "miniflare";
import { storeFor } from "../../tests/backend.mjs";
import { load } from "./load.mjs";
import { KEYS, VERIFY, baselineWorker, createKeys, keygateWorker, migrate, seed, useStorage, visitAll } from "./world.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const SCENARIO = process.argv.slice(2).find((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--")) ?? "plain";
const SECONDS = Number(arg("--seconds", 6));
const CONNECTIONS = Number(arg("--connections", 32));
const TOP = Number(arg("--top", 40));
const JSON_OUT = arg("--json", null);
const BUILD = arg("--build", null);
const ADMIN_TOKEN = "profile-admin-token";
useStorage();
/** spread: credits over 1,000 keys (one usage limiter each), as the bench's row. */
const KIND = SCENARIO === "spread" ? "credits" : SCENARIO;
const COUNT = SCENARIO === "spread" ? Number(arg("--keys", 1000)) : 1;
if (SCENARIO !== "hello" && !KEYS[KIND]) {
  throw new Error(`unknown scenario ${SCENARIO}: one of hello, spread, ${Object.keys(KEYS).join(", ")}`);
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** One DevTools protocol session on the inspector's target `name`. */
async function inspect(port, name) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.id === name || t.title === name || t.webSocketDebuggerUrl?.endsWith(`/${name}`));
  if (!target) throw new Error(`no inspector target ${name}: ${JSON.stringify(targets.map((t) => t.id))}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 0;
  const pending = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    msg.error ? p.reject(new Error(JSON.stringify(msg.error))) : p.resolve(msg.result);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self time per function (µs) and the profile's total. */
function selfTimes(profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const { functionName, url, lineNumber } = byNode.get(id).callFrame;
    const where = url ? ` ${url.split("/").pop()}:${lineNumber + 1}` : "";
    const name = `${functionName || "(anonymous)"}${where}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  return { self, total };
}

async function main() {
  const store = await storeFor();
  const port = await freePort();
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    inspectorPort: port,
    workers: [
      keygateWorker({ name: "keygate", dir: BUILD ?? store.build, bindings: store.bindings, vars: { ADMIN_TOKEN } }),
      baselineWorker("hello"),
    ],
  });
  try {
    await mf.ready;
    if (!store.db) await migrate(mf, "keygate");
    const base = (await mf.unsafeGetDirectURL("keygate")).toString().replace(/\/$/, "");
    const hello = SCENARIO === "hello";
    const keys = hello ? ["-"] : await createKeys((await seed(base, ADMIN_TOKEN)).create, KEYS[KIND], COUNT);
    const sc = { keys, ...VERIFY, connections: CONNECTIONS };
    const origin = hello ? (await mf.unsafeGetDirectURL("hello")).toString().replace(/\/$/, "") : base;
    const url = `${origin}/v1/keys.verifyKey`;
    if (keys.length > 1) await visitAll(url, sc);
    await load(url, { ...sc, seconds: 2 });

    const session = await inspect(port, `core:user:${hello ? "hello" : "keygate"}`);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 100 });
    await session.send("Profiler.start");
    const r = await load(url, { ...sc, seconds: SECONDS });
    const { profile } = await session.send("Profiler.stop");
    session.close();
    if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(profile));

    const { self, total } = selfTimes(profile);
    const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5);
    console.log(`${SCENARIO}: ${r.rps.toFixed(0)} req/s while profiled, ${r.errors} errors, ${r.ok} verified; ${(total / 1e6).toFixed(2)} s profiled`);
    console.log(`per verification: ${(total / r.ok).toFixed(1)} µs of the isolate's time (idle included)\n`);
    const groups = new Map();
    for (const [name, us] of self) {
      const group = / keygate\.wasm|^wasm-function/.test(name)
        ? "keygate's Wasm (Rust)"
        : / keygate\.mjs:/.test(name)
          ? "wasm-bindgen's glue (keygate.mjs)"
          : / index\.js:| script-\d+:/.test(name)
            ? "the worker's JavaScript"
            : /^\((idle|program|garbage collector)\)$/.test(name)
              ? name
              : "runtime APIs and other";
      groups.set(group, (groups.get(group) ?? 0) + us);
    }
    for (const [name, us] of [...groups].sort((a, b) => b[1] - a[1])) {
      console.log(`${pct(us)} %  ${(us / r.ok).toFixed(2).padStart(7)} µs/req  [${name}]`);
    }
    console.log("");
    for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`${pct(us)} %  ${(us / r.ok).toFixed(2).padStart(7)} µs/req  ${name}`);
    }
  } finally {
    await mf.dispose();
    await store.drop?.();
  }
}

await main();
