//! v2 `permissions.*` routes.

use crate::api::v2::permissions::*;
use crate::api::v2::{Data, Empty, Page};
use crate::service::auth::Principal;
use crate::service::rbac::{self, Listing, PermissionRow, RoleWithPermissions};
use crate::service::{Ctx, Result};

pub fn wire_permission(p: PermissionRow) -> Permission {
    Permission { id: p.id, name: p.name, slug: p.slug, description: p.description.filter(|d| !d.is_empty()) }
}

pub fn wire_role(r: RoleWithPermissions) -> Role {
    let permissions: Vec<Permission> = r
        .permissions
        .into_iter()
        .map(|(id, name, slug)| Permission { id, name, slug, description: None })
        .collect();
    Role {
        id: r.role.id,
        name: r.role.name,
        description: r.role.description.filter(|d| !d.is_empty()),
        permissions: (!permissions.is_empty()).then_some(permissions),
    }
}

/// A page's listing: one row more than the page holds tells whether more follow.
fn listing(req: &ListRequest) -> (Listing<'_>, i64) {
    let limit = req.limit.unwrap_or(100);
    let listing = Listing {
        ids: None,
        search: req.search.as_deref(),
        cursor: req.cursor.as_deref(),
        limit: Some(limit + 1),
    };
    (listing, limit)
}

pub async fn create_permission(
    ctx: &Ctx,
    p: &Principal,
    req: CreatePermissionRequest,
) -> Result<Data<CreatePermissionResponse>> {
    let id = rbac::create_permission(ctx, p, &req.name, Some(&req.slug), req.description.as_deref()).await?;
    Ok(Data::of(CreatePermissionResponse { permission_id: id }))
}

pub async fn get_permission(ctx: &Ctx, p: &Principal, req: GetPermissionRequest) -> Result<Data<Permission>> {
    Ok(Data::of(wire_permission(rbac::get_permission(ctx, p, &req.permission, true).await?)))
}

pub async fn list_permissions(ctx: &Ctx, p: &Principal, req: ListRequest) -> Result<Page<Permission>> {
    let (listing, limit) = listing(&req);
    let rows = rbac::list_permissions(ctx, p, &listing).await?;
    Ok(Page::of(rows, limit, |r| r.id.clone(), wire_permission))
}

pub async fn delete_permission(
    ctx: &Ctx,
    p: &Principal,
    req: DeletePermissionRequest,
) -> Result<Data<Empty>> {
    rbac::delete_permission(ctx, p, &req.permission, true).await?;
    Ok(Data::of(Empty {}))
}

pub async fn create_role(
    ctx: &Ctx,
    p: &Principal,
    req: CreateRoleRequest,
) -> Result<Data<CreateRoleResponse>> {
    let permissions = req.permissions.unwrap_or_default();
    let id = rbac::create_role(ctx, p, &req.name, req.description.as_deref(), &permissions, true).await?;
    Ok(Data::of(CreateRoleResponse { role_id: id }))
}

pub async fn get_role(ctx: &Ctx, p: &Principal, req: GetRoleRequest) -> Result<Data<Role>> {
    Ok(Data::of(wire_role(rbac::get_role(ctx, p, &req.role, true).await?)))
}

pub async fn list_roles(ctx: &Ctx, p: &Principal, req: ListRequest) -> Result<Page<Role>> {
    let (listing, limit) = listing(&req);
    let rows = rbac::list_roles(ctx, p, &listing).await?;
    Ok(Page::of(rows, limit, |r| r.role.id.clone(), wire_role))
}

pub async fn delete_role(ctx: &Ctx, p: &Principal, req: DeleteRoleRequest) -> Result<Data<Empty>> {
    rbac::delete_role(ctx, p, &req.role, true).await?;
    Ok(Data::of(Empty {}))
}

pub async fn set_role_permissions(
    ctx: &Ctx,
    p: &Principal,
    req: SetRolePermissionsRequest,
) -> Result<Data<Vec<Permission>>> {
    let set = rbac::set_role_permissions(ctx, p, &req.role_id, &req.permissions).await?;
    Ok(Data::of(set.into_iter().map(wire_permission).collect()))
}
