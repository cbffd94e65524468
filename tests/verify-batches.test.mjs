// Concurrent verifications of one key from one isolate reach its limiter objects in batches
// (src/limiter/lane.rs): each is still decided on its own, in order, exactly; and a client that
// hangs up in the middle leaves the lane working for everyone after it.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startKeygate, midWindow, at } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate({ direct: true });
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const range = (n) => Array.from({ length: n }, (_, i) => i);

/** A verification of `key` on the worker's own socket, hung up after `ms`: the answer, or null. */
function hangUp(key, ms) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ key });
    const req = http.request(`${kg.direct}/v1/keys.verifyKey`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      agent: false,
    }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, text }));
      res.on("error", () => resolve(null));
    });
    req.on("error", () => resolve(null));
    req.end(body);
    setTimeout(() => {
      req.destroy();
      resolve(null);
    }, ms);
  });
}

describe("verifications in batches", () => {
  test("credits: 200 at once against 150, each decided on its own — 150 pass, each with its own remaining", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 150 });
    const answers = await Promise.all(range(200).map(() => kg.verify(key)));
    const valid = answers.filter((a) => a.valid);
    assert.equal(valid.length, 150);
    assert.deepEqual(valid.map((a) => a.remaining).sort((a, b) => a - b), range(150));
    for (const a of answers.filter((a) => !a.valid)) {
      assert.equal(a.code, "USAGE_EXCEEDED");
      assert.equal(a.remaining, 0);
    }
    assert.equal((await kg.getKey(s, keyId)).remaining, 0);
  });

  test("rate limit: 200 at once against a limit of 120 — 120 pass, each with its own remaining", async () => {
    const { key } = await kg.createKey(s, { ratelimit: { limit: 120, duration: 60_000 } });
    const t = midWindow(60_000);
    const answers = await Promise.all(range(200).map(() => kg.verify(key, {}, at(t))));
    const valid = answers.filter((a) => a.valid);
    assert.equal(valid.length, 120);
    assert.deepEqual(valid.map((a) => a.ratelimit.remaining).sort((a, b) => a - b), range(120));
    assert.ok(answers.filter((a) => !a.valid).every((a) => a.code === "RATE_LIMITED" && a.ratelimit.remaining === 0));
  });

  test("credits and a rate limit together: the rate limit decides first, credits are spent only by what it let through", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 1000, ratelimit: { limit: 90, duration: 60_000 } });
    const t = midWindow(60_000);
    const answers = await Promise.all(range(150).map(() => kg.verify(key, {}, at(t))));
    assert.equal(answers.filter((a) => a.valid).length, 90);
    assert.equal(answers.filter((a) => a.code === "RATE_LIMITED").length, 60);
    assert.equal((await kg.getKey(s, keyId)).remaining, 910);
  });

  test("credits and a rate limit, credits running out: each verification the limit lets through is charged on its own, no other", async () => {
    // the spend rides on the rate-limit check (sent by whoever receives the check's answer)
    const { key, keyId } = await kg.createKey(s, { remaining: 50, ratelimit: { limit: 90, duration: 60_000 } });
    const t = midWindow(60_000);
    const answers = await Promise.all(range(150).map(() => kg.verify(key, {}, at(t))));
    const valid = answers.filter((a) => a.valid);
    assert.equal(valid.length, 50);
    assert.deepEqual(valid.map((a) => a.remaining).sort((a, b) => a - b), range(50));
    assert.equal(answers.filter((a) => a.code === "USAGE_EXCEEDED").length, 40);
    assert.equal(answers.filter((a) => a.code === "RATE_LIMITED").length, 60);
    // what the limit let through (90) was counted, and only that
    const counted = answers.filter((a) => a.code !== "RATE_LIMITED").map((a) => a.ratelimit.remaining).sort((a, b) => a - b);
    assert.deepEqual(counted, range(90));
    assert.equal((await kg.getKey(s, keyId)).remaining, 0);
    const next = await kg.verify(key, {}, at(t));
    assert.equal(next.code, "RATE_LIMITED");
    assert.equal((await kg.getKey(s, keyId)).remaining, 0);
  });

  for (const [name, opts, used] of [
    ["credits", { remaining: 1_000_000 }, (k) => 1_000_000 - k.remaining],
    ["a rate limit", { ratelimit: { limit: 1_000_000, duration: 3_600_000 } }, null],
    [
      "credits and a rate limit",
      { remaining: 1_000_000, ratelimit: { limit: 1_000_000, duration: 3_600_000 } },
      (k) => 1_000_000 - k.remaining,
    ],
  ]) {
    test(`${name}: clients that hang up mid-verification leave the next verifications working, nothing counted twice`, async () => {
      const { key, keyId } = await kg.createKey(s, opts);
      let sent = 0;
      let answered = 0;
      for (const wave of range(4)) {
        // hung up after 0–12 ms: some before their batch went, some while it was in flight
        const results = await Promise.all(range(64).map((i) => hangUp(key, (i * 7 + wave * 3) % 13)));
        sent += 64;
        answered += results.filter((r) => r && r.status === 200 && JSON.parse(r.text).valid).length;
        assert.ok(results.every((r) => r === null || r.status === 200), `an answer was not 200: ${JSON.stringify(results.find((r) => r && r.status !== 200))}`);
        // then everybody stays to the end: every one of them verifies
        const after = await Promise.all(range(64).map(() => hangUp(key, 10_000)));
        for (const r of after) {
          assert.ok(r, "a verification after the hang-ups did not answer");
          assert.equal(r.status, 200, r.text);
          assert.equal(JSON.parse(r.text).valid, true, r.text);
        }
        sent += 64;
        answered += 64;
      }
      const last = await kg.verify(key);
      assert.equal(last.valid, true);
      sent += 1;
      answered += 1;
      // a hung-up verification may have been counted (its batch went) or not; none twice
      const counted = used ? used(await kg.getKey(s, keyId)) : 1_000_000 - last.ratelimit.remaining;
      assert.ok(counted >= answered && counted <= sent, `counted ${counted}, answered ${answered}, sent ${sent}`);
      assert.ok(answered < sent, "no client hung up before its answer: the test did not test hang-ups");
    });
  }
});
