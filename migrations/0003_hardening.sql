-- keygate hardening (issue 10).
-- Balances stay within ±(2^53 − 1), the integers JavaScript (and so D1's client) carries exactly:
-- a row outside it could be written but never read again. keygate's own statements never write
-- such a value (an increment past the range is a 400); these triggers refuse any other write.
-- (Each trigger is one line: the test harness splits statements at a semicolon ending a line.)
-- Balances written out of range before this migration are clamped first, so their keys can be
-- read again.
UPDATE credits SET remaining = MIN(MAX(remaining, -9007199254740991), 9007199254740991) WHERE remaining NOT BETWEEN -9007199254740991 AND 9007199254740991;
UPDATE keys SET remaining_requests = MIN(MAX(remaining_requests, -9007199254740991), 9007199254740991) WHERE remaining_requests NOT BETWEEN -9007199254740991 AND 9007199254740991;
CREATE TRIGGER credits_remaining_range_insert BEFORE INSERT ON credits WHEN NEW.remaining NOT BETWEEN -9007199254740991 AND 9007199254740991 BEGIN SELECT RAISE(ABORT, 'credits.remaining out of range'); END;
CREATE TRIGGER credits_remaining_range_update BEFORE UPDATE OF remaining ON credits WHEN NEW.remaining NOT BETWEEN -9007199254740991 AND 9007199254740991 BEGIN SELECT RAISE(ABORT, 'credits.remaining out of range'); END;
CREATE TRIGGER keys_remaining_range_insert BEFORE INSERT ON keys WHEN NEW.remaining_requests NOT BETWEEN -9007199254740991 AND 9007199254740991 BEGIN SELECT RAISE(ABORT, 'keys.remaining_requests out of range'); END;
CREATE TRIGGER keys_remaining_range_update BEFORE UPDATE OF remaining_requests ON keys WHEN NEW.remaining_requests NOT BETWEEN -9007199254740991 AND 9007199254740991 BEGIN SELECT RAISE(ABORT, 'keys.remaining_requests out of range'); END;
