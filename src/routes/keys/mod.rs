//! `keys.*` and `migrations.*` routes.

mod create;
mod rbac;
mod read;
mod update;
mod verify;

pub use create::{create_key, enqueue_keys, migrate_keys};
pub use rbac::{add_permissions, add_roles, remove_permissions, remove_roles, set_permissions, set_roles};
pub use read::{get_key, list_keys};
pub use update::{delete_key, update_key, update_remaining};
pub use verify::{verify_key, whoami};

use crate::api::common::Meta;

/// A stored `meta` JSON string as an object (anything else reads as absent).
pub fn parse_meta(meta: Option<&str>) -> Option<Meta> {
    serde_json::from_str::<Meta>(meta?).ok()
}

pub fn key_not_found(key_id: &str) -> crate::http::ApiError {
    crate::http::ApiError::not_found(format!("key {key_id} not found"))
}
