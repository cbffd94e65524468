-- Twin of ../migrations/0004_idempotency.sql: the Idempotency-Key records of the usage limiters
-- (one key per workspace, 24 h), written in the same transaction as the change they answer.
CREATE TABLE idempotency (
  workspace_id  TEXT COLLATE "C" NOT NULL,
  idem_key      TEXT COLLATE "C" NOT NULL,
  fingerprint   TEXT COLLATE "C" NOT NULL,
  reply         TEXT COLLATE "C" NOT NULL,
  expires_at    BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, idem_key)
);
CREATE INDEX idempotency_expiry_idx ON idempotency (expires_at);

-- The three SQLite functions the statements that write these records (and the audit rows of a
-- balance change) use, defined for Postgres so the store keeps one text of each statement:
--
-- changes(): how many rows the last UPDATE of a balance changed, in this transaction (SQLite:
-- the last INSERT/UPDATE/DELETE). Those statements ask it right after a balance's UPDATE
-- (through an idempotency record of that change, which does not count here), to write only when
-- the change happened. Statement-level triggers of the two balance tables keep the count in a
-- transaction-local setting.
CREATE FUNCTION keygate_note_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('keygate.changes', (SELECT count(*) FROM changed)::text, true);
  RETURN NULL;
END $$;
CREATE TRIGGER credits_changes AFTER UPDATE ON credits
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION keygate_note_changes();
CREATE TRIGGER keys_changes AFTER UPDATE ON keys
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION keygate_note_changes();
CREATE FUNCTION changes() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT COALESCE(NULLIF(current_setting('keygate.changes', true), ''), '0')::bigint
$$;

-- json_extract(json text, '$.field'): a top-level field as text (objects as their JSON text).
CREATE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT (doc::json) ->> substr(path, 3)
$$;

-- json_object('exists', json('true'), 'valid', json('true'), 'remaining', n): the answer of a
-- balance change, as JSON text.
CREATE FUNCTION json_object(k1 text, v1 json, k2 text, v2 json, k3 text, v3 bigint)
  RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT json_build_object(k1, v1, k2, v2, k3, v3)::text
$$;
