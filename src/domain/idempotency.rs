//! `Idempotency-Key` (verifyKey, updateRemaining / updateCredits, ratelimits.limit /
//! ratelimit.limit): which keys are accepted, how long an answer is kept, and the fingerprint
//! that tells a retry from a different request reusing the key.

use sha2::{Digest, Sha256};

/// The header.
pub const HEADER: &str = "Idempotency-Key";
/// The header telling a client that the answer is an earlier request's.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// How long an answer is kept: 24 h.
pub const TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest key accepted.
pub const MAX_LEN: usize = 255;

/// Checks a header value: 1–255 visible ASCII characters (`!` to `~`: UUIDs, ULIDs, base64,
/// anything a client generates), else the message of the 400.
pub fn check(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_LEN || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(format!(
            "{HEADER}: must be 1 to {MAX_LEN} visible ASCII characters (no spaces), e.g. a UUID"
        ));
    }
    Ok(())
}

/// A short, fixed-size fingerprint of what a request asks (`parts` joined unambiguously).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(check("7f1c0d4e-2a7b-4c8e-9d0f-1a2b3c4d5e6f").is_ok());
        assert!(check("a").is_ok());
        assert!(check(&"x".repeat(255)).is_ok());
        assert!(check("").is_err());
        assert!(check(&"x".repeat(256)).is_err());
        assert!(check("has space").is_err());
        assert!(check("tab\t").is_err());
        assert!(check("ünïcode").is_err());
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        assert_eq!(fingerprint(&["verify", "key_1", "1"]), fingerprint(&["verify", "key_1", "1"]));
        assert_ne!(fingerprint(&["verify", "key_1", "1"]), fingerprint(&["verify", "key_1", "2"]));
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["x"]).len(), 32);
    }
}
