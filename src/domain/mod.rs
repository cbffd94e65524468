//! Pure logic: no `worker` types, unit-tested natively with `cargo test`.

pub mod credits;
pub mod crypto;
pub mod identities;
pub mod ids;
pub mod keys;
pub mod overrides;
pub mod permissions;
pub mod random;
pub mod ratelimit;
pub mod rbac;
pub mod refill;
pub mod rules;
pub mod validate;
pub mod verify;
