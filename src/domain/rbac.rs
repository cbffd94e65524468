//! Input rules of the `permissions.*` routes beyond what the request schema checks.

use super::validate::ValidationError;

/// The message upstream gives for an identifier with other characters.
pub const IDENTIFIER_CHARSET_MESSAGE: &str =
    "Only alphanumeric, underscores, periods, colons and hyphens are allowed";

/// A permission name or slug (3..=256 characters of `[a-zA-Z0-9_.:-]`). Unlike
/// `rules::is_permission_identifier` this does not accept `*`: workspace permissions are
/// user-defined identifiers, as upstream validated them; `*` only occurs in root-key permission
/// names, which the operator API creates.
pub fn check_identifier(field: &str, value: &str) -> Result<(), ValidationError> {
    check_length(field, value)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')) {
        return Err(ValidationError::new(field, IDENTIFIER_CHARSET_MESSAGE));
    }
    Ok(())
}

/// A description: empty, or 3..=256 characters.
pub fn check_description(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Ok(());
    }
    check_length(field, value)
}

fn check_length(field: &str, value: &str) -> Result<(), ValidationError> {
    // counted like JavaScript's `length`
    let len = value.encode_utf16().count();
    if len < 3 {
        return Err(ValidationError::new(field, "String must contain at least 3 character(s)"));
    }
    if len > 256 {
        return Err(ValidationError::new(field, "String must contain at most 256 character(s)"));
    }
    Ok(())
}

/// Resolves the permissions a role is created with: each entry is a permission slug or, failing
/// that, a name of `known` (`(id, name, slug)` rows). Returns the distinct ids in request order,
/// or the first entry that names no permission.
pub fn resolve_permissions<'a>(
    requested: &'a [String],
    known: &[(String, String, String)],
) -> Result<Vec<String>, &'a str> {
    let mut ids: Vec<String> = Vec::new();
    for wanted in requested {
        let found = known
            .iter()
            .find(|(_, _, slug)| slug == wanted)
            .or_else(|| known.iter().find(|(_, name, _)| name == wanted))
            .ok_or(wanted.as_str())?;
        if !ids.contains(&found.0) {
            ids.push(found.0.clone());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<(), ValidationError>) -> Option<String> {
        r.err().map(|e| e.to_string())
    }

    #[test]
    fn identifiers() {
        assert_eq!(msg(check_identifier("name", "record.write")), None);
        assert_eq!(msg(check_identifier("name", "dns:record_write-all")), None);
        assert_eq!(msg(check_identifier("name", &"a".repeat(256))), None);
        assert_eq!(
            msg(check_identifier("name", "ab")),
            Some("name: String must contain at least 3 character(s)".into())
        );
        assert_eq!(
            msg(check_identifier("slug", &"a".repeat(257))),
            Some("slug: String must contain at most 256 character(s)".into())
        );
        for bad in ["has space", "api.*.read_key", "***", "ünï", "a/b"] {
            assert_eq!(
                msg(check_identifier("name", bad)),
                Some(format!("name: {IDENTIFIER_CHARSET_MESSAGE}")),
                "{bad}"
            );
        }
        // too short wins over the character set, as zod reports the first failing check
        assert_eq!(
            msg(check_identifier("name", "a "),),
            Some("name: String must contain at least 3 character(s)".into())
        );
    }

    #[test]
    fn descriptions() {
        assert_eq!(msg(check_description("description", "")), None);
        assert_eq!(msg(check_description("description", "any text, with spaces!")), None);
        assert_eq!(
            msg(check_description("description", "ab")),
            Some("description: String must contain at least 3 character(s)".into())
        );
        assert_eq!(
            msg(check_description("description", &"x".repeat(257))),
            Some("description: String must contain at most 256 character(s)".into())
        );
    }

    #[test]
    fn role_permissions_resolve_by_slug_then_name() {
        let known = vec![
            ("perm_1".to_string(), "Read records".to_string(), "record.read".to_string()),
            ("perm_2".to_string(), "record.read".to_string(), "legacy.read".to_string()),
            ("perm_3".to_string(), "write".to_string(), "record.write".to_string()),
        ];
        let req = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // "record.read" is perm_1's slug and perm_2's name: the slug wins
        assert_eq!(resolve_permissions(&req(&["record.read"]), &known), Ok(vec!["perm_1".to_string()]));
        assert_eq!(
            resolve_permissions(&req(&["write", "record.write", "Read records"]), &known),
            Ok(vec!["perm_3".to_string(), "perm_1".to_string()])
        );
        assert_eq!(resolve_permissions(&req(&["write", "nope", "also-nope"]), &known), Err("nope"));
        assert_eq!(resolve_permissions(&[], &known), Ok(vec![]));
    }
}
