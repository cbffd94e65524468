-- v2 keys.migrateKeys: key migrations of a workspace (created through the operator API) and the
-- keys imported through one, waiting to be re-hashed on their first verification.
CREATE TABLE key_migrations (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  -- 'sha256' (the hash is keygate's own: base64 of SHA-256 of the whole key) or
  -- 'github.com/seamapi/prefixed-api-key' (hex SHA-256 of the key's last `_` segment)
  algorithm     TEXT NOT NULL,
  created_at_m  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX key_migrations_workspace_idx ON key_migrations (workspace_id);

ALTER TABLE keys ADD COLUMN pending_migration_id TEXT;
