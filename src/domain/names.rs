//! Name rules: permission and role identifiers and descriptions (beyond what the request schema
//! checks), and the names root-key permissions may use.

use super::rbac::LinkKind;
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

/// Which rules implicitly created names follow: v1's createPermission/createRole rules (its
/// createKey and link schemas accept more than those), or none beyond the request schema (v2's
/// schemas already hold slugs and role names to its createPermission/createRole rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameRules {
    #[default]
    V1,
    Schema,
}

/// Roles and permissions a request creates implicitly (createKey, addPermissions/addRoles with
/// `create`, setPermissions/setRoles, updateKey) follow the rules of createPermission and
/// createRole: permissions are identifiers, roles have 3..=256 characters. `requested` lists the
/// names in request order (for the field path), `new` those about to be created.
pub fn check_new_names<'a>(
    rules: NameRules,
    kind: LinkKind,
    requested: impl IntoIterator<Item = Option<&'a str>>,
    new: &[String],
) -> Result<(), ValidationError> {
    if new.is_empty() || rules == NameRules::Schema {
        return Ok(());
    }
    for (index, name) in requested.into_iter().enumerate() {
        let Some(name) = name.filter(|n| new.iter().any(|x| x == n)) else { continue };
        let field = format!("{}.{index}", kind.field());
        match kind {
            LinkKind::Permission => check_identifier(&field, name)?,
            LinkKind::Role => check_length(&field, name)?,
        }
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

/// Permission names and slugs: 3..=256 characters of `[a-zA-Z0-9_.:-]` (plus `*`, which root-key
/// permission names use).
pub fn is_permission_identifier(s: &str) -> bool {
    (3..=256).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '*'))
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
    fn implicitly_created_names() {
        let requested = ["ok.perm", "*", "has space", "existing *"];
        let all = || requested.iter().map(|s| Some(*s));
        let new = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            msg(check_new_names(NameRules::V1, LinkKind::Permission, all(), &new(&["ok.perm"]))),
            None
        );
        // a name that already exists is not created, whatever it looks like
        assert_eq!(msg(check_new_names(NameRules::V1, LinkKind::Permission, all(), &[])), None);
        assert_eq!(
            msg(check_new_names(NameRules::V1, LinkKind::Permission, all(), &new(&["ok.perm", "*"]))),
            Some("permissions.1: String must contain at least 3 character(s)".into())
        );
        assert_eq!(
            msg(check_new_names(NameRules::V1, LinkKind::Permission, all(), &new(&["has space"]))),
            Some(format!("permissions.2: {IDENTIFIER_CHARSET_MESSAGE}"))
        );
        // roles only need 3..256 characters, as createRole
        assert_eq!(msg(check_new_names(NameRules::V1, LinkKind::Role, all(), &new(&["has space"]))), None);
        assert_eq!(
            msg(check_new_names(NameRules::V1, LinkKind::Role, [Some("ab")], &new(&["ab"]))),
            Some("roles.0: String must contain at least 3 character(s)".into())
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
    fn permission_identifiers() {
        assert!(is_permission_identifier("api.*.read_key"));
        assert!(is_permission_identifier("domain.dns:create-record"));
        assert!(!is_permission_identifier("ab"));
        assert!(!is_permission_identifier("has space"));
        assert!(!is_permission_identifier(&"a".repeat(257)));
    }
}
