-- keygate schema: the tables of the upstream v1 data model (SQLite types), timestamps in unix ms.

CREATE TABLE workspaces (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  enabled       INTEGER NOT NULL DEFAULT 1,
  created_at_m  INTEGER NOT NULL DEFAULT 0,
  updated_at_m  INTEGER,
  deleted_at_m  INTEGER
);

CREATE TABLE key_auth (
  id                    TEXT PRIMARY KEY,
  workspace_id          TEXT NOT NULL,
  created_at_m          INTEGER NOT NULL DEFAULT 0,
  updated_at_m          INTEGER,
  deleted_at_m          INTEGER,
  store_encrypted_keys  INTEGER NOT NULL DEFAULT 0,
  default_prefix        TEXT,
  default_bytes         INTEGER DEFAULT 16,
  size_approx           INTEGER NOT NULL DEFAULT 0,
  size_last_updated_at  INTEGER
);
CREATE INDEX key_auth_workspace_idx ON key_auth (workspace_id);

CREATE TABLE apis (
  id                 TEXT PRIMARY KEY,
  name               TEXT NOT NULL,
  workspace_id       TEXT NOT NULL,
  ip_whitelist       TEXT,
  auth_type          TEXT DEFAULT 'key',
  key_auth_id        TEXT UNIQUE,
  created_at_m       INTEGER NOT NULL DEFAULT 0,
  updated_at_m       INTEGER,
  deleted_at_m       INTEGER,
  delete_protection  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX apis_workspace_idx ON apis (workspace_id);

CREATE TABLE keys (
  id                  TEXT PRIMARY KEY,
  key_auth_id         TEXT NOT NULL,
  hash                TEXT NOT NULL UNIQUE,
  start               TEXT NOT NULL,
  workspace_id        TEXT NOT NULL,
  for_workspace_id    TEXT,
  name                TEXT,
  owner_id            TEXT,
  identity_id         TEXT,
  meta                TEXT,
  expires             INTEGER,
  created_at_m        INTEGER NOT NULL DEFAULT 0,
  updated_at_m        INTEGER,
  deleted_at_m        INTEGER,
  -- legacy credits (deprecated upstream by the credits table; still honoured)
  refill_day          INTEGER,
  refill_amount       INTEGER,
  last_refill_at      INTEGER,
  enabled             INTEGER NOT NULL DEFAULT 1,
  remaining_requests  INTEGER,
  -- legacy ratelimit columns (not read by v1 verification)
  ratelimit_async     INTEGER,
  ratelimit_limit     INTEGER,
  ratelimit_duration  INTEGER,
  environment         TEXT
);
CREATE INDEX keys_key_auth_id_deleted_at_idx ON keys (key_auth_id, deleted_at_m, id);
CREATE INDEX keys_for_workspace_idx ON keys (for_workspace_id);
CREATE INDEX keys_workspace_idx ON keys (workspace_id);
CREATE INDEX keys_owner_idx ON keys (owner_id);
CREATE INDEX keys_identity_idx ON keys (identity_id);
CREATE INDEX keys_deleted_idx ON keys (deleted_at_m);
CREATE INDEX keys_legacy_refill_idx ON keys (refill_amount, refill_day, last_refill_at);

CREATE TABLE credits (
  id             TEXT PRIMARY KEY,
  workspace_id   TEXT NOT NULL,
  key_id         TEXT UNIQUE,
  identity_id    TEXT UNIQUE,
  remaining      INTEGER NOT NULL,
  refill_day     INTEGER,
  refill_amount  INTEGER,
  refilled_at    INTEGER,
  created_at     INTEGER NOT NULL DEFAULT 0,
  updated_at     INTEGER,
  CHECK ((key_id IS NULL) <> (identity_id IS NULL))
);
CREATE INDEX credits_workspace_idx ON credits (workspace_id);
CREATE INDEX credits_refill_lookup_idx ON credits (refill_day, refill_amount, refilled_at);

CREATE TABLE identities (
  id            TEXT PRIMARY KEY,
  external_id   TEXT NOT NULL,
  workspace_id  TEXT NOT NULL,
  environment   TEXT NOT NULL DEFAULT 'default',
  meta          TEXT,
  deleted       INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER,
  UNIQUE (workspace_id, external_id, deleted)
);
CREATE INDEX identities_workspace_env_idx ON identities (workspace_id, environment, id);

CREATE TABLE ratelimits (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  workspace_id  TEXT NOT NULL,
  created_at    INTEGER NOT NULL DEFAULT 0,
  updated_at    INTEGER,
  key_id        TEXT,
  identity_id   TEXT,
  "limit"       INTEGER NOT NULL,
  duration      INTEGER NOT NULL,
  auto_apply    INTEGER NOT NULL DEFAULT 0,
  UNIQUE (key_id, name),
  UNIQUE (identity_id, name)
);
CREATE INDEX ratelimits_identity_idx ON ratelimits (identity_id);

CREATE TABLE permissions (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  name          TEXT NOT NULL,
  slug          TEXT NOT NULL,
  description   TEXT,
  created_at_m  INTEGER NOT NULL DEFAULT 0,
  updated_at_m  INTEGER,
  UNIQUE (workspace_id, slug),
  UNIQUE (workspace_id, name)
);

CREATE TABLE roles (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  name          TEXT NOT NULL,
  description   TEXT,
  created_at_m  INTEGER NOT NULL DEFAULT 0,
  updated_at_m  INTEGER,
  UNIQUE (workspace_id, name)
);

CREATE TABLE keys_permissions (
  key_id         TEXT NOT NULL,
  permission_id  TEXT NOT NULL,
  workspace_id   TEXT NOT NULL,
  created_at_m   INTEGER NOT NULL DEFAULT 0,
  updated_at_m   INTEGER,
  PRIMARY KEY (key_id, permission_id, workspace_id)
);
CREATE INDEX keys_permissions_permission_idx ON keys_permissions (permission_id);

CREATE TABLE keys_roles (
  role_id       TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  workspace_id  TEXT NOT NULL,
  created_at_m  INTEGER NOT NULL DEFAULT 0,
  updated_at_m  INTEGER,
  PRIMARY KEY (role_id, key_id, workspace_id),
  UNIQUE (key_id, role_id)
);

CREATE TABLE roles_permissions (
  role_id        TEXT NOT NULL,
  permission_id  TEXT NOT NULL,
  workspace_id   TEXT NOT NULL,
  created_at_m   INTEGER NOT NULL DEFAULT 0,
  updated_at_m   INTEGER,
  PRIMARY KEY (role_id, permission_id, workspace_id)
);
CREATE INDEX roles_permissions_permission_idx ON roles_permissions (permission_id);

CREATE TABLE encrypted_keys (
  workspace_id       TEXT NOT NULL,
  key_id             TEXT NOT NULL UNIQUE,
  created_at         INTEGER NOT NULL DEFAULT 0,
  updated_at         INTEGER,
  encrypted          TEXT NOT NULL,
  encryption_key_id  TEXT NOT NULL
);

CREATE TABLE ratelimit_namespaces (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  name          TEXT NOT NULL,
  created_at_m  INTEGER NOT NULL DEFAULT 0,
  updated_at_m  INTEGER,
  deleted_at_m  INTEGER,
  UNIQUE (workspace_id, name)
);

CREATE TABLE ratelimit_overrides (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  namespace_id  TEXT NOT NULL,
  identifier    TEXT NOT NULL,
  "limit"       INTEGER NOT NULL,
  duration      INTEGER NOT NULL,
  async         INTEGER,
  sharding      TEXT,
  created_at_m  INTEGER NOT NULL DEFAULT 0,
  updated_at_m  INTEGER,
  deleted_at_m  INTEGER,
  UNIQUE (namespace_id, identifier)
);

CREATE TABLE audit_log (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  bucket        TEXT NOT NULL DEFAULT 'unkey_mutations',
  bucket_id     TEXT NOT NULL DEFAULT 'DEPRECATED',
  event         TEXT NOT NULL,
  time          INTEGER NOT NULL,
  display       TEXT NOT NULL DEFAULT '',
  remote_ip     TEXT,
  user_agent    TEXT,
  actor_type    TEXT NOT NULL,
  actor_id      TEXT NOT NULL,
  actor_name    TEXT,
  actor_meta    TEXT,
  created_at    INTEGER NOT NULL DEFAULT 0,
  updated_at    INTEGER
);
CREATE INDEX audit_log_workspace_time_idx ON audit_log (workspace_id, time);

CREATE TABLE audit_log_target (
  workspace_id   TEXT NOT NULL,
  bucket_id      TEXT NOT NULL DEFAULT 'DEPRECATED',
  bucket         TEXT NOT NULL DEFAULT 'unkey_mutations',
  audit_log_id   TEXT NOT NULL,
  display_name   TEXT NOT NULL DEFAULT '',
  type           TEXT NOT NULL,
  id             TEXT NOT NULL,
  name           TEXT,
  meta           TEXT,
  created_at     INTEGER NOT NULL DEFAULT 0,
  updated_at     INTEGER,
  PRIMARY KEY (audit_log_id, id)
);

-- one row per key verification (keygate keeps analytics in its own storage)
CREATE TABLE key_verifications (
  request_id     TEXT NOT NULL,
  time           INTEGER NOT NULL,
  workspace_id   TEXT NOT NULL,
  key_space_id   TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  region         TEXT NOT NULL DEFAULT '',
  outcome        TEXT NOT NULL,
  identity_id    TEXT NOT NULL DEFAULT '',
  tags           TEXT NOT NULL DEFAULT '[]',
  spent_credits  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX key_verifications_key_time_idx ON key_verifications (key_id, time);
CREATE INDEX key_verifications_space_time_idx ON key_verifications (workspace_id, key_space_id, time);

-- keygate's own workspace: root keys live in its keyspace and administer another workspace
-- through keys.for_workspace_id, as upstream's internal workspace does.
INSERT INTO workspaces (id, name, enabled, created_at_m) VALUES ('ws_keygate', 'keygate', 1, 0);
INSERT INTO key_auth (id, workspace_id, created_at_m) VALUES ('ks_keygate', 'ws_keygate', 0);
INSERT INTO apis (id, name, workspace_id, key_auth_id, created_at_m, delete_protection)
  VALUES ('api_keygate', 'keygate root keys', 'ws_keygate', 'ks_keygate', 0, 1);
