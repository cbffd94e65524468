// Hardening (issue 10) at the edge of every request: the caller IP (item 1), the size of a body
// (item 4: 413 before parsing and authentication), what a 500 tells (item 9), authentication
// before a route's own answer (item 9), and a panic inside a request.
import { test, before, after, describe } from "node:test";
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

const verify = (body, headers) => kg.post("keys.verifyKey", body, undefined, headers);
async function createKey(body = {}, api = s) {
  const r = await kg.post("keys.createKey", { apiId: api.apiId, ...body }, api.rootKey);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

describe("item 1: the caller IP of ipWhitelist", () => {
  let key;
  before(async () => {
    const api = await kg.post("apis.createApi", { name: "whitelisted-api" }, s.rootKey);
    await kg.admin("updateApi", { apiId: api.body.apiId, ipWhitelist: "100.100.100.100" });
    key = (await createKey({}, { apiId: api.body.apiId, rootKey: s.rootKey })).key;
  });

  test("a client-sent True-Client-IP does not pass the whitelist", async () => {
    const spoofed = await verify({ key }, { "True-Client-IP": "100.100.100.100" });
    assert.equal(spoofed.status, 200);
    assert.equal(spoofed.body.code, "FORBIDDEN");
    const both = await verify({ key }, { "True-Client-IP": "100.100.100.100", "CF-Connecting-IP": "9.9.9.9" });
    assert.equal(both.body.code, "FORBIDDEN");
  });

  test("CF-Connecting-IP (set by Cloudflare) decides", async () => {
    const ok = await verify({ key }, { "CF-Connecting-IP": "100.100.100.100", "True-Client-IP": "9.9.9.9" });
    assert.equal(ok.body.code, "VALID");
    const other = await verify({ key }, { "CF-Connecting-IP": "9.9.9.9" });
    assert.equal(other.body.code, "FORBIDDEN");
  });

  test("TRUST_TRUE_CLIENT_IP=1 (zones where Cloudflare sets it) reads True-Client-IP first", async () => {
    const trusting = await startKeygate({ bindings: { TRUST_TRUE_CLIENT_IP: "1" } });
    try {
      const t = await trusting.setup();
      await trusting.admin("updateApi", { apiId: t.apiId, ipWhitelist: "100.100.100.100" });
      const k = (await trusting.post("keys.createKey", { apiId: t.apiId }, t.rootKey)).body.key;
      const call = (headers) => trusting.post("keys.verifyKey", { key: k }, undefined, headers);
      assert.equal((await call({ "True-Client-IP": "100.100.100.100", "CF-Connecting-IP": "9.9.9.9" })).body.code, "VALID");
      assert.equal((await call({ "True-Client-IP": "9.9.9.9", "CF-Connecting-IP": "100.100.100.100" })).body.code, "FORBIDDEN");
      assert.equal((await call({ "CF-Connecting-IP": "100.100.100.100" })).body.code, "VALID");
    } finally {
      await trusting.stop();
    }
  });
});

describe("item 4: the size of a request body", () => {
  /** A createKey body of exactly `bytes` bytes (its name is too long to be valid). */
  const big = (bytes) => JSON.stringify({ apiId: s.apiId, name: "x".repeat(bytes - JSON.stringify({ apiId: s.apiId, name: "" }).length) });

  test("a declared body over 1 MiB is a 413 envelope before parsing and before authentication", async () => {
    const body = big(1024 * 1024 + 1);
    const r = await kg.call("/v1/keys.createKey", { method: "POST", raw: body, headers: { "Content-Length": String(Buffer.byteLength(body)), "Content-Type": "application/json" } });
    expectError(assert, r, 413, "PAYLOAD_TOO_LARGE", "the request body is larger than 1048576 bytes");
    // not JSON at all, still 413 (nothing is parsed); the operator API too
    const junk = "{".repeat(2 * 1024 * 1024);
    expectError(assert, await kg.call("/v1/keys.verifyKey", { method: "POST", raw: junk, headers: { "Content-Length": String(junk.length) } }), 413, "PAYLOAD_TOO_LARGE");
    expectError(assert, await kg.call("/v1/admin.createWorkspace", { method: "POST", raw: junk, headers: { "Content-Length": String(junk.length) } }), 413, "PAYLOAD_TOO_LARGE");
  });


  test("a chunked body (no Content-Length) over 1 MiB is a 413 too", async () => {
    const r = await kg.call("/v1/keys.createKey", { method: "POST", raw: big(1024 * 1024 + 10), rootKey: s.rootKey });
    expectError(assert, r, 413, "PAYLOAD_TOO_LARGE");
  });


  test("a body of exactly 1 MiB is read", async () => {
    const base = JSON.stringify({ key: "" });
    const body = JSON.stringify({ key: "k".repeat(1024 * 1024 - base.length) });
    assert.equal(Buffer.byteLength(body), 1024 * 1024);
    const r = await kg.call("/v1/keys.verifyKey", { method: "POST", raw: body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.code, "NOT_FOUND");
  });
});

describe("item 9: what a failure tells", () => {
  test("a 500 answers a generic message with the request id; the detail is only logged", async () => {
    const broken = await startKeygate();
    try {
      const b = await broken.setup();
      await broken.db.prepare("ALTER TABLE audit_log RENAME TO audit_log_away").run();
      const r = await broken.post("apis.createApi", { name: "doomed" }, b.rootKey);
      const e = expectError(assert, r, 500, "INTERNAL_SERVER_ERROR");
      assert.equal(e.message, `Something went wrong on keygate's side; the details are logged under request id ${e.requestId}`);
      assert.equal(r.headers.get("unkey-request-id"), e.requestId);
      assert.doesNotMatch(r.text, /audit_log|SQLITE|D1_|no such table|store\./i);
      await broken.db.prepare("ALTER TABLE audit_log_away RENAME TO audit_log").run();
      assert.equal((await broken.post("apis.createApi", { name: "fine-again" }, b.rootKey)).status, 200);
    } finally {
      await broken.stop();
    }
  });


  test("migrations.enqueueKeys authenticates before answering", async () => {
    expectError(assert, await kg.post("migrations.enqueueKeys", { keys: [] }), 403, "UNAUTHORIZED", "key required");
    expectError(assert, await kg.post("migrations.enqueueKeys", { keys: [] }, "not_a_key"), 403, "UNAUTHORIZED", "key not found");
    expectError(assert, await kg.post("migrations.enqueueKeys", { keys: [] }, s.rootKey), 412, "PRECONDITION_FAILED");
  });

});

describe("a request answered without a Promise when it needs no I/O (app::now_or_later)", () => {
  // its first poll runs before wasm-bindgen's executor has a task for it: a future that keeps the
  // waker of its first poll (worker-rs's Delay does) must still wake the request
  test("a request whose first wait is worker-rs's timer answers", { timeout: 15_000 }, async () => {
    const { key } = await createKey({ remaining: 5 });
    const started = Date.now();
    const v = await verify({ key }, { "X-Test-Delay": "20" });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.body.code, "VALID");
    assert.equal(v.body.remaining, 4);
    assert.ok(Date.now() - started >= 20, "the timer was waited for");
    // several at once, each on its own timer
    const all = await Promise.all([1, 2, 3, 4].map(() => verify({ key }, { "X-Test-Delay": "10" })));
    assert.deepEqual(all.map((r) => r.body.code), ["VALID", "VALID", "VALID", "VALID"]);
    assert.deepEqual(all.map((r) => r.body.remaining).sort(), [0, 1, 2, 3]);
  });

  test("a warm verification and an unknown key answer at once, as before", async () => {
    const { key } = await createKey();
    assert.equal((await verify({ key })).body.code, "VALID");
    assert.equal((await verify({ key })).body.code, "VALID");
    const missing = await verify({ key: "keygate_not_a_key" });
    assert.equal(missing.status, 200);
    assert.equal(missing.body.code, "NOT_FOUND");
  });
});

describe("a panic inside a request", () => {
  test("answers a 500 envelope, and the next request works", async () => {
    const r = await kg.call("/v1/liveness", { headers: { "X-Test-Panic": "1" } });
    const e = expectError(assert, r, 500, "INTERNAL_SERVER_ERROR", /^Something went wrong on keygate's side; the details are logged under request id req_/);
    assert.equal(r.headers.get("unkey-request-id"), e.requestId);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal((await kg.call("/v1/liveness")).status, 200);
    const { key } = await createKey({ remaining: 3 });
    const v = await verify({ key });
    assert.equal(v.body.code, "VALID");
    assert.equal(v.body.remaining, 2);
    // again: the rebuilt instance survives another panic
    expectError(assert, await kg.post("keys.verifyKey", { key }, undefined, { "X-Test-Panic": "1" }), 500, "INTERNAL_SERVER_ERROR");
    assert.equal((await verify({ key })).body.remaining, 1);
  });

  test("a panic while other requests wait answers each of them a 500 envelope, and the next request works", async () => {
    const { key } = await createKey({ remaining: 10 });
    assert.equal((await verify({ key })).body.remaining, 9);
    // two requests asleep on a timer in the instance, then one that panics after its own wait
    const waiting = [300, 400].map((ms) => kg.call("/v1/liveness", { headers: { "X-Test-Delay": String(ms) } }));
    const panicking = kg.call("/v1/liveness", { headers: { "X-Test-Delay": "50", "X-Test-Panic": "1" } });
    for (const r of [await panicking, ...(await Promise.all(waiting))]) {
      const e = expectError(assert, r, 500, "INTERNAL_SERVER_ERROR", /^Something went wrong on keygate's side/);
      assert.equal(r.headers.get("unkey-request-id"), e.requestId);
    }
    assert.equal((await kg.call("/v1/liveness")).status, 200);
    assert.equal((await verify({ key })).body.remaining, 8);
  });

  test("the trigger exists only with UNSAFE_TEST_CLOCK=1", async () => {
    const prod = await startKeygate({ bindings: { UNSAFE_TEST_CLOCK: "0" } });
    try {
      const r = await prod.call("/v1/liveness", { headers: { "X-Test-Panic": "1" } });
      assert.equal(r.status, 200);
    } finally {
      await prod.stop();
    }
  });
});
