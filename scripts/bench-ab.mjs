// A/B of two builds of keygate in ONE workerd (`npm run bench:ab -- DIR_A DIR_B [scenario]`): for
// deciding whether a change to the code pays, where two separate `npm run bench` runs differ by
// more than the change (the machines are shared). Each build gets its own D1 database, objects and
// key; the rounds alternate the builds (A B, B A, ...), each measurement right after one of the
// hello-world, and report each build's ratios to it and workerd's CPU time per request (as
// `npm run bench` does). Both directories must be inside the repository (workerd refuses module
// paths outside its starting directory): e.g. `cp -r build _ab/A`, change, build, `cp -r build
// _ab/B` (`_ab/` is ignored by git).
//
// scenario: plain (default), credits, rate, both, spread (credits over 1,000 keys, as the bench's
// row; --keys N for another count). Options: --rounds R (default 6), --duration S (default 3),
// --connections C (default 32), --settle S (seconds of load before each measurement, default 0),
// --storage memory|disk (as `npm run bench`).
import { Miniflare } from "miniflare";
import { load } from "./bench/load.mjs";
import { KEYS, VERIFY, baselineWorker, createKeys, keygateWorker, migrate, seed, useStorage, visitAll } from "./bench/world.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const [A, B, SCENARIO = "plain"] = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
const ROUNDS = Number(arg("--rounds", 6));
const DURATION = Number(arg("--duration", 3));
const CONNECTIONS = Number(arg("--connections", 32));
/** Seconds of unmeasured load before each measurement (after the rewarm): longer than
 * `VERIFY_CACHE_TTL_MS` measures the cache as it is under steady load, not just after every key
 * was read. */
const SETTLE = Number(arg("--settle", 0));
const KIND = SCENARIO === "spread" ? "credits" : SCENARIO;
const COUNT = SCENARIO === "spread" ? Number(arg("--keys", 1000)) : 1;
if (!A || !B || !KEYS[KIND]) {
  console.error("usage: node scripts/bench-ab.mjs DIR_A DIR_B [plain|credits|rate|both|spread] [--rounds R] [--duration S] [--connections C] [--keys N] [--settle S] [--storage memory|disk]");
  process.exit(2);
}
const ADMIN_TOKEN = "bench-ab-admin-token";
console.log(`storage: ${useStorage()}`);
const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  workers: [
    keygateWorker({ name: "a", dir: A, bindings: { d1Databases: { DB: "aaaaaaaa-0000-0000-0000-000000000000" } }, vars: { ADMIN_TOKEN } }),
    keygateWorker({ name: "b", dir: B, bindings: { d1Databases: { DB: "bbbbbbbb-0000-0000-0000-000000000000" } }, vars: { ADMIN_TOKEN } }),
    baselineWorker(),
  ],
});
try {
  await mf.ready;
  const targets = {};
  for (const name of ["a", "b", "baseline"]) {
    const url = String(await mf.unsafeGetDirectURL(name)).replace(/\/$/, "");
    let keys = ["-"];
    if (name !== "baseline") {
      await migrate(mf, name);
      keys = await createKeys((await seed(url, ADMIN_TOKEN)).create, KEYS[KIND], COUNT);
    }
    targets[name] = { url: `${url}/v1/keys.verifyKey`, keys };
  }

  // a scenario over many keys: one request per key right before each measurement (as `npm run
  // bench` does), or the measurement would time objects and cache entries gone cold while the
  // other build was measured
  const rewarm = async (name) => {
    const { url, keys } = targets[name];
    if (keys.length > 1) await visitAll(url, { name, keys, ...VERIFY });
  };
  const measure = (name, seconds) =>
    load(targets[name].url, { connections: CONNECTIONS, seconds, keys: targets[name].keys, ...VERIFY });

  for (const name of ["a", "b", "baseline"]) {
    await rewarm(name);
    await measure(name, 2); // warm-up
  }
  const results = { a: [], b: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? ["b", "a"] : ["a", "b"]) {
      const base = await measure("baseline", DURATION);
      await rewarm(name);
      if (SETTLE > 0) await measure(name, SETTLE);
      const r = await measure(name, DURATION);
      results[name].push({ ...r, ratio: r.rps / base.rps });
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(`${SCENARIO}, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION} s`);
  for (const [name, d] of [["a", A], ["b", B]]) {
    const rs = results[name];
    console.log(
      `${name.toUpperCase()} ${d}: × baseline ${median(rs.map((r) => r.ratio)).toFixed(3)} (${rs.map((r) => r.ratio.toFixed(2)).join(" ")}),`,
      `cpu µs/request ${median(rs.map((r) => r.cpuUs)).toFixed(0)} (${rs.map((r) => r.cpuUs.toFixed(0)).join(" ")}),`,
      `p99 ms ${median(rs.map((r) => r.p99)).toFixed(1)},`,
      `errors ${rs.reduce((n, r) => n + r.errors, 0)} (bad answers ${rs.reduce((n, r) => n + r.bad, 0)}, socket errors ${rs.reduce((n, r) => n + r.socketErrors, 0)}, timeouts ${rs.reduce((n, r) => n + r.timeouts, 0)})`,
    );
  }
} finally {
  await mf.dispose();
}
