// The limiter objects keep what they decide in memory and write it before they answer: a usage
// limiter its balance (to D1, called by JS RPC), a rate limiter the counts of a whole batch of
// calls once per window. What concurrent verifications spent and counted must still be there when
// the objects start again from storage alone (a new workerd on the same persisted state).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorker, MIGRATIONS } from "./worker.mjs";
import { at, midWindow } from "./helpers.mjs";

let dir;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "keygate-limiters-"));
});

const start = (migrate) => startWorker({ persistDir: dir, migrations: migrate ? MIGRATIONS : [] });
const codes = (answers) => answers.reduce((n, r) => ({ ...n, [r.body.code]: (n[r.body.code] ?? 0) + 1 }), {});

let kg;
after(async () => {
  await kg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("credits spent and rate-limit counts made by concurrent verifications survive a restart of the objects", async () => {
  kg = await start(true);
  const s = await kg.setup();
  const t = midWindow(60000);
  // one key whose limit stops the burst, one whose limit lets all of it through
  const capped = await kg.createKey(s, { remaining: 100, ratelimit: { limit: 20, duration: 60000 } });
  const open = await kg.createKey(s, { remaining: 100, ratelimit: { limit: 50, duration: 60000 } });
  const burst = (key) => Promise.all(Array.from({ length: 32 }, () => kg.verifyKey({ key }, at(t))));
  const [first, second] = await Promise.all([burst(capped.key), burst(open.key)]);
  assert.deepEqual(codes(first), { VALID: 20, RATE_LIMITED: 12 });
  assert.deepEqual(codes(second), { VALID: 32 });
  assert.equal(Math.min(...second.map((r) => r.body.remaining)), 68);
  assert.equal(Math.min(...second.map((r) => r.body.ratelimit.remaining)), 18);
  await kg.stop();
  kg = undefined;

  // new objects: what they answer now comes from storage
  kg = await start(false);
  const cappedAfter = await kg.verifyKey({ key: capped.key }, at(t));
  assert.equal(cappedAfter.body.code, "RATE_LIMITED", cappedAfter.text);
  assert.equal(cappedAfter.body.ratelimit.remaining, 0);
  const openAfter = await kg.verifyKey({ key: open.key }, at(t));
  assert.equal(openAfter.body.code, "VALID", openAfter.text);
  assert.equal(openAfter.body.ratelimit.remaining, 17, "the 32 counts of the burst were written");
  assert.equal(openAfter.body.remaining, 67, "the 32 credits of the burst were written");
  // the rate-limited calls spent nothing: 100 − 20 − 1
  const got = await kg.get("keys.getKey", { keyId: capped.keyId }, s.rootKey);
  assert.equal(got.body.remaining, 80, got.text);
});
