//! `keys.*` and `migrations.*` routes.

mod create;
mod rbac;
mod read;
mod update;
mod verify;

pub use create::{create_key, enqueue_keys, migrate_keys};
pub use rbac::{add_permissions, add_roles, remove_permissions, remove_roles, set_permissions, set_roles};
pub use read::{get_key, legacy_list_keys, list_keys, whoami};
pub use update::{delete_key, update_key, update_remaining};
pub use verify::{legacy_verify_key, verify_key};
