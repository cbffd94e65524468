//! keys.add/remove/set Permissions and Roles.

use crate::api::v1::common::Empty;
use crate::api::v1::keys::*;
use crate::domain::rbac::{Known, LinkKind, Wanted};
use crate::service::auth::Principal;
use crate::service::rbac::{self, LinkRules};
use crate::service::{Ctx, Result};

/// Permissions as named by a request: a permission's name is its slug.
pub fn wanted_permissions(refs: &[PermissionRef]) -> Vec<Wanted> {
    refs.iter()
        .map(|p| Wanted {
            id: p.id.clone(),
            name: p.slug.clone().or(p.name.clone()),
            create: p.create == Some(true),
        })
        .collect()
}

pub fn wanted_roles(refs: &[RoleRef]) -> Vec<Wanted> {
    refs.iter()
        .map(|r| Wanted { id: r.id.clone(), name: r.name.clone(), create: r.create == Some(true) })
        .collect()
}

fn connected(known: Vec<Known>) -> Vec<Connected> {
    known.into_iter().map(|k| Connected { id: k.id, name: k.name }).collect()
}

pub async fn add_permissions(ctx: &Ctx, p: &Principal, req: KeyPermissionsRequest) -> Result<Vec<Connected>> {
    let wanted = wanted_permissions(&req.permissions);
    Ok(connected(rbac::add(ctx, p, LinkKind::Permission, &req.key_id, &wanted, LinkRules::V1).await?))
}

pub async fn remove_permissions(ctx: &Ctx, p: &Principal, req: KeyPermissionsRequest) -> Result<Empty> {
    rbac::remove(
        ctx,
        p,
        LinkKind::Permission,
        &req.key_id,
        &wanted_permissions(&req.permissions),
        LinkRules::V1,
    )
    .await?;
    Ok(Empty {})
}

pub async fn set_permissions(ctx: &Ctx, p: &Principal, req: KeyPermissionsRequest) -> Result<Vec<Connected>> {
    let wanted = wanted_permissions(&req.permissions);
    Ok(connected(rbac::set(ctx, p, LinkKind::Permission, &req.key_id, &wanted, LinkRules::V1).await?))
}

pub async fn add_roles(ctx: &Ctx, p: &Principal, req: KeyRolesRequest) -> Result<Vec<Connected>> {
    Ok(connected(
        rbac::add(ctx, p, LinkKind::Role, &req.key_id, &wanted_roles(&req.roles), LinkRules::V1).await?,
    ))
}

pub async fn remove_roles(ctx: &Ctx, p: &Principal, req: KeyRolesRequest) -> Result<Empty> {
    rbac::remove(ctx, p, LinkKind::Role, &req.key_id, &wanted_roles(&req.roles), LinkRules::V1).await?;
    Ok(Empty {})
}

pub async fn set_roles(ctx: &Ctx, p: &Principal, req: KeyRolesRequest) -> Result<Vec<Connected>> {
    Ok(connected(
        rbac::set(ctx, p, LinkKind::Role, &req.key_id, &wanted_roles(&req.roles), LinkRules::V1).await?,
    ))
}
