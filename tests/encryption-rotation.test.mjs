// Hardening item 8: rotating the master key of recoverable keys. The same local state is served by
// successive workers with different ENCRYPTION_KEYS, as a deployment whose secret changes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startWorker, MIGRATIONS } from "./worker.mjs";
const OLD = randomBytes(32).toString("base64");
const NEW = randomBytes(32).toString("base64");
const SCHEME = "hkdf-sha256-aes256gcm-v1";

let dir;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "keygate-rotation-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** keygate on the persistent state in `dir` (migrated on first start) with these secrets. */
const start = (secrets, { migrate = false } = {}) =>
  startWorker({ bindings: secrets, persistDir: dir, migrations: migrate ? MIGRATIONS : [] });

const labelOf = async (kg, keyId) => (await kg.row("SELECT encryption_key_id FROM encrypted_keys WHERE key_id = ?", keyId)).encryption_key_id;
async function eventually(check, ms = 5000) {
  for (let waited = 0; ; waited += 100) {
    if (await check()) return;
    if (waited >= ms) assert.fail("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("old copies stay readable after a rotation, are re-sealed on read and by the cron, and an unreadable copy never fails a page", async () => {
  // 1. recoverable keys under the old master key (one of them labelled as before keys were versioned)
  let kg = await start({ ENCRYPTION_KEY: OLD }, { migrate: true });
  const s = await kg.setup();
  await kg.admin("updateApi", { apiId: s.apiId, storeEncryptedKeys: true });
  const make = async () => (await kg.post("keys.createKey", { apiId: s.apiId, recoverable: true }, s.rootKey)).body;
  const read = await make();
  const unread = await make();
  const legacy = await make();
  const oldLabel = await labelOf(kg, read.keyId);
  assert.match(oldLabel, new RegExp(`^${SCHEME}:[0-9a-f]{16}$`));
  await kg.db.prepare("UPDATE encrypted_keys SET encryption_key_id = ? WHERE key_id = ?").bind(SCHEME, legacy.keyId).run();
  await kg.stop();

  // 2. the operator rotates: the new key first, the old one kept
  kg = await start({ ENCRYPTION_KEYS: `${NEW}, ${OLD}` });
  const got = await kg.get("keys.getKey", { keyId: read.keyId, decrypt: true }, s.rootKey);
  assert.equal(got.status, 200, got.text);
  assert.equal(got.body.plaintext, read.key);
  // re-sealed with the new key after the read
  let newLabel;
  await eventually(async () => (newLabel = await labelOf(kg, read.keyId)) !== oldLabel);
  assert.match(newLabel, new RegExp(`^${SCHEME}:[0-9a-f]{16}$`));
  const fresh = await make();
  assert.equal(await labelOf(kg, fresh.keyId), newLabel);
  // the cron re-seals what nobody read, the pre-versioning copy included
  assert.equal(await labelOf(kg, unread.keyId), oldLabel);
  const worker = await kg.mf.getWorker();
  await worker.scheduled({ cron: "0 * * * *" });
  assert.equal(await labelOf(kg, unread.keyId), newLabel);
  assert.equal(await labelOf(kg, legacy.keyId), newLabel);
  await kg.stop();

  // 3. the old key is dropped: every copy still opens
  kg = await start({ ENCRYPTION_KEYS: NEW });
  const page = await kg.get("apis.listKeys", { apiId: s.apiId, decrypt: true }, s.rootKey);
  assert.equal(page.status, 200, page.text);
  const plain = Object.fromEntries(page.body.keys.map((k) => [k.id, k.plaintext]));
  for (const [name, k] of Object.entries({ read, unread, legacy, fresh })) assert.equal(plain[k.keyId], k.key, `${name} ${k.keyId}`);

  // 4. one unreadable copy (corrupted here) is answered without plaintext; the page still works
  await kg.db.prepare("UPDATE encrypted_keys SET encrypted = ? WHERE key_id = ?").bind(Buffer.alloc(40, 7).toString("base64"), unread.keyId).run();
  const partial = await kg.get("apis.listKeys", { apiId: s.apiId, decrypt: true }, s.rootKey);
  assert.equal(partial.status, 200, partial.text);
  const after = Object.fromEntries(partial.body.keys.map((k) => [k.id, k]));
  assert.equal(after[unread.keyId].plaintext, undefined);
  assert.equal(after[read.keyId].plaintext, read.key);
  const single = await kg.get("keys.getKey", { keyId: unread.keyId, decrypt: true }, s.rootKey);
  assert.equal(single.status, 200, single.text);
  assert.equal(single.body.plaintext, undefined);
  await kg.stop();

  // 5. a deployment that lost the new key: nothing opens, nothing fails
  kg = await start({ ENCRYPTION_KEY: OLD });
  const blind = await kg.get("apis.listKeys", { apiId: s.apiId, decrypt: true }, s.rootKey);
  assert.equal(blind.status, 200, blind.text);
  assert.ok(blind.body.keys.every((k) => k.plaintext === undefined));
  assert.equal((await kg.post("keys.verifyKey", { key: read.key })).body.code, "VALID");
  await kg.stop();
});
