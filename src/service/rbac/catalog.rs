//! The workspace's permissions and roles (permissions.* routes).

use super::super::auth::Principal;
use super::super::{Ctx, Error, Resource, Result};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::names::{check_description, check_identifier};
use crate::domain::rbac::resolve_permissions;
use crate::store::audit::Target;
use crate::store::rbac::{self, PermissionRow, RoleWithPermissions};

fn check_optional_description(description: Option<&str>) -> Result<()> {
    if let Some(d) = description {
        check_description("description", d)?;
    }
    Ok(())
}

/// Creates a permission (its slug defaults to its name); returns its id.
pub async fn create_permission(
    ctx: &Ctx,
    p: &Principal,
    name: &str,
    slug: Option<&str>,
    description: Option<&str>,
) -> Result<String> {
    check_identifier("name", name)?;
    if let Some(slug) = slug {
        check_identifier("slug", slug)?;
    }
    check_optional_description(description)?;
    let id = new_id(IdKind::Permission, ctx.now)?;
    let ws = &p.workspace_id;
    let target = vec![Target::named("permission", &id, Some(name.to_string()))];
    let mut batch = ctx.batch(&p.actor(), ws, "permission.create", &format!("Created {id}"), target);
    batch.push(rbac::insert_permission(&id, ws, name, slug.unwrap_or(name), description, ctx.now));
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(id),
        Err(e) if e.is_conflict() => Err(Error::conflict(
            Resource::Permission,
            format!("Permission with name \"{name}\" already exists in this workspace"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_permission(ctx: &Ctx, p: &Principal, id: &str) -> Result<PermissionRow> {
    rbac::find_permission(&ctx.store, &p.workspace_id, id)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Permission, format!("permission {id} not found")))
}

pub async fn list_permissions(ctx: &Ctx, p: &Principal) -> Result<Vec<PermissionRow>> {
    Ok(rbac::list_permissions(&ctx.store, &p.workspace_id).await?)
}

/// Deletes a permission and its links to keys and roles.
pub async fn delete_permission(ctx: &Ctx, p: &Principal, id: &str) -> Result<()> {
    let ws = &p.workspace_id;
    let permission = rbac::find_permission(&ctx.store, ws, id)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Permission, format!("Permission {id} not found")))?;
    let target = vec![Target::named("permission", &permission.id, Some(permission.name.clone()))];
    let mut batch =
        ctx.batch(&p.actor(), ws, "permission.delete", &format!("Deleted {}", permission.id), target);
    rbac::delete_permission(&mut batch, ws, &permission.id);
    ctx.store.commit(batch).await?;
    Ok(())
}

/// Creates a role, filled with existing permissions (slugs or names); returns its id.
pub async fn create_role(
    ctx: &Ctx,
    p: &Principal,
    name: &str,
    description: Option<&str>,
    permissions: &[String],
) -> Result<String> {
    check_optional_description(description)?;
    let ws = &p.workspace_id;
    let mut permission_ids = Vec::new();
    if !permissions.is_empty() {
        let known = rbac::permissions_named(&ctx.store, ws, permissions).await?;
        permission_ids = resolve_permissions(permissions, &known).map_err(|missing| {
            Error::not_found(Resource::Permission, format!("permission {missing} not found"))
        })?;
    }
    let role_id = new_id(IdKind::Role, ctx.now)?;
    let mut targets = vec![Target::named("role", &role_id, Some(name.to_string()))];
    targets.extend(permission_ids.iter().map(|id| Target::new("permission", id)));
    let mut batch = ctx.batch(&p.actor(), ws, "role.create", &format!("Created {role_id}"), targets);
    batch.push(rbac::insert_role(&role_id, ws, name, description, ctx.now));
    if !permission_ids.is_empty() {
        batch.push(rbac::link_role_permissions(&role_id, ws, &permission_ids, ctx.now));
    }
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(role_id),
        Err(e) if e.is_conflict() => Err(Error::conflict(
            Resource::Role,
            format!("Role with name \"{name}\" already exists in this workspace"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_role(ctx: &Ctx, p: &Principal, id: &str) -> Result<RoleWithPermissions> {
    rbac::role_with_permissions(&ctx.store, &p.workspace_id, id)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Role, format!("role {id} not found")))
}

pub async fn list_roles(ctx: &Ctx, p: &Principal) -> Result<Vec<RoleWithPermissions>> {
    Ok(rbac::list_roles(&ctx.store, &p.workspace_id).await?)
}

/// Deletes a role and its links to keys and permissions.
pub async fn delete_role(ctx: &Ctx, p: &Principal, id: &str) -> Result<()> {
    let ws = &p.workspace_id;
    let role = rbac::find_role(&ctx.store, ws, id)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Role, format!("Role {id} not found")))?;
    let target = vec![Target::named("role", &role.id, Some(role.name.clone()))];
    let mut batch = ctx.batch(&p.actor(), ws, "role.delete", &format!("Deleted {}", role.id), target);
    rbac::delete_role(&mut batch, ws, &role.id);
    ctx.store.commit(batch).await?;
    Ok(())
}
