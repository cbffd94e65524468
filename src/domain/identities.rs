//! Rules of the identities routes that need no database: metadata size, duplicate rate-limit
//! names, the refill/interval rule of identity credits, and how an update maps onto the stored
//! rate limits.

use serde::Serialize;

use super::validate::ValidationError;

/// Upstream's limit on the JSON-encoded metadata (characters as JavaScript counts them).
pub const MAX_META_CHARS: usize = 64_000;

/// How large metadata may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetaLimit {
    /// v1: 64,000 characters of JSON, as JavaScript counts them.
    #[default]
    Chars,
    /// v2: 1 MiB of JSON.
    Mebibyte,
}

/// v2's limit on the JSON-encoded metadata, in bytes.
pub const MAX_META_BYTES: usize = 1 << 20;

/// The metadata as stored (JSON text), or a 400 naming `meta` when it is too large.
pub fn encode_meta<T: Serialize>(meta: &T) -> Result<String, ValidationError> {
    encode_meta_within(meta, MetaLimit::Chars)
}

/// [`encode_meta`] under `limit`.
pub fn encode_meta_within<T: Serialize>(meta: &T, limit: MetaLimit) -> Result<String, ValidationError> {
    let json = serde_json::to_string(meta).map_err(|e| ValidationError::new("meta", e.to_string()))?;
    if limit == MetaLimit::Mebibyte {
        return match json.len() {
            n if n > MAX_META_BYTES => Err(ValidationError::new(
                "meta",
                format!("Metadata is too large: {n} bytes, at most {MAX_META_BYTES}"),
            )),
            _ => Ok(json),
        };
    }
    let chars = json.encode_utf16().count();
    if chars > MAX_META_CHARS {
        return Err(ValidationError::new(
            "meta",
            format!(
                "metadata is too large, it must be less than 64k characters when json encoded, got: {chars}"
            ),
        ));
    }
    Ok(json)
}

/// The first name that occurs twice.
pub fn first_duplicate<'a, I: IntoIterator<Item = &'a str>>(names: I) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

/// The 409 message for a name given twice in one request.
pub fn duplicate_ratelimit_message(name: &str) -> String {
    format!("Ratelimit with name \"{name}\" is already defined in the request")
}

/// A daily refill has no day: `refillDay` with interval daily is a 400 naming the field.
pub fn check_refill_day(daily: bool, refill_day: Option<i64>, path: &str) -> Result<(), ValidationError> {
    if daily && refill_day.is_some() {
        return Err(ValidationError::new(
            format!("{path}.refillDay"),
            "when interval is set to 'daily', 'refillDay' must be null.",
        ));
    }
    Ok(())
}

/// How a replacement set of rate limits maps onto the stored ones: same-named limits are updated
/// in place (their ids stay), missing ones are deleted, new names are created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatelimitPlan<'a, T> {
    /// (stored id, wanted limit)
    pub update: Vec<(&'a str, &'a T)>,
    pub create: Vec<&'a T>,
    /// stored ids
    pub delete: Vec<&'a str>,
}

/// Plans replacing `existing` (id, name) by `wanted`, named by `name_of`.
pub fn plan_ratelimits<'a, T>(
    existing: &'a [(String, String)],
    wanted: &'a [T],
    name_of: impl Fn(&T) -> &str,
) -> RatelimitPlan<'a, T> {
    let mut plan = RatelimitPlan { update: Vec::new(), create: Vec::new(), delete: Vec::new() };
    for (id, name) in existing {
        match wanted.iter().find(|w| name_of(w) == name) {
            Some(w) => plan.update.push((id.as_str(), w)),
            None => plan.delete.push(id.as_str()),
        }
    }
    for w in wanted {
        if !existing.iter().any(|(_, name)| name == name_of(w)) {
            plan.create.push(w);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn v2_meta_size_limit() {
        let ok = json!({"a": "x".repeat(MAX_META_BYTES - 8)});
        assert_eq!(encode_meta_within(&ok, MetaLimit::Mebibyte).map(|s| s.len()), Ok(MAX_META_BYTES));
        let big = json!({"a": "x".repeat(MAX_META_BYTES - 7)});
        assert!(encode_meta_within(&big, MetaLimit::Mebibyte).is_err());
        assert!(encode_meta_within(&json!({"a": "x".repeat(100_000)}), MetaLimit::Chars).is_err());
    }

    #[test]
    fn meta_size_limit() {
        let ok = json!({"a": "x".repeat(MAX_META_CHARS - 8)});
        assert_eq!(encode_meta(&ok).map(|s| s.len()), Ok(MAX_META_CHARS));
        let big = json!({"a": "x".repeat(MAX_META_CHARS - 7)});
        let e = encode_meta(&big).expect_err("too large");
        assert_eq!(e.path, "meta");
        assert_eq!(
            e.to_string(),
            "meta: metadata is too large, it must be less than 64k characters when json encoded, got: 64001"
        );
        // characters count as UTF-16 units, as in JavaScript
        let wide = json!({"a": "😀".repeat(32_000)});
        assert!(encode_meta(&wide).is_err());
        assert_eq!(encode_meta(&json!({})), Ok("{}".to_string()));
    }

    #[test]
    fn duplicates() {
        assert_eq!(first_duplicate(["a", "b", "c"]), None);
        assert_eq!(first_duplicate(["a", "b", "a", "b"]), Some("a"));
        assert_eq!(
            duplicate_ratelimit_message("tokens"),
            "Ratelimit with name \"tokens\" is already defined in the request"
        );
    }

    #[test]
    fn daily_refill_has_no_day() {
        assert!(check_refill_day(true, None, "credits.refill").is_ok());
        assert!(check_refill_day(false, Some(3), "credits.refill").is_ok());
        let e = check_refill_day(true, Some(3), "credits.refill").expect_err("daily with day");
        assert_eq!(
            e.to_string(),
            "credits.refill.refillDay: when interval is set to 'daily', 'refillDay' must be null."
        );
    }

    #[test]
    fn ratelimit_plan_keeps_same_names() {
        let existing = vec![("rl_a".to_string(), "a".to_string()), ("rl_b".to_string(), "b".to_string())];
        let wanted = vec![("b", 5), ("c", 7)];
        let plan = plan_ratelimits(&existing, &wanted, |w| w.0);
        assert_eq!(plan.update, vec![("rl_b", &("b", 5))]);
        assert_eq!(plan.create, vec![&("c", 7)]);
        assert_eq!(plan.delete, vec!["rl_a"]);
        let none: Vec<(&str, i32)> = vec![];
        let plan = plan_ratelimits(&existing, &none, |w| w.0);
        assert_eq!(plan.delete, vec!["rl_a", "rl_b"]);
        assert!(plan.update.is_empty() && plan.create.is_empty());
    }
}
