-- Twin of ../migrations/0003_hardening.sql. Balances stay within ±(2^53 − 1), the integers
-- JavaScript (and so D1's client) carries exactly; keygate's own statements never write such a
-- value (an increment past the range is a 400), and these CHECK constraints refuse any other write (named as the
-- D1 triggers word their refusal)
-- (D1 has triggers for that; a CHECK is Postgres' plain form of the same rule). Balances written
-- out of range before this migration are clamped first, so their keys can be read again.
UPDATE credits SET remaining = LEAST(GREATEST(remaining, -9007199254740991), 9007199254740991)
  WHERE remaining NOT BETWEEN -9007199254740991 AND 9007199254740991;
UPDATE keys SET remaining_requests = LEAST(GREATEST(remaining_requests, -9007199254740991), 9007199254740991)
  WHERE remaining_requests NOT BETWEEN -9007199254740991 AND 9007199254740991;
ALTER TABLE credits ADD CONSTRAINT "credits.remaining out of range"
  CHECK (remaining BETWEEN -9007199254740991 AND 9007199254740991);
ALTER TABLE keys ADD CONSTRAINT "keys.remaining_requests out of range"
  CHECK (remaining_requests BETWEEN -9007199254740991 AND 9007199254740991);
