-- keygate: Idempotency-Key records of the usage limiters (issue 10 item 6). A record is written
-- by the usage limiter of the balance in the same transaction as the deduction or change it
-- answers, so a retry either finds it or finds nothing charged. One key per workspace; records
-- expire after 24 h (lookups ignore expired ones, a new request may take an expired key over, and
-- the hourly cron deletes them through the expiry index).
CREATE TABLE idempotency (workspace_id TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, reply TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (workspace_id, idem_key)) WITHOUT ROWID;
CREATE INDEX idempotency_expiry_idx ON idempotency (expires_at);
