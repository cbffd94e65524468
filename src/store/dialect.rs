//! The two SQL dialects keygate's store speaks: SQLite (D1) and Postgres (Hyperdrive).
//!
//! Every statement is written once, in SQLite's spelling with numbered parameters (`?1`, `?2`, …),
//! using the forms both databases accept wherever one exists (see the table below). The Postgres
//! backend turns that text into Postgres' spelling with [`postgres`], which rewrites exactly
//! three things, side by side here and nowhere else:
//!
//! | SQLite (D1)                       | Postgres                                           |
//! |-----------------------------------|----------------------------------------------------|
//! | `?N` (and a bare `?`)             | `$N`                                               |
//! | `json_each(x)` (a JSON array)     | `json_array_elements_text(x::json)` (column `value`) |
//! | `instr(haystack, needle)`         | `strpos(haystack, needle)`                         |
//!
//! `changes()`, `json_extract(text, '$.field')` and the six-argument `json_object` of the
//! idempotency records and a balance change's audit rows exist in the Postgres schema as
//! functions (`migrations-pg/0004_idempotency.sql`), so those statements keep one text.
//!
//! The few statements whose shape differs beyond that are written in both forms next to each
//! other where they live, chosen by [`Dialect`] (`store::analytics`: the rollup upsert and the
//! month bucket; `store::audit`: SQLite's `+column` planner hint; `store::keys`: a root key's
//! permission names as a JSON array, `json_group_array` / `json_agg`).
//!
//! Portable forms used instead of a dialect's own (both accept them, so there is one text):
//! `INSERT … ON CONFLICT DO NOTHING` (not `INSERT OR IGNORE`), `CASE WHEN a >= b THEN a ELSE b END`
//! (not SQLite's two-argument `MAX`/`MIN`, which Postgres lacks; its `GREATEST` ignores NULLs),
//! `flag <> 0` for 0/1 integer flags (Postgres has no integer truthiness), `CAST(SUM(…) AS BIGINT)`
//! (Postgres sums BIGINT as NUMERIC), upsert `SET` expressions qualified by the table name, an
//! alias on every subquery in `FROM`, and `rowid` (a real identity column in the Postgres schema
//! of the three tables ordered by it: `keys`, `audit_log`, `audit_log_target`).

/// Which SQL a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The Postgres spelling of a statement written in SQLite's (see the module table). Quoted
/// literals and identifiers are copied as they are.
#[cfg(any(feature = "postgres", test))]
pub fn postgres(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 32);
    // paren depths at which a `json_each(` opened: its closing paren gets `::json` first
    let mut json_each_at: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut highest = 0u32;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' | b'"' => {
                // to the closing quote (a doubled quote closes and reopens: same result)
                let end = bytes[i + 1..].iter().position(|&c| c == b).map_or(bytes.len(), |p| i + 1 + p + 1);
                i = end;
            }
            b'?' => {
                out.push_str(&sql[copied..i]);
                let digits = bytes[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                let n =
                    if digits > 0 { sql[i + 1..i + 1 + digits].parse().unwrap_or(0) } else { highest + 1 };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
                i += 1 + digits;
                copied = i;
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                if json_each_at.last() == Some(&depth) {
                    json_each_at.pop();
                    out.push_str(&sql[copied..i]);
                    out.push_str("::json");
                    copied = i;
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = bytes[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
                let word = &sql[i..i + len];
                let call = bytes.get(i + len) == Some(&b'(');
                let replacement = match word {
                    _ if !call => None,
                    w if w.eq_ignore_ascii_case("json_each") => {
                        json_each_at.push(depth + 1);
                        Some("json_array_elements_text")
                    }
                    w if w.eq_ignore_ascii_case("instr") => Some("strpos"),
                    _ => None,
                };
                if let Some(r) = replacement {
                    out.push_str(&sql[copied..i]);
                    out.push_str(r);
                    copied = i + len;
                }
                i += len;
            }
            // digits and other bytes (UTF-8 continuation bytes included) are copied as they are
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::postgres;

    #[test]
    fn numbered_and_bare_parameters() {
        assert_eq!(
            postgres("SELECT a FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT a FROM t WHERE a = $1 AND b = $12"
        );
        assert_eq!(
            postgres("UPDATE t SET a = ? WHERE b = ? AND c = ?1"),
            "UPDATE t SET a = $1 WHERE b = $2 AND c = $1"
        );
        assert_eq!(postgres("SELECT ?3, ?"), "SELECT $3, $4");
    }

    #[test]
    fn json_each_becomes_json_array_elements_text() {
        assert_eq!(
            postgres("WHERE id IN (SELECT value FROM json_each(?2)) AND x IN (SELECT value FROM JSON_EACH(?10))"),
            "WHERE id IN (SELECT value FROM json_array_elements_text($2::json)) AND x IN (SELECT value FROM json_array_elements_text($10::json))"
        );
        assert_eq!(
            postgres("FROM r CROSS JOIN json_each(r.tags) t WHERE EXISTS (SELECT 1 FROM json_each(lower(r.tags)) x)"),
            "FROM r CROSS JOIN json_array_elements_text(r.tags::json) t WHERE EXISTS (SELECT 1 FROM json_array_elements_text(lower(r.tags)::json) x)"
        );
    }

    #[test]
    fn instr_becomes_strpos() {
        assert_eq!(
            postgres("AND (?3 IS NULL OR instr(lower(id || ' ' || name), lower(?3)) > 0)"),
            "AND ($3 IS NULL OR strpos(lower(id || ' ' || name), lower($3)) > 0)"
        );
    }

    #[test]
    fn literals_identifiers_and_lookalikes_are_kept() {
        let sql = "SELECT '?1 json_each(x) instr(', \"instr\", my_instr(a), json_each_x(b), instr FROM t WHERE a = 'it''s ?'";
        assert_eq!(postgres(sql), sql);
        assert_eq!(postgres("SELECT 'é' || ?1, \"limit\" FROM t"), "SELECT 'é' || $1, \"limit\" FROM t");
    }
}
