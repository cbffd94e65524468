-- keygate schema for Postgres: the twin of ../migrations/0001_init.sql (every D1 migration has a
-- twin of the same name here, tests/pg-schema.test.mjs checks it and the result), in Postgres types.
-- Applied by scripts/pg-migrate.mjs (each file once, in name order, in a transaction, recorded in
-- keygate_migrations).
--
-- What differs from the D1 schema, and why:
-- - Every INTEGER is BIGINT (unix ms timestamps and balances overflow Postgres' 32-bit INTEGER).
--   0/1 flags stay integers too: the store's SQL compares them with `<> 0` in both dialects.
-- - Every TEXT column is COLLATE "C" (byte order, as SQLite's BINARY): ids, names and cursors sort
--   and compare as on D1 whatever the database's default collation (managed databases often
--   default to en_US, which orders `B` after `a`).
-- - JSON stays TEXT (meta, tags): jsonb would reorder an object's keys.
-- - keys, audit_log and audit_log_target get a `rowid` identity column: the store orders by
--   SQLite's implicit rowid (insertion order) there, and this makes that SQL run unchanged.

CREATE TABLE workspaces (
  id            TEXT COLLATE "C" PRIMARY KEY,
  name          TEXT COLLATE "C" NOT NULL,
  enabled       BIGINT NOT NULL DEFAULT 1,
  created_at_m  BIGINT NOT NULL DEFAULT 0,
  updated_at_m  BIGINT,
  deleted_at_m  BIGINT
);

CREATE TABLE key_auth (
  id                    TEXT COLLATE "C" PRIMARY KEY,
  workspace_id          TEXT COLLATE "C" NOT NULL,
  created_at_m          BIGINT NOT NULL DEFAULT 0,
  updated_at_m          BIGINT,
  deleted_at_m          BIGINT,
  store_encrypted_keys  BIGINT NOT NULL DEFAULT 0,
  default_prefix        TEXT COLLATE "C",
  default_bytes         BIGINT DEFAULT 16,
  size_approx           BIGINT NOT NULL DEFAULT 0,
  size_last_updated_at  BIGINT
);
CREATE INDEX key_auth_workspace_idx ON key_auth (workspace_id);

CREATE TABLE apis (
  id                 TEXT COLLATE "C" PRIMARY KEY,
  name               TEXT COLLATE "C" NOT NULL,
  workspace_id       TEXT COLLATE "C" NOT NULL,
  ip_whitelist       TEXT COLLATE "C",
  auth_type          TEXT COLLATE "C" DEFAULT 'key',
  key_auth_id        TEXT COLLATE "C" UNIQUE,
  created_at_m       BIGINT NOT NULL DEFAULT 0,
  updated_at_m       BIGINT,
  deleted_at_m       BIGINT,
  delete_protection  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX apis_workspace_idx ON apis (workspace_id);

CREATE TABLE keys (
  id                    TEXT COLLATE "C" PRIMARY KEY,
  key_auth_id           TEXT COLLATE "C" NOT NULL,
  hash                  TEXT COLLATE "C" NOT NULL UNIQUE,
  start                 TEXT COLLATE "C" NOT NULL,
  workspace_id          TEXT COLLATE "C" NOT NULL,
  for_workspace_id      TEXT COLLATE "C",
  name                  TEXT COLLATE "C",
  owner_id              TEXT COLLATE "C",
  identity_id           TEXT COLLATE "C",
  meta                  TEXT COLLATE "C",
  expires               BIGINT,
  created_at_m          BIGINT NOT NULL DEFAULT 0,
  updated_at_m          BIGINT,
  deleted_at_m          BIGINT,
  -- legacy credits (deprecated upstream by the credits table; still honoured)
  refill_day            BIGINT,
  refill_amount         BIGINT,
  last_refill_at        BIGINT,
  enabled               BIGINT NOT NULL DEFAULT 1,
  remaining_requests    BIGINT,
  -- legacy ratelimit columns (not read by v1 verification)
  ratelimit_async       BIGINT,
  ratelimit_limit       BIGINT,
  ratelimit_duration    BIGINT,
  environment           TEXT COLLATE "C",
  rowid                 BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX keys_key_auth_id_deleted_at_idx ON keys (key_auth_id, deleted_at_m, id);
CREATE INDEX keys_for_workspace_idx ON keys (for_workspace_id);
CREATE INDEX keys_workspace_idx ON keys (workspace_id);
CREATE INDEX keys_owner_idx ON keys (owner_id);
CREATE INDEX keys_identity_idx ON keys (identity_id);
CREATE INDEX keys_deleted_idx ON keys (deleted_at_m);
CREATE INDEX keys_legacy_refill_idx ON keys (refill_amount, refill_day, last_refill_at);

CREATE TABLE credits (
  id             TEXT COLLATE "C" PRIMARY KEY,
  workspace_id   TEXT COLLATE "C" NOT NULL,
  key_id         TEXT COLLATE "C" UNIQUE,
  identity_id    TEXT COLLATE "C" UNIQUE,
  remaining      BIGINT NOT NULL,
  refill_day     BIGINT,
  refill_amount  BIGINT,
  refilled_at    BIGINT,
  created_at     BIGINT NOT NULL DEFAULT 0,
  updated_at     BIGINT,
  CHECK ((key_id IS NULL) <> (identity_id IS NULL))
);
CREATE INDEX credits_workspace_idx ON credits (workspace_id);
CREATE INDEX credits_refill_lookup_idx ON credits (refill_day, refill_amount, refilled_at);

CREATE TABLE identities (
  id            TEXT COLLATE "C" PRIMARY KEY,
  external_id   TEXT COLLATE "C" NOT NULL,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  environment   TEXT COLLATE "C" NOT NULL DEFAULT 'default',
  meta          TEXT COLLATE "C",
  deleted       BIGINT NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT,
  UNIQUE (workspace_id, external_id, deleted)
);
CREATE INDEX identities_workspace_env_idx ON identities (workspace_id, environment, id);

CREATE TABLE ratelimits (
  id            TEXT COLLATE "C" PRIMARY KEY,
  name          TEXT COLLATE "C" NOT NULL,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  created_at    BIGINT NOT NULL DEFAULT 0,
  updated_at    BIGINT,
  key_id        TEXT COLLATE "C",
  identity_id   TEXT COLLATE "C",
  "limit"       BIGINT NOT NULL,
  duration      BIGINT NOT NULL,
  auto_apply    BIGINT NOT NULL DEFAULT 0,
  UNIQUE (key_id, name),
  UNIQUE (identity_id, name)
);
CREATE INDEX ratelimits_identity_idx ON ratelimits (identity_id);

CREATE TABLE permissions (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  name          TEXT COLLATE "C" NOT NULL,
  slug          TEXT COLLATE "C" NOT NULL,
  description   TEXT COLLATE "C",
  created_at_m  BIGINT NOT NULL DEFAULT 0,
  updated_at_m  BIGINT,
  UNIQUE (workspace_id, slug),
  UNIQUE (workspace_id, name)
);

CREATE TABLE roles (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  name          TEXT COLLATE "C" NOT NULL,
  description   TEXT COLLATE "C",
  created_at_m  BIGINT NOT NULL DEFAULT 0,
  updated_at_m  BIGINT,
  UNIQUE (workspace_id, name)
);

CREATE TABLE keys_permissions (
  key_id         TEXT COLLATE "C" NOT NULL,
  permission_id  TEXT COLLATE "C" NOT NULL,
  workspace_id   TEXT COLLATE "C" NOT NULL,
  created_at_m   BIGINT NOT NULL DEFAULT 0,
  updated_at_m   BIGINT,
  PRIMARY KEY (key_id, permission_id, workspace_id)
);
CREATE INDEX keys_permissions_permission_idx ON keys_permissions (permission_id);

CREATE TABLE keys_roles (
  role_id       TEXT COLLATE "C" NOT NULL,
  key_id        TEXT COLLATE "C" NOT NULL,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  created_at_m  BIGINT NOT NULL DEFAULT 0,
  updated_at_m  BIGINT,
  PRIMARY KEY (role_id, key_id, workspace_id),
  UNIQUE (key_id, role_id)
);

CREATE TABLE roles_permissions (
  role_id        TEXT COLLATE "C" NOT NULL,
  permission_id  TEXT COLLATE "C" NOT NULL,
  workspace_id   TEXT COLLATE "C" NOT NULL,
  created_at_m   BIGINT NOT NULL DEFAULT 0,
  updated_at_m   BIGINT,
  PRIMARY KEY (role_id, permission_id, workspace_id)
);
CREATE INDEX roles_permissions_permission_idx ON roles_permissions (permission_id);

CREATE TABLE encrypted_keys (
  workspace_id       TEXT COLLATE "C" NOT NULL,
  key_id             TEXT COLLATE "C" NOT NULL UNIQUE,
  created_at         BIGINT NOT NULL DEFAULT 0,
  updated_at         BIGINT,
  encrypted          TEXT COLLATE "C" NOT NULL,
  encryption_key_id  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE ratelimit_namespaces (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  name          TEXT COLLATE "C" NOT NULL,
  created_at_m  BIGINT NOT NULL DEFAULT 0,
  updated_at_m  BIGINT,
  deleted_at_m  BIGINT,
  UNIQUE (workspace_id, name)
);

CREATE TABLE ratelimit_overrides (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  namespace_id  TEXT COLLATE "C" NOT NULL,
  identifier    TEXT COLLATE "C" NOT NULL,
  "limit"       BIGINT NOT NULL,
  duration      BIGINT NOT NULL,
  async         BIGINT,
  sharding      TEXT COLLATE "C",
  created_at_m  BIGINT NOT NULL DEFAULT 0,
  updated_at_m  BIGINT,
  deleted_at_m  BIGINT,
  UNIQUE (namespace_id, identifier)
);

CREATE TABLE audit_log (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace_id  TEXT COLLATE "C" NOT NULL,
  bucket        TEXT COLLATE "C" NOT NULL DEFAULT 'unkey_mutations',
  bucket_id     TEXT COLLATE "C" NOT NULL DEFAULT 'DEPRECATED',
  event         TEXT COLLATE "C" NOT NULL,
  time          BIGINT NOT NULL,
  display       TEXT COLLATE "C" NOT NULL DEFAULT '',
  remote_ip     TEXT COLLATE "C",
  user_agent    TEXT COLLATE "C",
  actor_type    TEXT COLLATE "C" NOT NULL,
  actor_id      TEXT COLLATE "C" NOT NULL,
  actor_name    TEXT COLLATE "C",
  actor_meta    TEXT COLLATE "C",
  created_at    BIGINT NOT NULL DEFAULT 0,
  updated_at    BIGINT,
  rowid         BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX audit_log_workspace_time_idx ON audit_log (workspace_id, time);

CREATE TABLE audit_log_target (
  workspace_id   TEXT COLLATE "C" NOT NULL,
  bucket_id      TEXT COLLATE "C" NOT NULL DEFAULT 'DEPRECATED',
  bucket         TEXT COLLATE "C" NOT NULL DEFAULT 'unkey_mutations',
  audit_log_id   TEXT COLLATE "C" NOT NULL,
  display_name   TEXT COLLATE "C" NOT NULL DEFAULT '',
  type           TEXT COLLATE "C" NOT NULL,
  id             TEXT COLLATE "C" NOT NULL,
  name           TEXT COLLATE "C",
  meta           TEXT COLLATE "C",
  created_at     BIGINT NOT NULL DEFAULT 0,
  updated_at     BIGINT,
  rowid          BIGINT GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (audit_log_id, id)
);

-- one row per key verification (keygate keeps analytics in its own storage)
CREATE TABLE key_verifications (
  request_id     TEXT COLLATE "C" NOT NULL,
  time           BIGINT NOT NULL,
  workspace_id   TEXT COLLATE "C" NOT NULL,
  key_space_id   TEXT COLLATE "C" NOT NULL,
  key_id         TEXT COLLATE "C" NOT NULL,
  region         TEXT COLLATE "C" NOT NULL DEFAULT '',
  outcome        TEXT COLLATE "C" NOT NULL,
  identity_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
  tags           TEXT COLLATE "C" NOT NULL DEFAULT '[]',
  spent_credits  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX key_verifications_key_time_idx ON key_verifications (key_id, time);
CREATE INDEX key_verifications_space_time_idx ON key_verifications (workspace_id, key_space_id, time);

-- keygate's own workspace: root keys live in its keyspace and administer another workspace
-- through keys.for_workspace_id, as upstream's internal workspace does.
INSERT INTO workspaces (id, name, enabled, created_at_m) VALUES ('ws_keygate', 'keygate', 1, 0);
INSERT INTO key_auth (id, workspace_id, created_at_m) VALUES ('ks_keygate', 'ws_keygate', 0);
INSERT INTO apis (id, name, workspace_id, key_auth_id, created_at_m, delete_protection)
  VALUES ('api_keygate', 'keygate root keys', 'ws_keygate', 'ks_keygate', 0, 1);
