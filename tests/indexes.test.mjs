// EXPLAIN QUERY PLAN of the analytics, audit and retention read paths (issue 8): every common
// filter searches an index, no table is scanned. The statements mirror the WHERE / ORDER BY
// shapes built in src/store/analytics.rs, src/store/audit.rs and src/store/keys.rs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeygate } from "./helpers.mjs";
import { POSTGRES } from "./backend.mjs";

// SQLite's (D1's) query plans: on Postgres these are skipped, and pg-schema.test.mjs checks that
// the Postgres schema has the same indexes, on the same columns
const skip = POSTGRES && "SQLite query plans (D1 only)";

let kg;
before(async () => {
  if (skip) return;
  kg = await startKeygate();
});
after(async () => {
  await kg?.stop();
});

async function plan(sql, ...args) {
  const rows = await kg.rows(`EXPLAIN QUERY PLAN ${sql}`, ...args);
  return rows.map((r) => r.detail);
}

/** Every access to a real table of the plan is an index SEARCH (json_each is a virtual table). */
async function expectSearch(name, sql, index, args) {
  const details = await plan(sql, ...args);
  const tables = details.filter((d) => /^(SCAN|SEARCH) /.test(d) && !/VIRTUAL TABLE|json_each|CO-ROUTINE|SUBQUERY/.test(d));
  assert.ok(tables.length > 0, `${name}: ${details.join(" | ")}`);
  for (const d of tables) assert.match(d, /^SEARCH /, `${name}: full scan in ${details.join(" | ")}`);
  const uses = (d) => (index instanceof RegExp ? index.test(d) : d.includes(index));
  assert.ok(details.some(uses), `${name}: ${index} not used: ${details.join(" | ")}`);
}

const SUMS = "COALESCE(SUM(r.valid), 0) AS valid, COALESCE(SUM(r.spent_credits), 0) AS spent_credits";
const RANGE = "r.workspace_id = ?1 AND r.hour >= ?2 AND r.hour < ?3";
const list = JSON.stringify(["key_a", "key_b"]);

test("analytics.getVerifications: by api, by keys, by identity, by tag", { skip }, async () => {
  await expectSearch("api", `SELECT ${SUMS} FROM verification_rollups r WHERE ${RANGE} AND r.key_space_id = ?4`, "verification_rollups_space_hour_idx", ["ws", 0, 1, "ks"]);
  await expectSearch(
    "api by hour and key",
    `SELECT r.hour AS time, r.key_id AS key_id, ${SUMS} FROM verification_rollups r WHERE ${RANGE} AND r.key_space_id = ?4
     GROUP BY time, r.key_id ORDER BY time, r.key_id LIMIT ?5`,
    "verification_rollups_space_hour_idx",
    ["ws", 0, 1, "ks", 100],
  );
  await expectSearch(
    "keys",
    `SELECT ${SUMS} FROM verification_rollups r WHERE ${RANGE} AND r.key_space_id = ?4 AND r.key_id IN (SELECT value FROM json_each(?5))`,
    /USING (PRIMARY KEY|INDEX verification_rollups_space_hour_idx)/,
    ["ws", 0, 1, "ks", list],
  );
  await expectSearch(
    "identity",
    `SELECT r.identity_id AS identity_id, i.external_id AS external_id, ${SUMS} FROM verification_rollups r
     LEFT JOIN identities i ON i.id = r.identity_id WHERE ${RANGE} AND r.key_space_id = ?4 AND r.identity_id = ?5 GROUP BY r.identity_id`,
    "_idx",
    ["ws", 0, 1, "ks", "id_1"],
  );
  await expectSearch(
    "tag",
    `SELECT t.value AS tag, ${SUMS} FROM verification_rollups r CROSS JOIN json_each(r.tags) t WHERE ${RANGE} AND r.key_space_id = ?4
     AND t.value IN (SELECT value FROM json_each(?5)) GROUP BY t.value`,
    "verification_rollups_space_hour_idx",
    ["ws", 0, 1, "ks", list],
  );
});

test("keys.getVerifications: by keys (and the owner's keys)", { skip }, async () => {
  await expectSearch(
    "keys by day",
    `SELECT (r.hour - r.hour % 86400000) AS time, ${SUMS} FROM verification_rollups r WHERE ${RANGE}
     AND r.key_id IN (SELECT value FROM json_each(?4)) GROUP BY time ORDER BY time LIMIT 10000`,
    "PRIMARY KEY",
    ["ws", 0, 1, list],
  );
  const owner = await plan(
    `SELECT k.id, a.id AS api_id FROM keys k JOIN apis a ON a.key_auth_id = k.key_auth_id
     WHERE k.id IN (
       SELECT id FROM keys WHERE owner_id = ?2 AND workspace_id = ?1 AND +deleted_at_m IS NULL
       UNION
       SELECT id FROM keys WHERE +deleted_at_m IS NULL AND identity_id IN
         (SELECT id FROM identities WHERE workspace_id = ?1 AND external_id = ?2 AND deleted = 0))
     ORDER BY k.id`,
    "ws",
    "owner",
  );
  const tables = owner.filter((d) => /^(SCAN|SEARCH) (k|keys|a|identities)\b/.test(d));
  assert.ok(tables.every((d) => d.startsWith("SEARCH")), owner.join(" | "));
  for (const index of ["keys_owner_idx", "keys_identity_idx"]) assert.ok(owner.some((d) => d.includes(index)), `${index}: ${owner.join(" | ")}`);
});

test("audit.listLogs: newest first per workspace, by event, by actor, by resource", { skip }, async () => {
  const page = (filter, workspace = "workspace_id") =>
    `SELECT id, time, event FROM audit_log WHERE ${workspace} = ?1 AND time >= ?2 AND time < ?3${filter} ORDER BY time DESC, id DESC LIMIT ?4`;
  await expectSearch("workspace", page(""), "audit_log_workspace_time_idx", ["ws", 0, 1, 10]);
  const ordered = await plan(page(""), "ws", 0, 1, 10);
  assert.ok(!ordered.some((d) => d.includes("TEMP B-TREE")), `sorts: ${ordered.join(" | ")}`);
  await expectSearch("cursor", page(" AND (time, id) < (?5, ?6)"), "audit_log_workspace_time_idx", ["ws", 0, 1, 10, 5, "log_x"]);
  await expectSearch("event", page(" AND event = ?5"), "audit_log_event_time_idx", ["ws", 0, 1, 10, "key.create"]);
  await expectSearch("actor", page(" AND actor_id = ?5"), "audit_log_actor_time_idx", ["ws", 0, 1, 10, "key_1"]);
  await expectSearch(
    "resource",
    page(" AND id IN (SELECT audit_log_id FROM audit_log_target WHERE workspace_id = ?1 AND id = ?5)", "+workspace_id"),
    "audit_log_target_resource_idx",
    ["ws", 0, 1, 10, "key_1"],
  );
  await expectSearch(
    "targets of a page",
    `SELECT audit_log_id, type, id, name FROM audit_log_target WHERE audit_log_id IN (SELECT id FROM (${page("")}) AS page) ORDER BY rowid`,
    "sqlite_autoindex_audit_log_target_1",
    ["ws", 0, 1, 10],
  );
});

test("retention deletes find the old rows through an index", { skip }, async () => {
  await expectSearch(
    "rollups",
    "DELETE FROM verification_rollups WHERE (key_id, hour, identity_id, tags) IN (SELECT key_id, hour, identity_id, tags FROM verification_rollups WHERE hour < ?1 LIMIT ?2)",
    "verification_rollups_hour_idx",
    [0, 1000],
  );
  await expectSearch("audit logs", "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < ?1 ORDER BY time, rowid LIMIT ?2)", "audit_log_time_idx", [0, 1000]);
  await expectSearch(
    "audit targets",
    "DELETE FROM audit_log_target WHERE audit_log_id IN (SELECT id FROM audit_log WHERE time < ?1 ORDER BY time, rowid LIMIT ?2)",
    "audit_log_time_idx",
    [0, 1000],
  );
  const purge = "id IN (SELECT id FROM keys WHERE deleted_at_m < ?1 ORDER BY deleted_at_m, rowid LIMIT ?2)";
  await expectSearch("deleted keys", `DELETE FROM keys WHERE ${purge}`, "keys_deleted_idx", [0, 1000]);
  for (const table of ["credits", "ratelimits", "encrypted_keys", "keys_permissions", "keys_roles"]) {
    const details = await plan(`DELETE FROM ${table} WHERE key_id IN (SELECT id FROM keys WHERE ${purge})`, 0, 1000);
    assert.ok(details.some((d) => d.includes("keys_deleted_idx")), `${table}: ${details.join(" | ")}`);
  }
});
