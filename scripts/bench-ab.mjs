// A/B of two builds of keygate in ONE workerd (`npm run bench:ab -- DIR_A DIR_B [scenario]`): for
// deciding whether a change to the code pays, where two separate `npm run bench` runs differ by
// more than the change (the machines are shared). Each build gets its own D1 database, objects and
// key; the rounds alternate the builds (A B, B A, ...), each measurement right after one of the
// hello-world, and report each build's ratios to it and workerd's CPU time per request (as
// `npm run bench` does). Both directories must be inside the repository (workerd refuses module
// paths outside its starting directory): e.g. `cp -r build _ab/A`, change, build, `cp -r build
// _ab/B` (`_ab/` is ignored by git).
//
// scenario: plain (default), credits, rate, both. Options: --rounds R (default 6), --duration S
// (default 3), --connections C (default 32), --storage memory|disk (as `npm run bench`).
import { Miniflare } from "miniflare";
import { load } from "./bench/load.mjs";
import { KEYS, baselineWorker, keygateWorker, migrate, seed, useStorage } from "./bench/world.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const [A, B, SCENARIO = "plain"] = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
const ROUNDS = Number(arg("--rounds", 6));
const DURATION = Number(arg("--duration", 3));
const CONNECTIONS = Number(arg("--connections", 32));
if (!A || !B || !KEYS[SCENARIO]) {
  console.error("usage: node scripts/bench-ab.mjs DIR_A DIR_B [plain|credits|rate|both] [--rounds R] [--duration S] [--connections C] [--storage memory|disk]");
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
    let key = "-";
    if (name !== "baseline") {
      await migrate(mf, name);
      key = await (await seed(url, ADMIN_TOKEN)).create(KEYS[SCENARIO]);
    }
    targets[name] = { url: `${url}/v1/keys.verifyKey`, key };
  }

  const measure = (name, seconds) =>
    load(targets[name].url, {
      connections: CONNECTIONS,
      seconds,
      keys: [targets[name].key],
      body: '{"key":"%KEY%"}',
      expect: '"valid":true',
    });

  for (const name of ["a", "b", "baseline"]) await measure(name, 2); // warm-up
  const results = { a: [], b: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? ["b", "a"] : ["a", "b"]) {
      const base = await measure("baseline", DURATION);
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
      `errors ${rs.reduce((n, r) => n + r.errors, 0)}`,
    );
  }
} finally {
  await mf.dispose();
}
