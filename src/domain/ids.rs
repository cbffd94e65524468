//! Resource ids: `<prefix>_<base58(12 bytes)>` where the first 4 bytes are the big-endian
//! seconds since 1 700 000 000 (so ids sort roughly by creation time) and the last 8 are random.

use super::random::{random_bytes, RandomError};

/// Seconds offset of the id timestamp (upstream's epoch for ids).
const ID_EPOCH_SECONDS: i64 = 1_700_000_000;

/// Every kind of id keygate hands out, with its upstream prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Key,
    Credit,
    Api,
    KeyAuth,
    Workspace,
    Request,
    Role,
    Permission,
    Identity,
    Ratelimit,
    RatelimitNamespace,
    RatelimitOverride,
    AuditLog,
    Migration,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Key => "key",
            IdKind::Credit => "cr",
            IdKind::Api => "api",
            IdKind::KeyAuth => "ks",
            IdKind::Workspace => "ws",
            IdKind::Request => "req",
            IdKind::Role => "role",
            IdKind::Permission => "perm",
            IdKind::Identity => "id",
            IdKind::Ratelimit => "rl",
            IdKind::RatelimitNamespace => "rlns",
            IdKind::RatelimitOverride => "rlor",
            IdKind::AuditLog => "log",
            IdKind::Migration => "mig",
        }
    }
}

/// Builds an id from its parts (deterministic; used by [`new_id`] and by tests).
pub fn format_id(kind: IdKind, now_ms: i64, random: [u8; 8]) -> String {
    let seconds = (now_ms / 1000 - ID_EPOCH_SECONDS).clamp(0, u32::MAX as i64) as u32;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..].copy_from_slice(&random);
    let mut id = String::with_capacity(kind.prefix().len() + 18);
    id.push_str(kind.prefix());
    id.push('_');
    // appends; a `String` grows to fit, so this cannot fail
    let _ = bs58::encode(bytes).onto(&mut id);
    id
}

/// A fresh id of the given kind.
pub fn new_id(kind: IdKind, now_ms: i64) -> Result<String, RandomError> {
    Ok(format_id(kind, now_ms, random_bytes::<8>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHABET: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    #[test]
    fn id_has_prefix_and_base58_body() {
        let id = new_id(IdKind::Credit, 1_764_000_000_000).expect("random");
        let (prefix, body) = id.split_once('_').expect("underscore");
        assert_eq!(prefix, "cr");
        assert!(body.chars().all(|c| ALPHABET.contains(c)), "{body}");
        let decoded = bs58::decode(body).into_vec().expect("base58");
        assert_eq!(decoded.len(), 12);
        let secs = u32::from_be_bytes([decoded[0], decoded[1], decoded[2], decoded[3]]);
        assert_eq!(secs as i64, 1_764_000_000 - ID_EPOCH_SECONDS);
    }

    #[test]
    fn ids_sort_by_time() {
        let a = format_id(IdKind::Key, 1_800_000_000_000, [255; 8]);
        let b = format_id(IdKind::Key, 1_800_000_100_000, [0; 8]);
        let da = bs58::decode(&a[4..]).into_vec().expect("a");
        let db = bs58::decode(&b[4..]).into_vec().expect("b");
        assert!(da < db);
    }

    #[test]
    fn ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(new_id(IdKind::Request, 0).expect("random")));
        }
    }

    #[test]
    fn every_prefix_matches_upstream() {
        let all = [
            (IdKind::Key, "key"),
            (IdKind::Credit, "cr"),
            (IdKind::Api, "api"),
            (IdKind::KeyAuth, "ks"),
            (IdKind::Workspace, "ws"),
            (IdKind::Request, "req"),
            (IdKind::Role, "role"),
            (IdKind::Permission, "perm"),
            (IdKind::Identity, "id"),
            (IdKind::Ratelimit, "rl"),
            (IdKind::RatelimitNamespace, "rlns"),
            (IdKind::RatelimitOverride, "rlor"),
            (IdKind::AuditLog, "log"),
            (IdKind::Migration, "mig"),
        ];
        for (kind, prefix) in all {
            assert!(format_id(kind, 0, [0; 8]).starts_with(&format!("{prefix}_")));
        }
    }
}
