// Verification benchmark. Every scenario runs against the same server in the same run and is
// reported as a ratio to the baseline (a key without credits or limits), because absolute numbers
// on shared machines are noise. Options: --requests N (per scenario), --concurrency C, --rounds R.
// Then the cost of one analytics flush (one upsert of N hourly rollups), unless --no-flush.
import { performance } from "node:perf_hooks";
import { startKeygate } from "../tests/helpers.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const REQUESTS = arg("--requests", 400);
const CONCURRENCY = arg("--concurrency", 32);
const ROUNDS = arg("--rounds", 3);

const kg = await startKeygate();
try {
  const s = await kg.setup();
  const create = async (body) => {
    const r = await kg.post("keys.createKey", { apiId: s.apiId, ...body }, s.rootKey);
    if (r.status !== 200) throw new Error(r.text);
    return r.body.key;
  };
  const big = 1_000_000_000;
  const scenarios = [
    { name: "baseline: key without credits or limits", key: await create({}) },
    { name: "credits (usage-limiter object, one key)", key: await create({ remaining: big }) },
    { name: "rate limit (rate-limiter object)", key: await create({ ratelimit: { limit: big, duration: 60_000 } }) },
    { name: "credits + rate limit", key: await create({ remaining: big, ratelimit: { limit: big, duration: 60_000 } }) },
    { name: "credits, 8 keys (8 objects)", keys: await Promise.all(Array.from({ length: 8 }, () => create({ remaining: big }))) },
  ];

  async function run(sc, n, concurrency) {
    const latencies = [];
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const key = sc.key ?? sc.keys[i % sc.keys.length];
        const t0 = performance.now();
        const r = await kg.post("keys.verifyKey", { key });
        latencies.push(performance.now() - t0);
        if (r.status !== 200 || !r.body.valid) throw new Error(`${sc.name}: ${r.status} ${r.text}`);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    return { rps: n / seconds, p50: pct(0.5), p99: pct(0.99) };
  }

  const results = new Map(scenarios.map((sc) => [sc.name, { seq: [], par: [] }]));
  for (const sc of scenarios) await run(sc, 50, 8); // warm up every object and code path
  // rounds interleave the scenarios so that machine noise hits them alike
  for (let round = 0; round < ROUNDS; round++) {
    for (const sc of scenarios) {
      results.get(sc.name).seq.push(await run(sc, Math.max(50, REQUESTS / 4), 1));
      results.get(sc.name).par.push(await run(sc, REQUESTS, CONCURRENCY));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = scenarios.map((sc) => {
    const r = results.get(sc.name);
    return {
      name: sc.name,
      seqP50: median(r.seq.map((x) => x.p50)),
      parRps: median(r.par.map((x) => x.rps)),
      parP99: median(r.par.map((x) => x.p99)),
    };
  });
  const base = summary[0];
  console.log(`\nkeys.verifyKey — ${ROUNDS} rounds, medians; sequential latency over ${Math.max(50, REQUESTS / 4)} requests, throughput over ${REQUESTS} requests at concurrency ${CONCURRENCY}\n`);
  console.log("scenario".padEnd(44), "seq p50 ms".padStart(11), "× base".padStart(7), "req/s".padStart(8), "× base".padStart(7), "p99 ms".padStart(8));
  for (const r of summary) {
    console.log(
      r.name.padEnd(44),
      r.seqP50.toFixed(2).padStart(11),
      (r.seqP50 / base.seqP50).toFixed(2).padStart(7),
      r.parRps.toFixed(0).padStart(8),
      (r.parRps / base.parRps).toFixed(2).padStart(7),
      r.parP99.toFixed(1).padStart(8),
    );
  }

  if (!process.argv.includes("--no-flush")) {
    // A read flushes the isolate's rollups first: its time over a read with nothing to flush is
    // the cost of one flush (one upsert statement) of N rollups. Each verification gets a tag set
    // of its own, so N verifications make N new rollups (below the 1000-verification flush).
    const key = await create({});
    const probe = { apiId: s.apiId, start: Date.now() - 3_600_000, keyId: "key_none" };
    const read = async () => {
      const t0 = performance.now();
      const r = await kg.get("analytics.getVerifications", probe, s.rootKey);
      if (r.status !== 200) throw new Error(`analytics read: ${r.status} ${r.text}`);
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
            const r = await kg.post("keys.verifyKey", { key, tags: [`n${n}-r${round}-${i}`] });
            if (r.status !== 200) throw new Error(r.text);
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, verifier));
        const flushing = await read();
        costs.push(flushing - (await read()));
      }
      rows.push([n, median(costs)]);
    }
    console.log(`\nanalytics flush (one upsert of N new rollups), median of ${ROUNDS} rounds\n`);
    console.log("rollups".padStart(8), "flush ms".padStart(10), "µs/rollup".padStart(10));
    for (const [n, ms] of rows) console.log(String(n).padStart(8), ms.toFixed(2).padStart(10), ((ms * 1000) / n).toFixed(1).padStart(10));
  }
} finally {
  await kg.stop();
}
