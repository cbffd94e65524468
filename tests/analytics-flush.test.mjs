// Recording verifications (issue 8): no D1 write per verification, rollups flushed after the
// response (delayed, or at once after 1000 verifications), reads flush first; under concurrent
// verifications and reads nothing is lost and nothing is counted twice; a failed flush keeps its
// rollups for the next one.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startKeygate } from "./helpers.mjs";

const FLUSH_AFTER_MS = 5_000;

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

async function createKey(body = {}) {
  const r = await kg.post("keys.createKey", { apiId: s.apiId, ...body }, s.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

const stored = async (keyIds) =>
  (await kg.row(
    `SELECT COALESCE(SUM(valid + rate_limited + usage_exceeded + disabled + expired + forbidden + insufficient_permissions), 0) AS n,
            COALESCE(SUM(spent_credits), 0) AS spent
     FROM verification_rollups WHERE key_id IN (SELECT value FROM json_each(?))`,
    JSON.stringify(keyIds),
  ));

async function perKey(keyIds) {
  const qs = new URLSearchParams({ apiId: s.apiId, start: String(Date.now() - 3_600_000), groupBy: "key" });
  for (const id of keyIds) qs.append("keyId", id);
  const r = await kg.call(`/v1/analytics.getVerifications?${qs}`, { method: "GET", rootKey: s.rootKey });
  assert.equal(r.status, 200, r.text);
  return Object.fromEntries(r.body.map((p) => [p.keyId, p.total]));
}

/**
 * One verification on a connection of its own (`Connection: close`): a burst of hundreds never
 * reuses a kept-alive connection the local server is just closing after its idle timeout, which
 * a loaded machine otherwise turns into random ECONNRESETs.
 */
function verifyOnce(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${kg.url}/v1/keys.verifyKey`, { method: "POST", agent: false, headers: { "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** `n` verifications, 100 in flight at any time. */
async function burst(keys, n, body = () => ({}), onAnswer = () => {}) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await verifyOnce({ key: keys[i % keys.length].key, ...body(i) });
      assert.equal(r.status, 200, r.text);
      onAnswer();
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
}

describe("recording", () => {
  // first: no verification has armed the flush timer yet in this worker
  test("a verification writes nothing to D1; the rollups are written within the flush interval", async () => {
    const k = await createKey();
    await burst([k], 5, (i) => ({ tags: [`t${i % 2}`] }));
    assert.equal((await stored([k.keyId])).n, 0, "written before the flush interval");
    const t0 = Date.now();
    let n = 0;
    while (n < 5 && Date.now() - t0 < FLUSH_AFTER_MS + 5_000) {
      await new Promise((r) => setTimeout(r, 200));
      n = (await stored([k.keyId])).n;
    }
    assert.equal(n, 5);
    assert.equal((await kg.rows("SELECT tags FROM verification_rollups WHERE key_id = ? ORDER BY tags", k.keyId)).length, 2);
  });

  test("1500 concurrent verifications (crossing the 1000-verification flush): nothing lost, nothing twice", async () => {
    const keys = [await createKey({ remaining: 10_000 }), await createKey(), await createKey()];
    const ids = keys.map((k) => k.keyId);
    await burst(keys, 1500, (i) => ({ tags: [`t${i % 7}`], remaining: { cost: 2 } }));
    const expected = Object.fromEntries(ids.map((id) => [id, 500]));
    assert.deepEqual(await perKey(ids), expected);
    assert.deepEqual(await stored(ids), { n: 1500, spent: 1000 });
    // reading again, and after the delayed flush has run, counts nothing twice
    assert.deepEqual(await perKey(ids), expected);
    await new Promise((r) => setTimeout(r, FLUSH_AFTER_MS + 500));
    assert.deepEqual(await perKey(ids), expected);
    assert.deepEqual(await stored(ids), { n: 1500, spent: 1000 });
  });

  test("verifications and reads at the same time: every read sees at least what was answered before it", async () => {
    const keys = [await createKey(), await createKey()];
    const ids = keys.map((k) => k.keyId);
    let answered = 0;
    const verifications = burst(keys, 600, () => ({}), () => answered++);
    const reads = Array.from({ length: 20 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 15));
      const before = answered;
      const seen = Object.values(await perKey(ids)).reduce((a, b) => a + b, 0);
      assert.ok(seen >= before && seen <= 600, `read saw ${seen}, ${before} were answered before it`);
    });
    await Promise.all([verifications, ...reads]);
    assert.deepEqual(await perKey(ids), { [ids[0]]: 300, [ids[1]]: 300 });
    assert.equal((await stored(ids)).n, 600);
  });

  test("a failed flush keeps its rollups for the next one", async () => {
    const k = await createKey();
    await burst([k], 10);
    // the table is away: the flush of the read fails, and so does the read
    await kg.db.prepare("ALTER TABLE verification_rollups RENAME TO verification_rollups_away").run();
    try {
      const failed = await kg.get("analytics.getVerifications", { apiId: s.apiId, start: Date.now() - 3_600_000, keyId: k.keyId }, s.rootKey);
      assert.equal(failed.status, 500, failed.text);
      await burst([k], 5);
    } finally {
      await kg.db.prepare("ALTER TABLE verification_rollups_away RENAME TO verification_rollups").run();
    }
    assert.deepEqual(await perKey([k.keyId]), { [k.keyId]: 15 });
    assert.equal((await stored([k.keyId])).n, 15);
  });
});
