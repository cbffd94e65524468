//! The workspace's permissions and roles (permissions.* routes, v1 and v2).

use super::super::auth::Principal;
use super::super::{Ctx, Error, Resource, Result};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::names::check_description;
use crate::domain::permissions::require;
use crate::domain::rbac::{resolve_permissions, LinkKind};
use crate::store::audit::Target;
use crate::store::rbac::{self, Listing, PermissionRow, RoleWithPermissions};

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
    let slug = slug.unwrap_or(name);
    let id = new_id(IdKind::Permission, ctx.now)?;
    let ws = &p.workspace_id;
    let target = vec![Target::named("permission", &id, Some(name.to_string()))];
    let mut batch = ctx.batch(&p.actor(), ws, "permission.create", &format!("Created {id}"), target);
    batch.push(rbac::insert_permission(&id, ws, name, slug, description, ctx.now));
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(id),
        Err(e) if e.is_conflict_on("permissions.slug") && slug != name => Err(Error::conflict(
            Resource::Permission,
            format!("A permission with slug '{slug}' already exists in this workspace"),
        )),
        Err(e) if e.is_conflict() => Err(Error::conflict(
            Resource::Permission,
            format!("Permission with name \"{name}\" already exists in this workspace"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The permission `id` (or, `by_slug`, the one with that slug).
pub async fn get_permission(ctx: &Ctx, p: &Principal, id: &str, by_slug: bool) -> Result<PermissionRow> {
    rbac::find_permission(&ctx.store, &p.workspace_id, id, by_slug)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Permission, format!("permission {id} not found")))
}

/// Permissions in id order (see [`Listing`]).
pub async fn list_permissions(ctx: &Ctx, p: &Principal, listing: &Listing<'_>) -> Result<Vec<PermissionRow>> {
    Ok(rbac::permissions(&ctx.store, &p.workspace_id, listing).await?)
}

/// Deletes a permission and its links to keys and roles.
pub async fn delete_permission(ctx: &Ctx, p: &Principal, id: &str, by_slug: bool) -> Result<()> {
    let ws = &p.workspace_id;
    let permission = rbac::find_permission(&ctx.store, ws, id, by_slug)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Permission, format!("Permission {id} not found")))?;
    let target = vec![Target::named("permission", &permission.id, Some(permission.name.clone()))];
    let mut batch =
        ctx.batch(&p.actor(), ws, "permission.delete", &format!("Deleted {}", permission.id), target);
    rbac::delete_permission(&mut batch, ws, &permission.id);
    ctx.store.commit(batch).await?;
    Ok(())
}

/// Slugs without duplicates (case-insensitively), in request order.
fn distinct_slugs(slugs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in slugs {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.clone());
        }
    }
    out
}

/// The permission slugs that do not exist yet, staged for creation (needs `create_permission`).
async fn create_missing(
    ctx: &Ctx,
    p: &Principal,
    batch: &mut crate::store::Batch,
    slugs: &[String],
) -> Result<()> {
    let missing = rbac::missing(&ctx.store, LinkKind::Permission, &p.workspace_id, slugs).await?;
    if !missing.is_empty() {
        p.require(&require::rbac(&["create_permission"]))?;
        rbac::create_named(batch, LinkKind::Permission, &p.workspace_id, &missing, ctx.now)?;
    }
    Ok(())
}

/// Creates a role filled with permissions: existing ones by slug or name (v1), or by slug with
/// missing ones created (`create_missing`, v2); returns its id.
pub async fn create_role(
    ctx: &Ctx,
    p: &Principal,
    name: &str,
    description: Option<&str>,
    permissions: &[String],
    create_missing_permissions: bool,
) -> Result<String> {
    check_optional_description(description)?;
    let ws = &p.workspace_id;
    let role_id = new_id(IdKind::Role, ctx.now)?;
    let mut targets = vec![Target::named("role", &role_id, Some(name.to_string()))];
    let mut staged = crate::store::Batch::unaudited();
    if create_missing_permissions {
        let slugs = distinct_slugs(permissions);
        create_missing(ctx, p, &mut staged, &slugs).await?;
        staged.push(rbac::insert_role(&role_id, ws, name, description, ctx.now));
        if !slugs.is_empty() {
            rbac::set_role_permissions(&mut staged, &role_id, ws, &slugs, ctx.now);
        }
    } else {
        let mut permission_ids = Vec::new();
        if !permissions.is_empty() {
            let known = rbac::permissions_named(&ctx.store, ws, permissions).await?;
            permission_ids = resolve_permissions(permissions, &known).map_err(|missing| {
                Error::not_found(Resource::Permission, format!("permission {missing} not found"))
            })?;
        }
        targets.extend(permission_ids.iter().map(|id| Target::new("permission", id)));
        staged.push(rbac::insert_role(&role_id, ws, name, description, ctx.now));
        if !permission_ids.is_empty() {
            staged.push(rbac::link_role_permissions(&role_id, ws, &permission_ids, ctx.now));
        }
    }
    let mut batch = ctx.batch(&p.actor(), ws, "role.create", &format!("Created {role_id}"), targets);
    batch.append(staged);
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(role_id),
        Err(e) if e.is_conflict_on("roles") => Err(Error::conflict(
            Resource::Role,
            format!("Role with name \"{name}\" already exists in this workspace"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The role `id` (or, `by_name`, the one with that name) with its permissions.
pub async fn get_role(ctx: &Ctx, p: &Principal, id: &str, by_name: bool) -> Result<RoleWithPermissions> {
    let missing = || Error::not_found(Resource::Role, format!("role {id} not found"));
    let role = rbac::find_role(&ctx.store, &p.workspace_id, id, by_name).await?.ok_or_else(missing)?;
    roles_by_id(ctx, p, &[role.id]).await?.pop().ok_or_else(missing)
}

/// Roles in id order, with their permissions (see [`Listing`]).
pub async fn list_roles(ctx: &Ctx, p: &Principal, listing: &Listing<'_>) -> Result<Vec<RoleWithPermissions>> {
    Ok(rbac::roles(&ctx.store, &p.workspace_id, listing).await?)
}

/// The roles with these ids, with their permissions.
pub async fn roles_by_id(ctx: &Ctx, p: &Principal, ids: &[String]) -> Result<Vec<RoleWithPermissions>> {
    list_roles(ctx, p, &Listing { ids: Some(ids), ..Listing::default() }).await
}

/// Deletes a role and its links to keys and permissions.
pub async fn delete_role(ctx: &Ctx, p: &Principal, id: &str, by_name: bool) -> Result<()> {
    let ws = &p.workspace_id;
    let role = rbac::find_role(&ctx.store, ws, id, by_name)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Role, format!("Role {id} not found")))?;
    let target = vec![Target::named("role", &role.id, Some(role.name.clone()))];
    let mut batch = ctx.batch(&p.actor(), ws, "role.delete", &format!("Deleted {}", role.id), target);
    rbac::delete_role(&mut batch, ws, &role.id);
    ctx.store.commit(batch).await?;
    Ok(())
}

/// Makes a role's permissions exactly these slugs (missing ones are created, with
/// `create_permission`); returns them sorted by slug.
pub async fn set_role_permissions(
    ctx: &Ctx,
    p: &Principal,
    role_id: &str,
    slugs: &[String],
) -> Result<Vec<PermissionRow>> {
    let ws = &p.workspace_id;
    let role = rbac::find_role(&ctx.store, ws, role_id, false)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Role, format!("Role {role_id} not found")))?;
    let slugs = distinct_slugs(slugs);
    let target = vec![Target::named("role", &role.id, Some(role.name.clone()))];
    let display = format!("Set the permissions of {}", role.id);
    let mut batch = ctx.batch(&p.actor(), ws, "authorization.connect_role_and_permission", &display, target);
    create_missing(ctx, p, &mut batch, &slugs).await?;
    rbac::set_role_permissions(&mut batch, &role.id, ws, &slugs, ctx.now);
    ctx.store.commit(batch).await?;
    let mut permissions = rbac::permissions_named(&ctx.store, ws, &slugs)
        .await?
        .into_iter()
        .filter(|(_, _, slug)| slugs.contains(slug))
        .map(|(id, name, slug)| PermissionRow { id, name, slug, description: None })
        .collect::<Vec<_>>();
    permissions.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(permissions)
}
