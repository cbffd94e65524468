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
    fn hash_is_base64_sha256() {
        // echo -n "hello" | sha256sum | xxd -r -p | base64
        assert_eq!(hash_key("hello"), "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(hash_key("").len(), 44);
    }
}
