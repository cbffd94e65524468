// The Postgres schema (migrations-pg/) is the twin of the D1 schema (migrations/): the same
// migration files, and, once applied, the same tables, columns (in order) and named indexes on the
// same columns. The D1 side is built here in Miniflare's D1 from migrations/; the Postgres side is
// the migrated test database (Postgres pass only; the file-name check runs on both passes).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { Miniflare } from "miniflare";
import { startKeygate } from "./helpers.mjs";
import { POSTGRES, tableNames, columnNames } from "./backend.mjs";
import { applyMigrations, MIGRATIONS } from "./worker.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const skip = !POSTGRES && "compares the Postgres schema (Postgres pass)";

test("every D1 migration has a Postgres twin of the same name, and no other", () => {
  const pg = readdirSync(`${ROOT}migrations-pg`).filter((f) => f.endsWith(".sql")).sort();
  assert.deepEqual(pg, MIGRATIONS);
});

let mf, kg, d1;
const getD1 = async () => (d1 ??= await d1Schema());
after(async () => {
  await mf?.dispose();
  await kg?.stop();
});

/** A D1 database with the D1 migrations applied, read through the same helpers as the tests. */
async function d1Schema() {
  mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(''); } }",
    d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
  });
  const db = await mf.getD1Database("DB");
  const schema = {
    db,
    async rows(sql, ...args) {
      return (await db.prepare(sql).bind(...args).all()).results;
    },
  };
  await applyMigrations({ db }, MIGRATIONS, { backend: "d1" });
  return schema;
}

async function schemaOf(kg, backend) {
  const tables = await tableNames(kg, backend);
  const columns = {};
  for (const t of tables) columns[t] = await columnNames(kg, t, backend);
  return { tables, columns };
}

test("the migrated Postgres schema has D1's tables and columns, in order", { skip }, async () => {
  kg ??= await startKeygate();
  const want = await schemaOf(await getD1(), "d1");
  const got = await schemaOf(kg, "postgres");
  assert.ok(want.tables.length >= 18, `only ${want.tables.length} tables`);
  assert.deepEqual(got.tables, want.tables);
  for (const t of want.tables) assert.deepEqual(got.columns[t], want.columns[t], t);
});

test("the migrated Postgres schema has D1's named indexes, on the same columns", { skip }, async () => {
  kg ??= await startKeygate();
  const d1 = await getD1();
  const d1Indexes = {};
  for (const { name, tbl_name } of await d1.rows("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name")) {
    const cols = (await d1.rows(`SELECT name FROM pragma_index_info('${name}') ORDER BY seqno`)).map((c) => c.name);
    d1Indexes[name] = `${tbl_name}(${cols.join(", ")})`;
  }
  const pgIndexes = {};
  const rows = await kg.rows(
    `SELECT i.relname AS name, t.relname AS tbl, a.attname AS col, k.ord
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
       CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
      WHERE NOT x.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
      ORDER BY i.relname, k.ord`,
  );
  for (const r of rows) {
    const [tbl, cols] = pgIndexes[r.name] ? pgIndexes[r.name] : [r.tbl, []];
    cols.push(r.col);
    pgIndexes[r.name] = [tbl, cols];
  }
  const got = Object.fromEntries(Object.entries(pgIndexes).map(([n, [t, c]]) => [n, `${t}(${c.join(", ")})`]));
  assert.ok(Object.keys(d1Indexes).length >= 20, `only ${Object.keys(d1Indexes).length} indexes`);
  assert.deepEqual(got, d1Indexes);
});
