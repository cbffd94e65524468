//! Key material: `prefix_` + base58([1, N, N random bytes]), the visible `start`, and the
//! stored hash (standard base64 of SHA-256 of the whole key string), as upstream does it.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::random::{random_vec, RandomError};

/// Version byte of the key material format.
const KEY_VERSION: u8 = 1;

/// Builds a key string from explicit random bytes (deterministic; see [`new_key`]).
pub fn format_key(prefix: Option<&str>, random: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(random.len() + 2);
    bytes.push(KEY_VERSION);
    bytes.push(random.len().min(u8::MAX as usize) as u8);
    bytes.extend_from_slice(random);
    let body = bs58::encode(bytes).into_string();
    match prefix {
        Some(p) if !p.is_empty() => format!("{p}_{body}"),
        _ => body,
    }
}

/// A fresh key with `byte_length` random bytes.
pub fn new_key(prefix: Option<&str>, byte_length: usize) -> Result<String, RandomError> {
    Ok(format_key(prefix, &random_vec(byte_length)?))
}

/// A fresh key in v2's format, `prefix_` + base58(`byte_length` random bytes) without a version
/// header, and its `start`: `prefix_` + the first 4 characters of the random part.
pub fn new_plain_key(prefix: Option<&str>, byte_length: usize) -> Result<(String, String), RandomError> {
    Ok(plain_key(prefix, &random_vec(byte_length)?))
}

/// [`new_plain_key`] from explicit random bytes (deterministic).
pub fn plain_key(prefix: Option<&str>, random: &[u8]) -> (String, String) {
    let body = bs58::encode(random).into_string();
    let head: String = body.chars().take(4).collect();
    match prefix {
        Some(p) if !p.is_empty() => (format!("{p}_{body}"), format!("{p}_{head}")),
        _ => (body, head),
    }
}

/// Key migrations (v2 `keys.migrateKeys`): how the exported hash of a key was computed.
pub const MIGRATION_SHA256: &str = "sha256";
pub const MIGRATION_PREFIXED_API_KEY: &str = "github.com/seamapi/prefixed-api-key";

/// The hash a migration's algorithm stored for `key` when it is not keygate's own: for
/// `prefixed-api-key` (`<prefix>_<short token>_<long token>`), hex SHA-256 of the long token.
/// `None` for `sha256`, whose hashes are keygate's already.
pub fn migration_hash(algorithm: &str, key: &str) -> Option<String> {
    match algorithm {
        MIGRATION_PREFIXED_API_KEY => {
            let (_, long_token) = key.rsplit_once('_')?;
            Some(Sha256::digest(long_token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
        }
        _ => None,
    }
}

/// The visible start of an imported key once keygate sees it: `prefix_` + 4 characters.
pub fn migrated_start(key: &str) -> String {
    match key.split_once('_') {
        Some((prefix, rest)) => format!("{prefix}_{}", rest.chars().take(4).collect::<String>()),
        None => key.chars().take(4).collect(),
    }
}

/// When the old key of a reroll stops working: `now + grace`, rounded up to a full minute (a
/// grace of 0 ends it now).
pub fn reroll_expiry(now: i64, grace_ms: i64) -> i64 {
    if grace_ms <= 0 {
        return now;
    }
    let at = now.saturating_add(grace_ms);
    at.div_euclid(60_000).saturating_add(i64::from(at.rem_euclid(60_000) != 0)).saturating_mul(60_000)
}

/// The visible start of a new key: the first `len(request prefix) + 5` characters. A prefix that
/// comes from the keyspace default (not the request) counts as no prefix, as upstream does.
pub fn key_start(key: &str, request_prefix: Option<&str>) -> String {
    let n = request_prefix.map(|p| p.chars().count()).unwrap_or(0) + 5;
    key.chars().take(n).collect()
}

/// The stored hash of a key: standard base64 (with padding) of SHA-256 over the UTF-8 key.
pub fn hash_key(key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format_is_versioned_base58() {
        let key = format_key(Some("prefix"), &[7u8; 16]);
        let (prefix, body) = key.split_once('_').expect("prefix separator");
        assert_eq!(prefix, "prefix");
        let raw = bs58::decode(body).into_vec().expect("base58");
        assert_eq!(raw[0], 1);
        assert_eq!(raw[1], 16);
        assert_eq!(&raw[2..], &[7u8; 16]);
    }

    #[test]
    fn no_prefix_means_no_separator() {
        let key = format_key(None, &[1u8; 16]);
        assert!(!key.contains('_'));
        assert_eq!(format_key(Some(""), &[1u8; 16]), key);
    }

    #[test]
    fn new_key_uses_requested_length() {
        let key = new_key(None, 66).expect("random");
        let raw = bs58::decode(&key).into_vec().expect("base58");
        assert_eq!(raw.len(), 68);
        assert_eq!(raw[1], 66);
        assert_ne!(new_key(None, 16).expect("a"), new_key(None, 16).expect("b"));
    }

    #[test]
    fn start_follows_the_request_prefix_only() {
        let key = format_key(Some("prefix"), &[9u8; 16]);
        let start = key_start(&key, Some("prefix"));
        assert!(start.starts_with("prefix_"));
        assert_eq!(start.chars().count(), 11);
        // prefix from the keyspace default: only 5 characters (upstream quirk)
        let key = format_key(Some("_prefix"), &[9u8; 16]);
        assert_eq!(key_start(&key, None), "_pref");
    }

    #[test]
    fn plain_keys_have_no_header() {
        let (key, start) = plain_key(Some("sk"), &[7u8; 16]);
        assert_eq!(key, format!("sk_{}", bs58::encode([7u8; 16]).into_string()));
        assert_eq!(start, format!("sk_{}", &key[3..7]));
        let (key, start) = plain_key(None, &[1u8; 16]);
        assert!(!key.contains('_'));
        assert_eq!(start.len(), 4);
        assert_eq!(bs58::decode(&key).into_vec().expect("base58"), vec![1u8; 16]);
        let (key, _) = new_plain_key(Some("p"), 32).expect("random");
        assert_eq!(bs58::decode(&key[2..]).into_vec().expect("base58").len(), 32);
    }

    #[test]
    fn reroll_grace_rounds_up_to_a_minute() {
        assert_eq!(reroll_expiry(1_000, 0), 1_000);
        assert_eq!(reroll_expiry(1_000, 1), 60_000);
        assert_eq!(reroll_expiry(0, 60_000), 60_000);
        assert_eq!(reroll_expiry(59_999, 60_001), 120_000);
        assert_eq!(reroll_expiry(120_000, 60_000), 180_000);
    }

    #[test]
    fn migration_hashes() {
        let key = "mycompany_BRTRKFsL_51FwqftsmMDHHbJAMEXXHCgG";
        // echo -n 51FwqftsmMDHHbJAMEXXHCgG | sha256sum
        let expected: String =
            Sha256::digest(b"51FwqftsmMDHHbJAMEXXHCgG").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(migration_hash(MIGRATION_PREFIXED_API_KEY, key), Some(expected));
        assert_eq!(migration_hash(MIGRATION_PREFIXED_API_KEY, "nounderscore"), None);
        assert_eq!(migration_hash(MIGRATION_SHA256, key), None);
        assert_eq!(migrated_start(key), "mycompany_BRTR");
        assert_eq!(migrated_start("abcdefgh"), "abcd");
    }

    #[test]
    fn hash_is_base64_sha256() {
        // echo -n "hello" | sha256sum | xxd -r -p | base64
        assert_eq!(hash_key("hello"), "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(hash_key("").len(), 44);
    }
}
