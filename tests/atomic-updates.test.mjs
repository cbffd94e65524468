// Changes of a balance are one transaction with their audit rows, and their usage limiter cannot
// be left behind (issue 10 item 7): updateRemaining, updateKey and deleteKey are failed on purpose
// right after their write (test hook `X-Test-Fail: after-commit`, only with UNSAFE_TEST_CLOCK=1),
// and the state read back through the API must agree: the balance, the audit log, and the very
// next verification. Contract: docs/decisions.md "One transaction per change".
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError } from "./helpers.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

const FAIL = { "X-Test-Fail": "after-commit" };

async function logs(event, keyId) {
  const r = await kg.get("audit.listLogs", { event, resourceId: keyId }, s.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body.logs.map((l) => l.description);
}

function failedOnPurpose(r) {
  expectError(assert, r, 500, "INTERNAL_SERVER_ERROR");
}

describe("a failure right after the write leaves the change whole", () => {
  test("updateRemaining: the balance, its audit row and the next verification agree", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 10 });
    assert.equal((await kg.verify(key)).remaining, 9, "the limiter holds the balance");
    failedOnPurpose(await kg.post("keys.updateRemaining", { keyId, op: "increment", value: 5 }, s.rootKey, FAIL));
    assert.equal((await kg.getKey(s, keyId)).remaining, 14);
    assert.deepEqual(await logs("key.update", keyId), ["Changed remaining to 14"]);
    assert.equal((await kg.verify(key)).remaining, 13);
  });

  test("updateRemaining set null on an exhausted key: the limiter does not keep the old balance", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 1 });
    assert.equal((await kg.verify(key)).code, "VALID");
    assert.equal((await kg.verify(key)).code, "USAGE_EXCEEDED", "the limiter now holds 0");
    failedOnPurpose(await kg.post("keys.updateRemaining", { keyId, op: "set", value: null }, s.rootKey, FAIL));
    assert.equal((await kg.getKey(s, keyId)).remaining, undefined, "unlimited");
    assert.deepEqual(await logs("key.update", keyId), ["Changed remaining to unlimited"]);
    const next = await kg.verify(key);
    assert.equal(next.code, "VALID", "the next verification sees the change");
    assert.equal(next.remaining, undefined);
  });

  test("updateKey: its fields, the new balance and its audit row are written together", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 1, name: "before" });
    assert.equal((await kg.verify(key)).code, "VALID");
    assert.equal((await kg.verify(key)).code, "USAGE_EXCEEDED");
    failedOnPurpose(await kg.post("keys.updateKey", { keyId, name: "after", remaining: 42 }, s.rootKey, FAIL));
    const read = await kg.getKey(s, keyId);
    assert.equal(read.name, "after");
    assert.equal(read.remaining, 42);
    assert.equal((await logs("key.update", keyId)).length, 1);
    assert.equal((await kg.verify(key)).remaining, 41, "the next verification sees the new balance");
  });

  test("updateKey removing the credits of an exhausted key: the next verification is unlimited", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 1 });
    await kg.verify(key);
    assert.equal((await kg.verify(key)).code, "USAGE_EXCEEDED");
    failedOnPurpose(await kg.post("keys.updateKey", { keyId, remaining: null }, s.rootKey, FAIL));
    assert.equal((await kg.getKey(s, keyId)).remaining, undefined);
    assert.equal((await logs("key.update", keyId)).length, 1);
    assert.equal((await kg.verify(key)).code, "VALID");
  });

  test("deleteKey: the key is gone with its audit row, and verifications find nothing", async () => {
    const { key, keyId } = await kg.createKey(s, { remaining: 5 });
    assert.equal((await kg.verify(key)).remaining, 4);
    failedOnPurpose(await kg.post("keys.deleteKey", { keyId }, s.rootKey, FAIL));
    expectError(assert, await kg.get("keys.getKey", { keyId }, s.rootKey), 404, "NOT_FOUND");
    assert.equal((await logs("key.delete", keyId)).length, 1);
    assert.equal((await kg.verify(key)).code, "NOT_FOUND");
  });
});

describe("the audit row of updateRemaining follows the change", () => {
  test("a refused change (out of range) writes no audit row", async () => {
    const { keyId } = await kg.createKey(s, { remaining: 10 });
    const r = await kg.post("keys.updateRemaining", { keyId, op: "increment", value: 9007199254740991 }, s.rootKey);
    expectError(assert, r, 400, "BAD_REQUEST");
    assert.equal((await kg.getKey(s, keyId)).remaining, 10);
    assert.deepEqual(await logs("key.update", keyId), []);
  });

  test("every change names the balance after it", async () => {
    const { keyId } = await kg.createKey(s, { remaining: 10 });
    for (const [op, value] of [["increment", 5], ["decrement", 3], ["set", 100]]) {
      const r = await kg.post("keys.updateRemaining", { keyId, op, value }, s.rootKey);
      assert.equal(r.status, 200, r.text);
    }
    assert.deepEqual(await logs("key.update", keyId), ["Changed remaining to 100", "Changed remaining to 12", "Changed remaining to 15"]);
  });
});
