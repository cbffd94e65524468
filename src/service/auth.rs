//! Root-key authentication (v1 §2.2) and the operator token (decisions.md §4).

use super::{keycache, AuthFailure, Ctx, Error, Result};
use crate::domain::crypto::secrets_equal;
use crate::domain::keys::hash_key;
use crate::domain::permissions::PermissionQuery;
use crate::domain::verify::{precheck, Caller};
use crate::store::audit::Actor;

/// An authenticated root key: who acts, for which workspace, with which permissions.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: String,
    pub name: Option<String>,
    /// The workspace this root key administers.
    pub workspace_id: String,
    pub permissions: Vec<String>,
}

impl Principal {
    pub fn allows(&self, query: &PermissionQuery) -> bool {
        query.is_satisfied_by(&self.permissions)
    }

    /// INSUFFICIENT_PERMISSIONS unless the root key satisfies `query`.
    pub fn require(&self, query: &PermissionQuery) -> Result<()> {
        if self.allows(query) {
            Ok(())
        } else {
            Err(Error::InsufficientPermissions(query.missing_message(&self.permissions)))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::RootKey { key_id: self.key_id.clone(), name: self.name.clone() }
    }
}

/// Authenticates the root key `token` and checks `query` against its permissions.
pub async fn authenticate(
    ctx: &Ctx,
    token: Option<&str>,
    query: Option<&PermissionQuery>,
) -> Result<Principal> {
    let token = token.ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
    let loaded = keycache::load(ctx, &hash_key(token))
        .await?
        .ok_or(Error::Unauthenticated(AuthFailure::UnknownKey))?;
    let key = &loaded.key;
    if !key.workspaces_enabled {
        return Err(Error::Forbidden("workspace is disabled".into()));
    }
    let facts = loaded.facts();
    let caller = Caller { api_id: None, ip: ctx.origin.ip_for(&facts), permissions: None };
    precheck(&facts, &caller, ctx.now).map_err(Error::KeyDenied)?;
    let Some(workspace_id) = key.for_workspace_id.clone() else {
        if let Some(q) = query.filter(|q| !q.is_satisfied_by(&loaded.permissions)) {
            return Err(Error::InsufficientPermissions(q.missing_message(&loaded.permissions)));
        }
        return Err(Error::Unauthenticated(AuthFailure::NotRootKey));
    };
    let principal = Principal {
        key_id: key.id.clone(),
        name: key.name.clone(),
        workspace_id,
        permissions: loaded.permissions.clone(),
    };
    if let Some(q) = query {
        principal.require(q)?;
    }
    Ok(principal)
}

/// What the operator token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAccess {
    /// No ADMIN_TOKEN: the operator API does not exist.
    Disabled,
    Denied,
    Granted,
}

pub fn admin_access(ctx_admin_token: Option<&str>, token: Option<&str>) -> AdminAccess {
    match (ctx_admin_token, token) {
        (None, _) => AdminAccess::Disabled,
        (Some(expected), Some(token)) if secrets_equal(token, expected) => AdminAccess::Granted,
        _ => AdminAccess::Denied,
    }
}

/// The root key a request presents, not yet checked: for the routes that load the addressed
/// resource before authenticating (upstream's order), so an unknown resource is a 404 even
/// without credentials.
#[derive(Debug, Clone, Default)]
pub struct Credentials(pub Option<String>);

impl Credentials {
    pub async fn authenticate(&self, ctx: &Ctx, query: Option<&PermissionQuery>) -> Result<Principal> {
        authenticate(ctx, self.0.as_deref(), query).await
    }
}
