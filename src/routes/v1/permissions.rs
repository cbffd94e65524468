//! `permissions.*` routes: workspace permissions and roles (v1 §2.5 #33–40).

use crate::api::v1::common::Empty;
use crate::api::v1::permissions::*;
use crate::domain::names::{check_description, check_identifier};
use crate::service::auth::Principal;
use crate::service::rbac::{self, Listing, PermissionRow, RoleWithPermissions};
use crate::service::{Ctx, Result};

fn wire_permission(p: PermissionRow) -> Permission {
    Permission { id: p.id, name: p.name, slug: p.slug, description: p.description }
}

fn wire_role(r: RoleWithPermissions) -> Role {
    Role {
        id: r.role.id,
        name: r.role.name,
        description: r.role.description,
        permissions: r
            .permissions
            .into_iter()
            .map(|(id, name, slug)| RolePermission { id, name, slug })
            .collect(),
    }
}

pub async fn create_permission(
    ctx: &Ctx,
    p: &Principal,
    req: CreatePermissionRequest,
) -> Result<CreatePermissionResponse> {
    // v1's identifier rules (upstream v1 checked them in its handler, after authentication)
    check_identifier("name", &req.name)?;
    if let Some(slug) = &req.slug {
        check_identifier("slug", slug)?;
    }
    if let Some(d) = &req.description {
        check_description("description", d)?;
    }
    let id =
        rbac::create_permission(ctx, p, &req.name, req.slug.as_deref(), req.description.as_deref()).await?;
    Ok(CreatePermissionResponse { permission_id: id })
}

pub async fn get_permission(ctx: &Ctx, p: &Principal, req: GetPermissionQuery) -> Result<Permission> {
    Ok(wire_permission(rbac::get_permission(ctx, p, &req.permission_id, false).await?))
}

pub async fn list_permissions(ctx: &Ctx, p: &Principal, _req: Empty) -> Result<PermissionList> {
    Ok(rbac::list_permissions(ctx, p, &Listing::default()).await?.into_iter().map(wire_permission).collect())
}

pub async fn delete_permission(ctx: &Ctx, p: &Principal, req: DeletePermissionRequest) -> Result<Empty> {
    rbac::delete_permission(ctx, p, &req.permission_id, false).await?;
    Ok(Empty {})
}

pub async fn create_role(ctx: &Ctx, p: &Principal, req: CreateRoleRequest) -> Result<CreateRoleResponse> {
    let permissions = req.permissions.unwrap_or_default();
    let id = rbac::create_role(ctx, p, &req.name, req.description.as_deref(), &permissions, false).await?;
    Ok(CreateRoleResponse { role_id: id })
}

pub async fn get_role(ctx: &Ctx, p: &Principal, req: GetRoleQuery) -> Result<Role> {
    Ok(wire_role(rbac::get_role(ctx, p, &req.role_id, false).await?))
}

pub async fn list_roles(ctx: &Ctx, p: &Principal, _req: Empty) -> Result<RoleList> {
    Ok(rbac::list_roles(ctx, p, &Listing::default()).await?.into_iter().map(wire_role).collect())
}

pub async fn delete_role(ctx: &Ctx, p: &Principal, req: DeleteRoleRequest) -> Result<Empty> {
    rbac::delete_role(ctx, p, &req.role_id, false).await?;
    Ok(Empty {})
}
