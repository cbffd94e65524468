//! Root-key authentication (v1 §2.2) and the operator token (decisions.md §4).

use super::{ApiError, ApiResult, Ctx};
use crate::domain::keys::hash_key;
use crate::domain::permissions::PermissionQuery;
use crate::domain::rules::secrets_equal;
use crate::domain::verify::{precheck, Caller};
use crate::store::audit::Actor;
use crate::store::verification::load_by_hash;

/// An authenticated root key.
#[derive(Debug, Clone)]
pub struct RootKey {
    pub id: String,
    pub name: Option<String>,
    /// The workspace this root key administers.
    pub workspace_id: String,
    pub permissions: Vec<String>,
}

impl RootKey {
    pub fn allows(&self, query: &PermissionQuery) -> bool {
        query.is_satisfied_by(&self.permissions)
    }

    /// 403 INSUFFICIENT_PERMISSIONS unless the root key satisfies `query`.
    pub fn require(&self, query: &PermissionQuery) -> ApiResult<()> {
        if self.allows(query) {
            Ok(())
        } else {
            Err(ApiError::insufficient_permissions(query.missing_message(&self.permissions)))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::RootKey { key_id: self.id.clone(), name: self.name.clone() }
    }
}

/// The bearer token of the request (a raw token without "Bearer " works too).
fn bearer(ctx: &Ctx) -> Option<&str> {
    let h = ctx.authorization.as_deref()?.trim();
    let token = h.strip_prefix("Bearer ").unwrap_or(h).trim();
    (!token.is_empty()).then_some(token)
}

/// Authenticates the root key of the request and checks `query` against its permissions.
pub async fn root_key(ctx: &Ctx, query: Option<&PermissionQuery>) -> ApiResult<RootKey> {
    let token = bearer(ctx).ok_or_else(|| ApiError::unauthorized("key required"))?;
    let loaded = load_by_hash(&ctx.db, &hash_key(token))
        .await?
        .ok_or_else(|| ApiError::unauthorized("key not found"))?;
    let key = &loaded.key;
    if !key.workspaces_enabled {
        return Err(ApiError::forbidden("workspace is disabled"));
    }
    let caller = Caller { api_id: None, ip: ctx.ip.as_deref(), permissions: None };
    precheck(&loaded.facts(), &caller, ctx.now)?;
    let Some(workspace_id) = key.for_workspace_id.clone() else {
        if let Some(q) = query.filter(|q| !q.is_satisfied_by(&loaded.permissions)) {
            return Err(ApiError::insufficient_permissions(q.missing_message(&loaded.permissions)));
        }
        return Err(ApiError::unauthorized("root key required"));
    };
    let root =
        RootKey { id: key.id.clone(), name: key.name.clone(), workspace_id, permissions: loaded.permissions };
    if let Some(q) = query {
        root.require(q)?;
    }
    Ok(root)
}

/// What the operator token allows: `None` when the operator API is off (no ADMIN_TOKEN).
pub enum AdminAccess {
    Disabled,
    Denied,
    Granted,
}

pub fn admin_access(ctx: &Ctx) -> AdminAccess {
    let expected = ctx.env.var("ADMIN_TOKEN").map(|v| v.to_string()).unwrap_or_default();
    if expected.is_empty() {
        return AdminAccess::Disabled;
    }
    match bearer(ctx) {
        Some(token) if secrets_equal(token, &expected) => AdminAccess::Granted,
        _ => AdminAccess::Denied,
    }
}
