// The store backend the integration tests run against, one interface over both:
//   KEYGATE_BACKEND unset or "d1": the default build (build/) with Miniflare's in-memory D1.
//   KEYGATE_BACKEND=postgres: the Postgres build (build-pg/) bound to a fresh database of the local
//   server at KEYGATE_PG_URL (scripts/test.sh and scripts/with-pg.sh start one), made from the
//   migrated template database KEYGATE_PG_TEMPLATE (default kg_template) and dropped on stop.
// Tests read and write stored state through `kg.db` (D1's API: prepare/bind/first/all/run, batch);
// on Postgres that is a facade with the same API and the same results: `?`/`?N` become `$N`,
// `json_each(x)` becomes `json_array_elements_text(x::json)` (see src/store/dialect.rs), BIGINT and
// NUMERIC come back as numbers and booleans as 0/1, as SQLite gives them.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";

export const BACKEND = process.env.KEYGATE_BACKEND === "postgres" ? "postgres" : "d1";
export const POSTGRES = BACKEND === "postgres";

/** What the harness needs for one keygate: its build directory, the worker's store bindings, and
 * (Postgres) the database facade and how to drop the database.
 *  - by default a fresh database copied from the migrated template;
 *  - `{ empty: true }`: a fresh database with no schema (the caller applies migrations);
 *  - `{ persist: dir }`: the database of that state directory, created empty on first use and kept
 *    on stop (a later worker on the same directory serves the same data), as Miniflare's
 *    `d1Persist` does for D1. */
export async function storeFor({ empty = false, persist } = {}) {
  if (!POSTGRES) return { build: "build", bindings: { d1Databases: { DB: "00000000-0000-0000-0000-000000000000" } } };
  const base = process.env.KEYGATE_PG_URL;
  if (!base) {
    throw new Error(
      "KEYGATE_BACKEND=postgres needs a Postgres server: run the tests through `bash scripts/test.sh`, " +
        "or `KEYGATE_BACKEND=postgres bash scripts/with-pg.sh node --test tests/<file>.test.mjs`",
    );
  }
  const template = process.env.KEYGATE_PG_TEMPLATE ?? "kg_template";
  const name = persist
    ? `kg_p_${createHash("sha256").update(persist).digest("hex").slice(0, 16)}`
    : `kg_${process.pid}_${++databases}_${Date.now().toString(36)}`;
  await admin(base, async (c) => {
    if (persist && (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount) return;
    if (empty || persist) {
      await c.query(`CREATE DATABASE ${name}`);
      return;
    }
    // the template must have no other session while it is copied: retry while another file copies it
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        return;
      } catch (e) {
        if (e.code !== "55006" || attempt >= 50) throw e;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      }
    }
  });
  const url = `${base}/${name}`;
  const db = new PgDatabase(url);
  return {
    build: "build-pg",
    bindings: { hyperdrives: { HYPERDRIVE: url } },
    db,
    async drop() {
      await db.close();
      if (!persist) await admin(base, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

let databases = 0;

async function admin(base, work) {
  const c = new pg.Client({ connectionString: `${base}/postgres` });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** SQLite's spelling → Postgres' (the test-side twin of src/store/dialect.rs). */
export function toPostgres(sql) {
  let out = "";
  let highest = 0;
  const jsonEachAt = [];
  let depth = 0;
  for (let i = 0; i < sql.length; ) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "?") {
      const digits = /^\d*/.exec(sql.slice(i + 1))[0];
      const n = digits ? Number(digits) : highest + 1;
      highest = Math.max(highest, n);
      out += `$${n}`;
      i += 1 + digits.length;
    } else if (c === "(") {
      depth++;
      out += c;
      i++;
    } else if (c === ")") {
      if (jsonEachAt.at(-1) === depth) {
        jsonEachAt.pop();
        out += "::json";
      }
      depth--;
      out += c;
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z0-9_]+/.exec(sql.slice(i))[0];
      const call = sql[i + word.length] === "(";
      if (call && word.toLowerCase() === "json_each") {
        jsonEachAt.push(depth + 1);
        out += "json_array_elements_text";
      } else if (call && word.toLowerCase() === "instr") out += "strpos";
      else out += word;
      i += word.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// BIGINT (20) and NUMERIC (1700) as numbers, booleans (16) as 0/1, as D1 answers
const TYPES = {
  getTypeParser(oid, format) {
    if (oid === 20 || oid === 1700) return Number;
    if (oid === 16) return (v) => (v === "t" ? 1 : 0);
    return pg.types.getTypeParser(oid, format);
  },
};

const param = (v) => (v === undefined ? null : typeof v === "boolean" ? Number(v) : v);

/** D1's API over a Postgres database. */
class PgDatabase {
  constructor(url) {
    this.pool = new pg.Pool({ connectionString: url, max: 4, types: TYPES });
    // pool.end() resolves before its idle clients have closed, and dropping the database then
    // terminates them: that late error is expected (a failing query still rejects its promise)
    this.pool.on("error", () => {});
    this.pool.on("connect", (client) => client.on("error", () => {}));
  }

  prepare(sql) {
    return new PgStatement(this, sql, []);
  }

  /** The statements in one transaction; one result each (as `all()` gives them). */
  async batch(statements) {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const results = [];
      for (const s of statements) results.push(PgStatement.result(await s.query(client)));
      await client.query("COMMIT");
      return results;
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    } finally {
      client.release();
    }
  }

  /** Runs SQL text of any number of statements (as D1's `exec`). */
  async exec(sql) {
    await this.pool.query(sql);
  }

  /** Applies a Postgres migration file (migrations-pg/NAME, the twin of migrations/NAME). */
  async migrate(file) {
    await this.exec(readFileSync(new URL(`../migrations-pg/${file}`, import.meta.url), "utf8"));
  }

  async close() {
    await this.pool.end();
  }
}

class PgStatement {
  constructor(db, sql, args) {
    this.db = db;
    this.sql = sql;
    this.args = args;
  }

  bind(...args) {
    return new PgStatement(this.db, this.sql, args);
  }

  query(client = this.db.pool) {
    return client.query(toPostgres(this.sql), this.args.map(param));
  }

  static result(r) {
    return { results: r.rows, success: true, meta: { changes: r.rowCount ?? 0 } };
  }

  async first(column) {
    const row = (await this.query()).rows[0] ?? null;
    return column === undefined ? row : (row?.[column] ?? null);
  }

  async all() {
    return PgStatement.result(await this.query());
  }

  async run() {
    return PgStatement.result(await this.query());
  }
}

/** The names of keygate's tables (bookkeeping tables left out). */
export async function tableNames(kg, backend = BACKEND) {
  const rows = backend === "postgres"
    ? await kg.rows("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'keygate_migrations' ORDER BY table_name")
    : await kg.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB 'sqlite_*' AND name NOT GLOB '_cf_*' ORDER BY name");
  return rows.map((r) => r.name);
}

/** The column names of a table, in order (Postgres' `rowid` identity column left out: SQLite's is
 * hidden too). */
export async function columnNames(kg, table, backend = BACKEND) {
  const rows = backend === "postgres"
    ? await kg.rows("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? AND column_name <> 'rowid' ORDER BY ordinal_position", table)
    : await kg.rows(`PRAGMA table_info("${table}")`);
  return rows.map((c) => c.name);
}
