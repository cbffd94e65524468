//! Pure logic: no `worker` types, unit-tested natively with `cargo test`.

/// Free-form metadata of keys and identities: any JSON object.
pub type Meta = serde_json::Map<String, serde_json::Value>;

/// Metadata as stored (JSON text) read back: `None` when absent or not an object.
pub fn parse_meta(stored: Option<&str>) -> Option<Meta> {
    serde_json::from_str::<Meta>(stored?).ok()
}

pub mod analytics;
pub mod batch;
pub mod credits;
pub mod crypto;
pub mod group_commit;
pub mod idempotency;
pub mod identities;
pub mod ids;
pub mod json;
pub mod keys;
pub mod limits;
pub mod names;
pub mod overrides;
pub mod patch;
pub mod permissions;
pub mod random;
pub mod rate_text;
pub mod ratelimit;
pub mod rbac;
pub mod refill;
pub mod spend_text;
pub mod validate;
pub mod verify;
