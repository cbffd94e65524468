// Starts the built worker in Miniflare with control the shared harness does not give: which
// migrations run, and state persisted in a directory (so a second worker can serve it with other
// secrets). Returns the harness's Keygate.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { Keygate, keygateWorker, splitSql, ADMIN_TOKEN } from "./helpers.mjs";
import { POSTGRES, storeFor } from "./backend.mjs";

const ROOT = new URL("..", import.meta.url).pathname;

/** The migration files, in order. */
export const MIGRATIONS = readdirSync(`${ROOT}migrations`).filter((f) => f.endsWith(".sql")).sort();

/** Applies migration files to a running worker's database (on Postgres, their migrations-pg twins). */
export async function applyMigrations(kg, files, { backend = POSTGRES ? "postgres" : "d1" } = {}) {
  for (const file of files) {
    if (backend === "postgres") {
      await kg.db.migrate(file);
      continue;
    }
    const statements = splitSql(readFileSync(`${ROOT}migrations/${file}`, "utf8"));
    await kg.db.batch(statements.map((sql) => kg.db.prepare(sql)));
  }
}

/**
 * keygate with `bindings` (UNSAFE_TEST_CLOCK and ADMIN_TOKEN are set), its state in memory or in
 * `persistDir`, after applying `migrations` (default: all).
 */
export async function startWorker({ bindings = {}, persistDir, migrations = MIGRATIONS } = {}) {
  const store = await storeFor({ empty: true, persist: persistDir });
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    ...(persistDir ? { d1Persist: join(persistDir, "d1"), durableObjectsPersist: join(persistDir, "do") } : {}),
    workers: [keygateWorker(store, { UNSAFE_TEST_CLOCK: "1", ADMIN_TOKEN, ...bindings })],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const kg = new Keygate(mf, url, store.db ?? (await mf.getD1Database("DB", "keygate")), ADMIN_TOKEN, store.drop);
  await applyMigrations(kg, migrations);
  return kg;
}
