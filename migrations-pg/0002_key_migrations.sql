-- Twin of ../migrations/0002_key_migrations.sql. v2 keys.migrateKeys: key migrations of a
-- workspace (created through the operator API) and the keys imported through one, waiting to be
-- re-hashed on their first verification.
CREATE TABLE key_migrations (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  algorithm     TEXT COLLATE "C" NOT NULL,
  created_at_m  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX key_migrations_workspace_idx ON key_migrations (workspace_id);

ALTER TABLE keys ADD COLUMN pending_migration_id TEXT COLLATE "C";
