// Credits under load: the usage limiter's group commit answers each request with its own batch
// (the hand-over itself is pinned by the unit tests of src/domain/group_commit.rs; here the whole
// path is exercised: exactness under a steady load, and the starter answered early).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

test("the request that starts a group commit is answered with its own batch, while spends keep arriving", async () => {
  const { key } = await kg.createKey(s, { remaining: 1_000_000 });
  assert.equal((await kg.verify(key)).code, "VALID");
  const LOAD = 2000;
  let completed = 0;
  let answeredAt = null;
  // the first request finds no flush running, so it starts one; then 32 clients keep the queue busy
  const first = kg.verify(key).then((v) => {
    answeredAt = completed;
    return v;
  });
  const clients = Array.from({ length: 32 }, async () => {
    while (completed < LOAD) {
      const v = await kg.verify(key);
      assert.equal(v.code, "VALID");
      completed++;
    }
  });
  assert.equal((await first).code, "VALID");
  await Promise.all(clients);
  // answered long before the load ended (a starter that kept draining would wait for all of it)
  assert.ok(answeredAt !== null && answeredAt < LOAD / 4, `first request answered after ${answeredAt} of ${LOAD} later ones`);
  // and nothing was lost or spent twice
  const r = await kg.get("keys.getKey", { keyId: (await kg.verify(key)).keyId }, s.rootKey);
  assert.equal(r.body.remaining, 1_000_000 - 1 - 1 - completed - 1);
});
