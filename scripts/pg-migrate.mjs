// Applies keygate's Postgres migrations (migrations-pg/*.sql, in name order) to a database: each
// file once, in its own transaction, recorded in `keygate_migrations`. The Postgres counterpart of
// `wrangler d1 migrations apply`.
//
//   node scripts/pg-migrate.mjs [--create] postgres://user:password@host:5432/database
//
// --create creates the database first when it does not exist. Point it at the origin database
// (not at Hyperdrive): Hyperdrive only serves Workers.
import { readFileSync, readdirSync } from "node:fs";
import pg from "pg";

const DIR = new URL("../migrations-pg/", import.meta.url).pathname;

/** The migration files, in the order they apply. */
export const migrationFiles = () => readdirSync(DIR).filter((f) => f.endsWith(".sql")).sort();

/** Applies the migrations not applied yet to the database at `url`; returns their names. */
export async function migrate(url, { create = false } = {}) {
  if (create) await createDatabase(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET client_min_messages = warning");
    await client.query("CREATE TABLE IF NOT EXISTS keygate_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)");
    const done = new Set((await client.query("SELECT name FROM keygate_migrations")).rows.map((r) => r.name));
    const applied = [];
    for (const file of migrationFiles().filter((f) => !done.has(f))) {
      await client.query("BEGIN");
      try {
        await client.query(readFileSync(`${DIR}${file}`, "utf8"));
        await client.query("INSERT INTO keygate_migrations (name, applied_at) VALUES ($1, $2)", [file, Date.now()]);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK");
        throw new Error(`${file}: ${e.message}`);
      }
      applied.push(file);
    }
    return applied;
  } finally {
    await client.end();
  }
}

/** Creates the database of `url` unless it exists (connected to the server's `postgres` database). */
export async function createDatabase(url) {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: u.toString() });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const args = process.argv.slice(2);
  const url = args.find((a) => !a.startsWith("--"));
  if (!url) {
    console.error("usage: node scripts/pg-migrate.mjs [--create] postgres://user:password@host:port/database");
    process.exit(2);
  }
  const applied = await migrate(url, { create: args.includes("--create") });
  console.log(applied.length ? `pg-migrate: applied ${applied.join(", ")}` : "pg-migrate: up to date");
}
