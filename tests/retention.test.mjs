// Retention (issue 8): the cron deletes verification rollups older than ANALYTICS_RETENTION_DAYS,
// audit logs older than AUDIT_RETENTION_DAYS and keys soft-deleted before that, exactly (the
// boundary row stays), in bounded batches, and says so in one `system` audit event.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startKeygate } from "./helpers.mjs";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// the cron's scheduled time: an exact hour, so that cutoffs fall on hour boundaries
// (one reading of the clock: two could straddle a millisecond and make S an hour minus 1 ms)
const NOW = Date.now();
const S = NOW - (NOW % HOUR);

async function world(bindings) {
  const kg = await startKeygate({ bindings });
  const s = await kg.setup();
  const at = (t) => ({ "X-Test-Now": String(t) });
  const w = {
    kg,
    s,
    async key(body = {}) {
      const r = await kg.post("keys.createKey", { apiId: s.apiId, ...body }, s.rootKey);
      assert.equal(r.status, 200, r.text);
      return r.body;
    },
    async verify(key, t) {
      const r = await kg.post("keys.verifyKey", { key: key.key }, undefined, at(t));
      assert.equal(r.body.valid, true, r.text);
    },
    async api(name, t) {
      const r = await kg.post("apis.createApi", { name }, s.rootKey, at(t));
      assert.equal(r.status, 200, r.text);
      return r.body.apiId;
    },
    async deleteKey(keyId, t) {
      assert.equal((await kg.post("keys.deleteKey", { keyId }, s.rootKey, at(t))).status, 200);
    },
    /** Hours with verifications of `keyIds`, through analytics.getVerifications. */
    async hours(keyIds) {
      const qs = new URLSearchParams({ apiId: s.apiId, start: String(S - 400 * DAY), end: String(S + DAY), groupBy: "hour" });
      for (const id of keyIds) qs.append("keyId", id);
      const r = await kg.call(`/v1/analytics.getVerifications?${qs}`, { method: "GET", rootKey: s.rootKey });
      assert.equal(r.status, 200, r.text);
      return r.body.map((p) => [p.time, p.total]);
    },
    async apisCreated() {
      const r = await kg.get("audit.listLogs", { event: "api.create", limit: 100 }, s.rootKey);
      assert.equal(r.status, 200, r.text);
      return r.body.logs.map((l) => l.resources.find((x) => x.type === "api").name).sort();
    },
    async cron(t = S) {
      const worker = await kg.mf.getWorker("keygate");
      await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(t) });
    },
    retentionEvents: () => kg.rows("SELECT display, actor_type, actor_id FROM audit_log WHERE workspace_id = 'ws_keygate' AND event = 'retention.delete' ORDER BY time, id"),
  };
  return w;
}

describe("retention with the defaults (90 days of analytics, 365 days of audit logs)", () => {
  let w;
  before(async () => {
    w = await world({});
  });
  after(async () => {
    await w?.kg.stop();
  });

  test("deletes exactly the old rows, however many, in one run; one system event says what", async () => {
    const k = await w.key();
    const cutoff = S - 90 * DAY;
    for (const t of [cutoff - DAY, cutoff - 1, cutoff, S - 10 * DAY]) await w.verify(k, t);
    assert.deepEqual(await w.hours([k.keyId]), [[cutoff - DAY, 1], [cutoff - HOUR, 1], [cutoff, 1], [S - 10 * DAY, 1]]);
    // 2500 more old rollups (test-only D1 write): more than one delete batch
    await w.kg.db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
         INSERT INTO verification_rollups (key_id, hour, workspace_id, key_space_id, valid)
         SELECT 'key_bulk', ? - CAST(i AS BIGINT) * ${HOUR}, 'ws_bulk', 'ks_bulk', 1 FROM n`,
      )
      .bind(cutoff)
      .run();

    await w.api("old-api", S - 366 * DAY);
    await w.api("boundary-api", S - 365 * DAY);
    await w.api("young-api", S - 364 * DAY);
    const oldLog = await w.kg.row("SELECT l.id FROM audit_log l JOIN audit_log_target t ON t.audit_log_id = l.id WHERE t.name = 'old-api'");

    const purged = await w.key({ remaining: 5, permissions: ["p.one"], roles: ["r.one"] });
    const kept = await w.key({ remaining: 5 });
    const live = await w.key();
    await w.deleteKey(purged.keyId, S - 366 * DAY);
    await w.deleteKey(kept.keyId, S - 364 * DAY);

    await w.cron();

    assert.deepEqual(await w.hours([k.keyId]), [[cutoff, 1], [S - 10 * DAY, 1]]);
    assert.equal((await w.kg.row("SELECT COUNT(*) AS n FROM verification_rollups WHERE hour < ?", cutoff)).n, 0);
    assert.deepEqual(await w.apisCreated(), ["boundary-api", "test-api", "young-api"]);
    assert.equal((await w.kg.row("SELECT COUNT(*) AS n FROM audit_log_target WHERE audit_log_id = ?", oldLog.id)).n, 0);
    assert.equal((await w.kg.row("SELECT COUNT(*) AS n FROM audit_log WHERE time < ?", S - 365 * DAY)).n, 0);
    // the key deleted 366 days ago is gone with its links and credits; the others stay
    const rows = async (table, keyId) => (await w.kg.row(`SELECT COUNT(*) AS n FROM ${table} WHERE ${table === "keys" ? "id" : "key_id"} = ?`, keyId)).n;
    for (const table of ["keys", "credits", "keys_permissions", "keys_roles"]) assert.equal(await rows(table, purged.keyId), 0, table);
    assert.equal(await rows("keys", kept.keyId), 1);
    assert.equal(await rows("credits", kept.keyId), 1);
    assert.equal((await w.kg.get("keys.getKey", { keyId: live.keyId }, w.s.rootKey)).status, 200);

    const events = await w.retentionEvents();
    assert.equal(events.length, 1);
    // the api.create and key.delete of 366 days ago
    assert.deepEqual(events[0], {
      display: "retention deleted 2502 analytics rollups (older than 90 days), 2 audit logs and 1 soft-deleted keys (older than 365 days)",
      actor_type: "system",
      actor_id: "cron",
    });

    // nothing left to delete: no further retention event
    await w.cron(S);
    assert.equal((await w.retentionEvents()).length, 1);
  });
});

describe("retention periods from ANALYTICS_RETENTION_DAYS and AUDIT_RETENTION_DAYS", () => {
  let w;
  before(async () => {
    w = await world({ ANALYTICS_RETENTION_DAYS: "2", AUDIT_RETENTION_DAYS: "3" });
  });
  after(async () => {
    await w?.kg.stop();
  });

  test("2 and 3 days", async () => {
    const k = await w.key();
    await w.verify(k, S - 2 * DAY - HOUR);
    await w.verify(k, S - 2 * DAY);
    await w.api("four-days", S - 4 * DAY);
    await w.api("two-days", S - 2 * DAY);
    await w.cron();
    assert.deepEqual(await w.hours([k.keyId]), [[S - 2 * DAY, 1]]);
    assert.deepEqual(await w.apisCreated(), ["test-api", "two-days"]);
    assert.match((await w.retentionEvents())[0].display, /^retention deleted 1 analytics rollups \(older than 2 days\), 1 audit logs and 0 soft-deleted keys \(older than 3 days\)$/);
  });
});
