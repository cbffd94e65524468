// Hardening (issue 10, item 2): balances stay within ±(2^53 − 1), the integers JavaScript (and
// D1's client) carries exactly; and the usage limiter object checks what it is sent (item 9).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError } from "./helpers.mjs";
import { startWorker, applyMigrations, MIGRATIONS } from "./worker.mjs";
import { POSTGRES } from "./backend.mjs";

const MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const verify = (body, headers) => kg.post("keys.verifyKey", body, undefined, headers);
async function createKey(body = {}, api = s) {
  const r = await kg.post("keys.createKey", { apiId: api.apiId, ...body }, api.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}
const count = async (sql, ...args) => (await kg.row(`SELECT COUNT(*) AS n FROM ${sql}`, ...args)).n;

describe("item 2: balances stay within ±(2^53 − 1)", () => {
  const update = (keyId, op, value) => kg.post("keys.updateRemaining", { keyId, op, value }, s.rootKey);
  const overflow = /^value: the balance would leave the range ±9007199254740991/;

  test("an increment past 2^53 − 1 is a 400 with nothing written, and the key keeps working", async () => {
    const { key, keyId } = await createKey({ remaining: 10 });
    expectError(assert, await update(keyId, "increment", MAX), 400, "BAD_REQUEST", overflow);
    assert.equal((await kg.row("SELECT remaining FROM credits WHERE key_id = ?", keyId)).remaining, 10);
    assert.equal(await count("audit_log WHERE event = 'key.update' AND display LIKE 'Changed remaining%' AND id IN (SELECT audit_log_id FROM audit_log_target WHERE id = ?)", keyId), 0);
    // every read of the key still works
    const got = await kg.get("keys.getKey", { keyId }, s.rootKey);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.remaining, 10);
    const listed = await kg.get("apis.listKeys", { apiId: s.apiId }, s.rootKey);
    assert.equal(listed.status, 200, listed.text);
    const v = await verify({ key });
    assert.equal(v.body.code, "VALID");
    assert.equal(v.body.remaining, 9);

    // exactly the largest safe integer is fine; one more is not
    const up = await update(keyId, "increment", MAX - 9);
    assert.equal(up.status, 200, up.text);
    assert.equal(up.body.remaining, MAX);
    expectError(assert, await update(keyId, "increment", 1), 400, "BAD_REQUEST", overflow);
    expectError(assert, await update(keyId, "decrement", -1), 400, "BAD_REQUEST", overflow);
    assert.equal((await kg.get("keys.getKey", { keyId }, s.rootKey)).body.remaining, MAX);
    const after = await verify({ key });
    assert.equal(after.body.code, "VALID");
    assert.equal(after.body.remaining, MAX - 1);
    assert.equal((await kg.get("apis.listKeys", { apiId: s.apiId }, s.rootKey)).status, 200);
  });

  test("a decrement below −(2^53 − 1) is refused the same way", async () => {
    const { keyId } = await createKey({ remaining: 1 });
    assert.equal((await update(keyId, "set", -MAX)).body.remaining, -MAX);
    expectError(assert, await update(keyId, "decrement", 1), 400, "BAD_REQUEST", overflow);
    expectError(assert, await update(keyId, "increment", -1), 400, "BAD_REQUEST", overflow);
    assert.equal((await kg.row("SELECT remaining FROM credits WHERE key_id = ?", keyId)).remaining, -MAX);
    assert.equal((await kg.get("keys.getKey", { keyId }, s.rootKey)).body.remaining, -MAX);
  });

  test("the legacy remaining_requests column is bounded too", async () => {
    const { keyId } = await createKey();
    await kg.db.prepare("UPDATE keys SET remaining_requests = ? WHERE id = ?").bind(MAX - 1, keyId).run();
    expectError(assert, await update(keyId, "increment", 2), 400, "BAD_REQUEST", overflow);
    assert.equal((await kg.row("SELECT remaining_requests FROM keys WHERE id = ?", keyId)).remaining_requests, MAX - 1);
    assert.equal((await update(keyId, "increment", 1)).body.remaining, MAX);
  });

  test("a balance written out of range before migration 0002 bricked its key; the migration repairs it", async () => {
    const old = await startWorker({ migrations: MIGRATIONS.filter((m) => m !== "0003_hardening.sql") });
    try {
      const o = await old.setup();
      const { keyId, key } = (await old.post("keys.createKey", { apiId: o.apiId, remaining: 5 }, o.rootKey)).body;
      // what an unchecked increment used to commit: 2^53 + 9, exact in SQLite, not in JavaScript
      await old.db.prepare("UPDATE credits SET remaining = ? WHERE key_id = ?").bind(MAX, keyId).run();
      await old.db.prepare("UPDATE credits SET remaining = remaining + 10 WHERE key_id = ?").bind(keyId).run();
      // (D1's client carries numbers as doubles and cannot read that row; Postgres' BIGINT reads
      // exactly, so there the key was not bricked, only out of the range the migration restores)
      if (!POSTGRES) expectError(assert, await old.get("keys.getKey", { keyId }, o.rootKey), 500, "INTERNAL_SERVER_ERROR");
      await applyMigrations(old, ["0003_hardening.sql"]);
      const got = await old.get("keys.getKey", { keyId }, o.rootKey);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.remaining, MAX);
      assert.equal((await old.post("keys.verifyKey", { key })).body.remaining, MAX - 1);
    } finally {
      await old.stop();
    }
  });

  test("the database refuses out-of-range balances whoever writes them", async () => {
    const { keyId } = await createKey({ remaining: 5 });
    await assert.rejects(
      kg.db.prepare("UPDATE credits SET remaining = remaining + ? WHERE key_id = ?").bind(MAX, keyId).run(),
      /credits.remaining out of range/,
    );
    await assert.rejects(
      kg.db.prepare("UPDATE keys SET remaining_requests = ? WHERE id = ?").bind(-MAX - 1, keyId).run(),
      /keys.remaining_requests out of range/,
    );
    assert.equal((await kg.get("keys.getKey", { keyId }, s.rootKey)).body.remaining, 5);
  });

  test("the usage limiter refuses negative and non-integer costs at its boundary", async () => {
    const { key, keyId } = await createKey({ remaining: 10 });
    assert.equal((await verify({ key })).body.remaining, 9);
    const creditId = (await kg.row("SELECT id FROM credits WHERE key_id = ?", keyId)).id;
    const usage = await kg.mf.getDurableObjectNamespace("USAGE_LIMITER");
    const spend = (cost) =>
      usage.get(usage.idFromName(creditId)).fetch("https://limiter/", {
        method: "POST",
        body: JSON.stringify({ op: "spend", balance: { kind: "keyCredits", id: creditId }, cost, now: Date.now() }),
      });
    for (const cost of [-5, 1.5]) {
      const r = await spend(cost);
      assert.equal(r.status, 400, `cost ${cost}`);
      await r.text();
    }
    assert.equal((await kg.row("SELECT remaining FROM credits WHERE key_id = ?", keyId)).remaining, 9);
    const ok = await spend(1);
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).remaining, 8);
  });

  test("the short spend text: read as JSON is, checked as strictly, answered in its own form", async () => {
    const { key, keyId } = await createKey({ remaining: 10 });
    assert.equal((await verify({ key })).body.remaining, 9);
    const creditId = (await kg.row("SELECT id FROM credits WHERE key_id = ?", keyId)).id;
    const usage = await kg.mf.getDurableObjectNamespace("USAGE_LIMITER");
    const send = async (path, body) => {
      const r = await usage.get(usage.idFromName(creditId)).fetch(`https://limiter${path}`, { method: "POST", body });
      return { status: r.status, text: await r.text() };
    };
    const now = Date.now();
    for (const bad of [`s-5 ${now} c${creditId}`, `s1.5 ${now} c${creditId}`, `s1 ${now} x${creditId}`, "s1", `s1 ${now} `]) {
      assert.equal((await send("/", bad)).status, 400, bad);
    }
    assert.equal((await kg.row("SELECT remaining FROM credits WHERE key_id = ?", keyId)).remaining, 9);
    assert.deepEqual(await send("/", `s2 ${now} c${creditId}`), { status: 200, text: "=11 7" });
    assert.deepEqual(await send("/", `s8 ${now} c${creditId}`), { status: 200, text: "=10 7" });
    // a batch answers each line in the form of its spend; a bad line fails alone
    const json = JSON.stringify({ op: "spend", balance: { kind: "keyCredits", id: creditId }, cost: 1, now });
    const batch = await send("/batch", [`s1 ${now} c${creditId}`, json, `s-1 ${now} c${creditId}`, `s1 ${now} c${creditId}`].join("\n"));
    assert.equal(batch.status, 200);
    const lines = batch.text.split("\n");
    assert.equal(lines.length, 4);
    assert.equal(lines[0], "=11 6");
    assert.deepEqual(JSON.parse(lines[1]), { exists: true, valid: true, remaining: 5 });
    assert.equal(JSON.parse(lines[2]), "a cost must not be negative");
    assert.equal(lines[3], "=11 4");
    assert.equal((await kg.row("SELECT remaining FROM credits WHERE key_id = ?", keyId)).remaining, 4);
    // a balance that does not exist
    assert.deepEqual(await send("/", `s1 ${now} cno_such_credits`), { status: 200, text: "=01 -" });
  });
});
