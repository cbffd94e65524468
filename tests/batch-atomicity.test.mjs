// A change is one batch, one transaction, on both backends (D1's batch; Postgres' BEGIN … COMMIT):
// when its last statement fails inside the database, nothing of it is written. The database is
// made to refuse the last statements of every change (the audit targets, written after the change
// itself) with a trigger installed straight into it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate, expectError, uniq } from "./helpers.mjs";
import { POSTGRES } from "./backend.mjs";

let kg, s;
before(async () => {
  kg = await startKeygate();
  s = await kg.setup();
});
after(async () => {
  await kg?.stop();
});

async function refuseAuditTargets() {
  if (POSTGRES) {
    await kg.db.exec(`CREATE FUNCTION refuse_by_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
      CREATE TRIGGER refuse_targets BEFORE INSERT ON audit_log_target FOR EACH ROW EXECUTE FUNCTION refuse_by_test()`);
  } else {
    await kg.db.prepare("CREATE TRIGGER refuse_targets BEFORE INSERT ON audit_log_target BEGIN SELECT RAISE(ABORT, 'refused by the test'); END").run();
  }
}
const allowAuditTargets = () => kg.db.prepare(POSTGRES ? "DROP TRIGGER refuse_targets ON audit_log_target" : "DROP TRIGGER refuse_targets").run();

const count = async (sql, ...args) => (await kg.row(`SELECT COUNT(*) AS n FROM ${sql}`, ...args)).n;

test("a statement failing at the end of a batch leaves nothing of the change written", async () => {
  const externalId = uniq();
  const keyName = `atomic-${uniq()}`;
  const identityBody = {
    externalId,
    meta: { a: 1 },
    ratelimits: [
      { name: "one", limit: 1, duration: 1000 },
      { name: "two", limit: 2, duration: 2000 },
    ],
  };
  const auditBefore = await count("audit_log WHERE workspace_id = ?", s.workspaceId);
  const creditsBefore = await count("credits WHERE workspace_id = ?", s.workspaceId);
  await refuseAuditTargets();
  try {
    expectError(assert, await kg.post("identities.createIdentity", identityBody, s.rootKey), 500, "INTERNAL_SERVER_ERROR");
    expectError(assert, await kg.post("keys.createKey", { apiId: s.apiId, name: keyName, remaining: 5, ratelimit: { type: "fast", limit: 1, duration: 1000 } }, s.rootKey), 500, "INTERNAL_SERVER_ERROR");
    assert.equal(await count("identities WHERE external_id = ?", externalId), 0);
    assert.equal(await count("ratelimits WHERE workspace_id = ?", s.workspaceId), 0);
    assert.equal(await count("keys WHERE name = ?", keyName), 0);
    assert.equal(await count("credits WHERE workspace_id = ?", s.workspaceId), creditsBefore);
    assert.equal(await count("audit_log WHERE workspace_id = ?", s.workspaceId), auditBefore);
  } finally {
    await allowAuditTargets();
  }
  // nothing half-written stands in the way: the same changes go through once the database allows them
  const created = await kg.post("identities.createIdentity", identityBody, s.rootKey);
  assert.equal(created.status, 200, created.text);
  assert.equal(await count("identities WHERE external_id = ?", externalId), 1);
  assert.equal(await count("ratelimits WHERE identity_id = ?", created.body.identityId), 2);
  const key = await kg.post("keys.createKey", { apiId: s.apiId, name: keyName, remaining: 5 }, s.rootKey);
  assert.equal(key.status, 200, key.text);
  assert.equal((await kg.post("keys.verifyKey", { key: key.body.key })).body.remaining, 4);
  // (the identity, its two rate limits and the key)
  assert.equal(await count("audit_log WHERE workspace_id = ?", s.workspaceId), auditBefore + 4);
});
