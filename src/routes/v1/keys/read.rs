//! keys.getKey, apis.listKeys, keys.whoami.

use crate::api::v1::common::{Meta, RefillResponse};
use crate::api::v1::keys::*;
use crate::domain::parse_meta;
use crate::service::auth::{Credentials, Principal};
use crate::service::keys::{self, KeyView, ListFilter};
use crate::service::{Ctx, Result};

/// The v1 `Key` object of a key.
pub fn wire_key(v: KeyView) -> Key {
    Key {
        start: v.start,
        workspace_id: v.workspace_id,
        api_id: v.api_id,
        name: v.name,
        owner_id: v.owner_id,
        meta: parse_meta(v.meta.as_deref()),
        created_at: v.created_at,
        updated_at: v.updated_at,
        expires: v.expires,
        remaining: v.remaining,
        refill: RefillResponse::from_columns(v.refill_amount, v.refill_day, v.last_refill_at),
        ratelimit: v.ratelimit.map(|(limit, duration)| KeyRatelimit {
            r#async: false,
            limit,
            duration,
            refill_rate: limit,
            refill_interval: duration,
        }),
        roles: v.roles,
        permissions: v.permissions,
        enabled: v.enabled,
        plaintext: v.plaintext,
        identity: v.identity.map(|i| KeyIdentity {
            id: i.id,
            external_id: i.external_id,
            meta: parse_meta(i.meta.as_deref()),
        }),
        id: v.id,
    }
}

pub async fn get_key(ctx: &Ctx, creds: &Credentials, req: GetKeyQuery) -> Result<Key> {
    Ok(wire_key(keys::get(ctx, creds, &req.key_id, req.decrypt == Some(true)).await?))
}

pub async fn list_keys(ctx: &Ctx, p: &Principal, req: ListKeysQuery) -> Result<ListKeysResponse> {
    let filter = ListFilter {
        api_id: req.api_id,
        limit: req.limit,
        cursor: req.cursor,
        owner_id: req.owner_id,
        external_id: req.external_id,
        decrypt: req.decrypt == Some(true),
        v2: false,
        offset: 0,
    };
    let page = keys::list(ctx, p, &filter).await?;
    Ok(ListKeysResponse {
        keys: page.keys.into_iter().map(wire_key).collect(),
        total: page.total,
        cursor: page.cursor,
    })
}

pub async fn whoami(ctx: &Ctx, creds: &Credentials, req: WhoamiRequest) -> Result<WhoamiResponse> {
    let k = keys::whoami(ctx, creds, &req.key).await?;
    Ok(WhoamiResponse {
        id: k.id,
        name: k.name,
        remaining: k.remaining,
        identity: k.identity.map(|(id, external_id)| WhoamiIdentity { id, external_id }),
        meta: parse_meta(k.meta.as_deref()).filter(|m: &Meta| !m.is_empty()),
        created_at: k.created_at,
        enabled: k.enabled,
        environment: k.environment,
    })
}

/// Legacy `GET /v1/apis/{apiId}/keys` (offset paging): apis.listKeys' service and key shape.
pub async fn legacy_list_keys(
    ctx: &Ctx,
    p: &Principal,
    req: LegacyListKeysQuery,
) -> Result<LegacyListKeysResponse> {
    let filter = ListFilter {
        api_id: req.api_id,
        limit: req.limit,
        owner_id: req.owner_id,
        offset: req.offset.unwrap_or(0),
        ..ListFilter::default()
    };
    let page = keys::list(ctx, p, &filter).await?;
    Ok(LegacyListKeysResponse { keys: page.keys.into_iter().map(wire_key).collect(), total: page.total })
}
