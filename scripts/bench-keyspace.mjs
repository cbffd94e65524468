// createKey and deleteKey in an api that already holds N keys (`npm run bench:keyspace -- DIR_A
// DIR_B [N] [M]`): two builds of keygate in one workerd, each with its own D1 database; N keys
// seeded straight into D1 (default 100,000), then M createKey calls one at a time (default 100)
// and deleteKey of the first 50 of them; prints each build's median latency of both and
// apis.listKeys' `total` against the number of live keys. Both directories must be inside the
// repository (as for `npm run bench:ab`).
import { Miniflare } from "miniflare";
import { keygateWorker, migrate, seed, call } from "./bench/world.mjs";
const [A, B, N = "100000", M = "100"] = process.argv.slice(2);
if (!A || !B) {
  console.error("usage: node scripts/bench-keyspace.mjs DIR_A DIR_B [N] [M]");
  process.exit(2);
}
const ADMIN_TOKEN = "big-admin";
const names = { a: A, b: B };
const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  workers: Object.entries(names).map(([name, dir], i) =>
    keygateWorker({ name, dir, bindings: { d1Databases: { DB: `${i}aaaaaaa-0000-0000-0000-000000000000` } }, vars: { ADMIN_TOKEN } }),
  ),
});
try {
  await mf.ready;
  const out = {};
  for (const name of Object.keys(names)) {
    const url = String(await mf.unsafeGetDirectURL(name)).replace(/\/$/, "");
    await migrate(mf, name);
    const s = await seed(url, ADMIN_TOKEN);
    const db = await mf.getD1Database("DB", name);
    const { key_auth_id: ka, workspace_id: ws } = await db.prepare("SELECT key_auth_id, workspace_id FROM apis WHERE id = ?").bind(s.apiId).first();
    // N keys of the api, 10,000 per statement; its stored count set to match
    for (let i = 0; i < Number(N); i += 10000) {
      await db.prepare(`WITH RECURSIVE c(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM c WHERE x < ?2)
        INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, created_at_m) SELECT 'key_seed' || x, ?3, 'hash' || x, 'seed', ?4, 0 FROM c`).bind(i, Math.min(i + 9999, Number(N) - 1), ka, ws).run();
    }
    await db.prepare("UPDATE key_auth SET size_approx = (SELECT COUNT(*) FROM keys WHERE key_auth_id = ?1) WHERE id = ?1").bind(ka).run();
    const times = [], ids = [];
    for (let i = 0; i < Number(M); i++) {
      const t = performance.now();
      ids.push((await call(url, "/v1/keys.createKey", { apiId: s.apiId }, s.root)).keyId);
      times.push(performance.now() - t);
    }
    const deleted = ids.slice(0, 50);
    const dt = [];
    for (const keyId of deleted) {
      const t = performance.now();
      await call(url, "/v1/keys.deleteKey", { keyId }, s.root);
      dt.push(performance.now() - t);
    }
    const list = await fetch(`${url}/v1/apis.listKeys?apiId=${s.apiId}&limit=1`, { headers: { Authorization: `Bearer ${s.root}` } }).then((r) => r.json());
    const med = (xs) => (xs.length ? xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)].toFixed(2) : "-");
    out[name] = { dir: names[name], createP50: med(times), deleteP50: med(dt), total: list.total, live: Number(N) + ids.length - deleted.length };
  }
  console.log(JSON.stringify(out, null, 1));
} finally {
  await mf.dispose();
}
