//! Wire types of every route: serde for the JSON, schemars for validation and `/openapi.json`.
//! Pure data (no `worker` types), so validation is unit-tested natively.

pub mod admin;
pub mod apis;
pub mod common;
pub mod identities;
pub mod keys;
pub mod openapi;
pub mod permissions;
pub mod ratelimits;
