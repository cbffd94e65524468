//! keys: create and import, read (getKey, listKeys, whoami), update (fields, credits, roles and
//! permissions), delete.

mod create;
mod read;
mod reroll;
mod update;

pub use crate::store::key_view::KeyView;
pub use create::{create, migrate, migrate_hashed, HashedKey, KeyFormat, MigratedKey, NewKey};
pub use read::{get, get_as, list, view_by_value, whoami, ListFilter};
pub use reroll::reroll;
pub use update::{delete, delete_as, update, update_credits, update_remaining, KeyUpdate, RatelimitPatch};

use super::{Ctx, Error, Resource, Result};
use crate::domain::credits::KeyCredits;
use crate::domain::identities::encode_meta;
use crate::domain::Meta;
use crate::store::keys::{self, KeyState};

pub fn not_found(key_id: &str) -> Error {
    Error::not_found(Resource::Key, format!("key {key_id} not found"))
}

/// Metadata as stored (JSON text): at most 64,000 characters, as identities' (400 naming
/// `field` otherwise).
fn meta_json(meta: Option<&Meta>, field: &str) -> Result<Option<String>> {
    meta.map(|m| {
        encode_meta(m).map_err(|mut e| {
            e.path = field.to_string();
            e.into()
        })
    })
    .transpose()
}

/// The live key `key_id` (any workspace; callers check it).
async fn state(ctx: &Ctx, key_id: &str) -> Result<KeyState> {
    keys::state(&ctx.store, key_id).await?.ok_or_else(|| not_found(key_id))
}

/// Where the key's own credits live.
fn credits_of(key: &KeyState) -> KeyCredits {
    KeyCredits {
        key_id: key.id.clone(),
        credit_id: key.credit_id.clone(),
        legacy: key.remaining_requests.is_some(),
        legacy_remaining: key.remaining_requests,
    }
}
