//! `permissions.*` routes: workspace permissions and roles (v1 §2.5 #33–40).

use std::collections::HashMap;

use serde::Deserialize;

use crate::api::common::Empty;
use crate::api::permissions::*;
use crate::domain::ids::{new_id, IdKind};
use crate::domain::permissions::PermissionQuery;
use crate::domain::rbac::{check_description, check_identifier, resolve_permissions};
use crate::http::auth::root_key;
use crate::http::{ApiError, ApiResult, Ctx};
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::{self, is_unique_violation};

/// `or("*", "rbac.*.<action>")`
fn rbac_permission(action: &str) -> PermissionQuery {
    PermissionQuery::any_of(["*".to_string(), format!("rbac.*.{action}")])
}

fn check_optional_description(description: Option<&String>) -> ApiResult<()> {
    if let Some(d) = description {
        check_description("description", d)?;
    }
    Ok(())
}

async fn find_permission(ctx: &Ctx, workspace_id: &str, id: &str) -> ApiResult<Option<Permission>> {
    Ok(stmt!(
        &ctx.db,
        "SELECT id, name, slug, description FROM permissions WHERE id = ?1 AND workspace_id = ?2",
        id,
        workspace_id
    )?
    .first(None)
    .await?)
}

pub async fn create_permission(
    ctx: &Ctx,
    req: CreatePermissionRequest,
) -> ApiResult<CreatePermissionResponse> {
    check_identifier("name", &req.name)?;
    if let Some(slug) = &req.slug {
        check_identifier("slug", slug)?;
    }
    check_optional_description(req.description.as_ref())?;
    let root = root_key(ctx, Some(&rbac_permission("create_permission"))).await?;
    let id = new_id(IdKind::Permission, ctx.now)?;
    let slug = req.slug.clone().unwrap_or_else(|| req.name.clone());
    let db = &ctx.db;
    let mut stmts = vec![stmt!(
        db,
        "INSERT INTO permissions (id, workspace_id, name, slug, description, created_at_m)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &id,
        &root.workspace_id,
        &req.name,
        &slug,
        req.description.clone(),
        ctx.now
    )?];
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "permission.create",
        &format!("Created {id}"),
        &[Target::named("permission", &id, Some(req.name.clone()))],
    )?);
    match store::batch(db, stmts).await {
        Ok(_) => Ok(CreatePermissionResponse { permission_id: id }),
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(format!(
            "Permission with name \"{}\" already exists in this workspace",
            req.name
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_permission(ctx: &Ctx, req: GetPermissionQuery) -> ApiResult<Permission> {
    let root = root_key(ctx, Some(&rbac_permission("read_permission"))).await?;
    find_permission(ctx, &root.workspace_id, &req.permission_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("permission {} not found", req.permission_id)))
}

pub async fn list_permissions(ctx: &Ctx, _req: Empty) -> ApiResult<PermissionList> {
    let root = root_key(ctx, Some(&rbac_permission("read_permission"))).await?;
    Ok(store::all(stmt!(
        &ctx.db,
        "SELECT id, name, slug, description FROM permissions WHERE workspace_id = ?1 ORDER BY id",
        &root.workspace_id
    )?)
    .await?)
}

pub async fn delete_permission(ctx: &Ctx, req: DeletePermissionRequest) -> ApiResult<Empty> {
    let root = root_key(ctx, Some(&rbac_permission("delete_permission"))).await?;
    let ws = &root.workspace_id;
    let permission = find_permission(ctx, ws, &req.permission_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Permission {} not found", req.permission_id)))?;
    let db = &ctx.db;
    let id = &permission.id;
    let mut stmts = vec![
        stmt!(db, "DELETE FROM keys_permissions WHERE permission_id = ?1 AND workspace_id = ?2", id, ws)?,
        stmt!(db, "DELETE FROM roles_permissions WHERE permission_id = ?1 AND workspace_id = ?2", id, ws)?,
        stmt!(db, "DELETE FROM permissions WHERE id = ?1 AND workspace_id = ?2", id, ws)?,
    ];
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        "permission.delete",
        &format!("Deleted {id}"),
        &[Target::named("permission", id, Some(permission.name.clone()))],
    )?);
    store::batch(db, stmts).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
struct PermissionIdentity {
    id: String,
    name: String,
    slug: String,
}

pub async fn create_role(ctx: &Ctx, req: CreateRoleRequest) -> ApiResult<CreateRoleResponse> {
    check_optional_description(req.description.as_ref())?;
    let root = root_key(ctx, Some(&rbac_permission("create_role"))).await?;
    let ws = &root.workspace_id;
    let db = &ctx.db;
    let requested = req.permissions.clone().unwrap_or_default();
    let mut permission_ids = Vec::new();
    if !requested.is_empty() {
        let wanted = serde_json::to_string(&requested)?;
        let known: Vec<PermissionIdentity> = store::all(stmt!(
            db,
            "SELECT id, name, slug FROM permissions
             WHERE workspace_id = ?1
               AND (slug IN (SELECT value FROM json_each(?2)) OR name IN (SELECT value FROM json_each(?2)))",
            ws,
            wanted
        )?)
        .await?;
        let known: Vec<(String, String, String)> =
            known.into_iter().map(|p| (p.id, p.name, p.slug)).collect();
        permission_ids = resolve_permissions(&requested, &known)
            .map_err(|missing| ApiError::not_found(format!("permission {missing} not found")))?;
    }
    let role_id = new_id(IdKind::Role, ctx.now)?;
    let mut stmts = vec![stmt!(
        db,
        "INSERT INTO roles (id, workspace_id, name, description, created_at_m) VALUES (?1, ?2, ?3, ?4, ?5)",
        &role_id,
        ws,
        &req.name,
        req.description.clone(),
        ctx.now
    )?];
    if !permission_ids.is_empty() {
        // joined against permissions so that one deleted meanwhile is not linked
        stmts.push(stmt!(
            db,
            "INSERT INTO roles_permissions (role_id, permission_id, workspace_id, created_at_m)
             SELECT ?1, p.id, ?2, ?3 FROM permissions p
             WHERE p.workspace_id = ?2 AND p.id IN (SELECT value FROM json_each(?4))",
            &role_id,
            ws,
            ctx.now,
            serde_json::to_string(&permission_ids)?
        )?);
    }
    let mut targets = vec![Target::named("role", &role_id, Some(req.name.clone()))];
    targets.extend(permission_ids.iter().map(|p| Target::new("permission", p)));
    stmts.extend(audit::log(ctx, ws, &root.actor(), "role.create", &format!("Created {role_id}"), &targets)?);
    match store::batch(db, stmts).await {
        Ok(_) => Ok(CreateRoleResponse { role_id }),
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(format!(
            "Role with name \"{}\" already exists in this workspace",
            req.name
        ))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct RoleRow {
    id: String,
    name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct RolePermissionRow {
    role_id: String,
    id: String,
    name: String,
    slug: String,
}

const ROLE_PERMISSIONS_SQL: &str = "SELECT rp.role_id, p.id, p.name, p.slug
     FROM roles_permissions rp
     JOIN permissions p ON p.id = rp.permission_id AND p.workspace_id = rp.workspace_id
     WHERE rp.workspace_id = ?1";

/// The roles with their permissions (ordered by id).
fn assemble(roles: Vec<RoleRow>, links: Vec<RolePermissionRow>) -> Vec<Role> {
    let mut by_role: HashMap<String, Vec<RolePermission>> = HashMap::new();
    for l in links {
        by_role.entry(l.role_id).or_default().push(RolePermission { id: l.id, name: l.name, slug: l.slug });
    }
    roles
        .into_iter()
        .map(|r| Role {
            permissions: by_role.remove(&r.id).unwrap_or_default(),
            id: r.id,
            name: r.name,
            description: r.description,
        })
        .collect()
}

pub async fn get_role(ctx: &Ctx, req: GetRoleQuery) -> ApiResult<Role> {
    let root = root_key(ctx, Some(&rbac_permission("read_role"))).await?;
    let db = &ctx.db;
    let ws = &root.workspace_id;
    let results = store::batch(
        db,
        vec![
            stmt!(
                db,
                "SELECT id, name, description FROM roles WHERE id = ?1 AND workspace_id = ?2",
                &req.role_id,
                ws
            )?,
            stmt!(
                db,
                &format!("{ROLE_PERMISSIONS_SQL} AND rp.role_id = ?2 ORDER BY p.id"),
                ws,
                &req.role_id
            )?,
        ],
    )
    .await?;
    let (Some(roles), Some(links)) = (results.first(), results.get(1)) else {
        return Err(ApiError::internal("missing query results"));
    };
    let roles: Vec<RoleRow> = roles.results()?;
    if roles.is_empty() {
        return Err(ApiError::not_found(format!("role {} not found", req.role_id)));
    }
    assemble(roles, links.results()?)
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("role {} not found", req.role_id)))
}

pub async fn list_roles(ctx: &Ctx, _req: Empty) -> ApiResult<RoleList> {
    let root = root_key(ctx, Some(&rbac_permission("read_role"))).await?;
    let db = &ctx.db;
    let ws = &root.workspace_id;
    let results = store::batch(
        db,
        vec![
            stmt!(db, "SELECT id, name, description FROM roles WHERE workspace_id = ?1 ORDER BY id", ws)?,
            stmt!(db, &format!("{ROLE_PERMISSIONS_SQL} ORDER BY p.id"), ws)?,
        ],
    )
    .await?;
    let (Some(roles), Some(links)) = (results.first(), results.get(1)) else {
        return Err(ApiError::internal("missing query results"));
    };
    Ok(assemble(roles.results()?, links.results()?))
}

pub async fn delete_role(ctx: &Ctx, req: DeleteRoleRequest) -> ApiResult<Empty> {
    let root = root_key(ctx, Some(&rbac_permission("delete_role"))).await?;
    let ws = &root.workspace_id;
    let db = &ctx.db;
    let role: RoleRow = stmt!(
        db,
        "SELECT id, name, description FROM roles WHERE id = ?1 AND workspace_id = ?2",
        &req.role_id,
        ws
    )?
    .first(None)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("Role {} not found", req.role_id)))?;
    let id = &role.id;
    let mut stmts = vec![
        stmt!(db, "DELETE FROM keys_roles WHERE role_id = ?1 AND workspace_id = ?2", id, ws)?,
        stmt!(db, "DELETE FROM roles_permissions WHERE role_id = ?1 AND workspace_id = ?2", id, ws)?,
        stmt!(db, "DELETE FROM roles WHERE id = ?1 AND workspace_id = ?2", id, ws)?,
    ];
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        "role.delete",
        &format!("Deleted {id}"),
        &[Target::named("role", id, Some(role.name.clone()))],
    )?);
    store::batch(db, stmts).await?;
    Ok(Empty {})
}
