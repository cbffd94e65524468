-- Twin of ../migrations/0002_analytics_audit.sql: verification analytics as hourly rollups,
-- indexes for the analytics and audit read paths and for the retention deletes of the cron.

-- one row per verification was never read; hourly rollups replace it
DROP TABLE key_verifications;

-- verifications per (key, hour, identity, tag set): one counter per outcome plus the credits spent.
-- identity_id is '' for keys without an identity; tags is the sorted, de-duplicated JSON array.
CREATE TABLE verification_rollups (
  key_id                    TEXT COLLATE "C" NOT NULL,
  hour                      BIGINT NOT NULL,
  identity_id               TEXT COLLATE "C" NOT NULL DEFAULT '',
  tags                      TEXT COLLATE "C" NOT NULL DEFAULT '[]',
  workspace_id              TEXT COLLATE "C" NOT NULL,
  key_space_id              TEXT COLLATE "C" NOT NULL,
  valid                     BIGINT NOT NULL DEFAULT 0,
  rate_limited              BIGINT NOT NULL DEFAULT 0,
  usage_exceeded            BIGINT NOT NULL DEFAULT 0,
  disabled                  BIGINT NOT NULL DEFAULT 0,
  expired                   BIGINT NOT NULL DEFAULT 0,
  forbidden                 BIGINT NOT NULL DEFAULT 0,
  insufficient_permissions  BIGINT NOT NULL DEFAULT 0,
  spent_credits             BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, hour, identity_id, tags)
);
CREATE INDEX verification_rollups_space_hour_idx ON verification_rollups (key_space_id, hour);
CREATE INDEX verification_rollups_identity_hour_idx ON verification_rollups (identity_id, hour);
CREATE INDEX verification_rollups_hour_idx ON verification_rollups (hour);

-- audit.listLogs: newest first per workspace, by event, by actor, by resource; retention by time
DROP INDEX audit_log_workspace_time_idx;
CREATE INDEX audit_log_workspace_time_idx ON audit_log (workspace_id, time, id);
CREATE INDEX audit_log_event_time_idx ON audit_log (workspace_id, event, time, id);
CREATE INDEX audit_log_actor_time_idx ON audit_log (workspace_id, actor_id, time, id);
CREATE INDEX audit_log_time_idx ON audit_log (time);
CREATE INDEX audit_log_target_resource_idx ON audit_log_target (workspace_id, id);
