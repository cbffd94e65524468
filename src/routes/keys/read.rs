//! `keys.getKey` and `apis.listKeys`.

use super::key_not_found;
use crate::api::keys::*;
use crate::domain::permissions::PermissionQuery;
use crate::http::auth::root_key;
use crate::http::{ApiError, ApiResult, Ctx};
use crate::routes::apis::{api_not_found, api_permission};
use crate::stmt;
use crate::store::key_view::{self, PermissionLabel, Selection};
use crate::store::rows::find_api;
use crate::store::vault;
use crate::store::{self, Arg};

fn require_decrypt(root: &crate::http::auth::RootKey, api_id: &str) -> ApiResult<()> {
    if root.allows(&api_permission(api_id, "decrypt_key")) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("you're not allowed to decrypt this key"))
    }
}

pub async fn get_key(ctx: &Ctx, req: GetKeyQuery) -> ApiResult<Key> {
    let selection = Selection {
        ids_sql: "SELECT id FROM keys WHERE id = ?1 AND deleted_at_m IS NULL".into(),
        args: vec![Arg::from(&req.key_id)],
    };
    let key = key_view::load(&ctx.db, &selection, PermissionLabel::Name)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| key_not_found(&req.key_id))?;
    let api_id = key.api_id.clone().unwrap_or_default();
    let root = root_key(ctx, Some(&api_permission(&api_id, "read_key"))).await?;
    if key.workspace_id != root.workspace_id {
        return Err(key_not_found(&req.key_id));
    }
    let mut keys = [key];
    if req.decrypt == Some(true) {
        require_decrypt(&root, &api_id)?;
        vault::reveal(ctx, &ctx.db, &mut keys).await?;
    }
    let [key] = keys;
    Ok(key)
}

pub async fn list_keys(ctx: &Ctx, req: ListKeysQuery) -> ApiResult<ListKeysResponse> {
    let query = PermissionQuery::Or(vec![
        PermissionQuery::has("*"),
        PermissionQuery::And(vec![
            PermissionQuery::any_of(["api.*.read_key".to_string(), format!("api.{}.read_key", req.api_id)]),
            PermissionQuery::any_of(["api.*.read_api".to_string(), format!("api.{}.read_api", req.api_id)]),
        ]),
    ]);
    let root = root_key(ctx, Some(&query)).await?;
    let api = find_api(&ctx.db, &root.workspace_id, &req.api_id)
        .await?
        .ok_or_else(|| api_not_found(&req.api_id))?;
    let key_auth_id = api
        .key_auth_id
        .ok_or_else(|| ApiError::precondition(format!("api {} is not setup to handle keys", api.id)))?;
    if req.decrypt == Some(true) {
        require_decrypt(&root, &api.id)?;
    }
    let identity_id = match &req.external_id {
        None => None,
        Some(external_id) => {
            #[derive(serde::Deserialize)]
            struct Id {
                id: String,
            }
            let found: Option<Id> = store::first(stmt!(
                &ctx.db,
                "SELECT id FROM identities WHERE workspace_id = ?1 AND external_id = ?2 AND deleted = 0",
                &root.workspace_id,
                external_id
            )?)
            .await?;
            match found {
                Some(i) => Some(i.id),
                None => return Ok(ListKeysResponse { keys: vec![], total: 0, cursor: None }),
            }
        }
    };
    let selection = Selection {
        ids_sql: "SELECT id FROM keys WHERE key_auth_id = ?1 AND deleted_at_m IS NULL AND id > ?2
                    AND (?3 IS NULL OR identity_id = ?3) AND (?4 IS NULL OR owner_id = ?4)
                  ORDER BY id LIMIT ?5"
            .into(),
        args: vec![
            Arg::from(&key_auth_id),
            Arg::from(req.cursor.clone().unwrap_or_default()),
            Arg::from(identity_id),
            Arg::from(req.owner_id.clone()),
            Arg::from(req.limit.unwrap_or(100)),
        ],
    };
    let mut keys = key_view::load(&ctx.db, &selection, PermissionLabel::Slug).await?;
    if req.decrypt == Some(true) {
        vault::reveal(ctx, &ctx.db, &mut keys).await?;
    }
    #[derive(serde::Deserialize)]
    struct Size {
        size_approx: i64,
    }
    let total =
        store::first::<Size>(stmt!(&ctx.db, "SELECT size_approx FROM key_auth WHERE id = ?1", &key_auth_id)?)
            .await?
            .map(|s| s.size_approx)
            .unwrap_or(0);
    let cursor = keys.last().map(|k| k.id.clone());
    Ok(ListKeysResponse { keys, total, cursor })
}
