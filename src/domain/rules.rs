//! Small validation rules shared by several routes.

/// Permission names and slugs: 3..=256 characters of `[a-zA-Z0-9_.:-]` (plus `*`, which root-key
/// permission names use).
pub fn is_permission_identifier(s: &str) -> bool {
    (3..=256).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '*'))
}

/// The IP whitelist as stored: comma-separated, each entry trimmed, empty entries dropped.
pub fn normalise_ip_whitelist(s: &str) -> Option<String> {
    let entries: Vec<&str> = s.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    (!entries.is_empty()).then(|| entries.join(","))
}

/// Compares two secrets in constant time (for the operator token).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    // hashing first makes the comparison independent of the lengths too
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.as_slice().ct_eq(hb.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_identifiers() {
        assert!(is_permission_identifier("api.*.read_key"));
        assert!(is_permission_identifier("domain.dns:create-record"));
        assert!(!is_permission_identifier("ab"));
        assert!(!is_permission_identifier("has space"));
        assert!(!is_permission_identifier(&"a".repeat(257)));
    }

    #[test]
    fn ip_whitelist_is_trimmed() {
        assert_eq!(normalise_ip_whitelist(" 1.1.1.1 , 2.2.2.2,"), Some("1.1.1.1,2.2.2.2".into()));
        assert_eq!(normalise_ip_whitelist(" , "), None);
    }

    #[test]
    fn secrets() {
        assert!(secrets_equal("token", "token"));
        assert!(!secrets_equal("token", "tokem"));
        assert!(!secrets_equal("token", "token2"));
        assert!(!secrets_equal("", "x"));
    }
}
