//! A key's roles and permissions.
//!
//! Upstream quirks keygate fixes (wire shapes kept):
//! - remove* used only the first element of the request to filter: every element is removed.
//! - roles created by addRoles got `perm_` ids: they get `role_` ids.
//! - addRoles/setRoles creation checked `rbac.*.create_permission`: `rbac.*.create_role` works
//!   too (the old permission is still accepted so existing root keys keep working).
//!
//! v1 and v2 ask for different rights ([`LinkRules`]); creating a missing role or permission
//! needs its create right in both.

use super::super::auth::Principal;
use super::super::keys::not_found;
use super::super::{Ctx, Error, Resource, Result};
use crate::domain::names::{check_new_names, NameRules};
use crate::domain::permissions::require;
use crate::domain::rbac::{check_named, resolve, set_diff, Known, LinkKind, Mode, Wanted};
use crate::store::audit::Target;
use crate::store::keys::KeyState;
use crate::store::{keys, rbac, Batch};

/// Which rights a change of a key's links needs, and how unknown names are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRules {
    /// The root key needs `api.<apiId>.update_key` for the key's api (v2).
    pub update_key: bool,
    /// A set needs the rbac right of what it actually changes: `add_*_to_key` to connect,
    /// `remove_*_from_key` to disconnect (v1; v2's route table asks for its rbac rights up front).
    pub diff_rights: bool,
    /// remove: a name that exists nowhere is a 404 (v2); otherwise it is ignored (v1).
    pub strict: bool,
    /// The rules of the names a request creates.
    pub names: NameRules,
}

impl LinkRules {
    pub const V1: LinkRules =
        LinkRules { update_key: false, diff_rights: true, strict: false, names: NameRules::V1 };
    pub const V2: LinkRules =
        LinkRules { update_key: true, diff_rights: false, strict: true, names: NameRules::Schema };
}

/// The live key of the principal's workspace, checked against `rules`.
async fn key_of(ctx: &Ctx, p: &Principal, key_id: &str, rules: LinkRules) -> Result<KeyState> {
    let key = keys::state(&ctx.store, key_id)
        .await?
        .filter(|k| k.workspace_id == p.workspace_id)
        .ok_or_else(|| not_found(key_id))?;
    if rules.update_key {
        p.require(&require::api(key.api_id.as_deref().unwrap_or_default(), "update_key"))?;
    }
    Ok(key)
}

/// The rows `names` name after the change, in that order.
async fn answer(ctx: &Ctx, kind: LinkKind, workspace_id: &str, names: &[String]) -> Result<Vec<Known>> {
    let wanted: Vec<Wanted> = names.iter().map(Wanted::named).collect();
    let known = rbac::lookup(&ctx.store, kind, workspace_id, &wanted).await?;
    Ok(names.iter().filter_map(|k| known.iter().find(|x| &x.key == k)).cloned().collect())
}

fn targets(kind: LinkKind, key_id: &str, key_name: Option<String>, items: &[String]) -> Vec<Target> {
    let mut targets = vec![Target::named("key", key_id, key_name)];
    targets.extend(items.iter().map(|k| Target::named(kind.noun(), k, Some(k.clone()))));
    targets
}

/// Connects roles/permissions to a key (creating missing ones when asked and allowed); returns
/// the requested ones.
pub async fn add(
    ctx: &Ctx,
    p: &Principal,
    kind: LinkKind,
    key_id: &str,
    wanted: &[Wanted],
    rules: LinkRules,
) -> Result<Vec<Known>> {
    let key = key_of(ctx, p, key_id, rules).await?;
    let ws = &p.workspace_id;
    let known = rbac::lookup(&ctx.store, kind, ws, wanted).await?;
    let resolved = resolve(kind, wanted, &known, Mode::Add)?;
    if !resolved.create.is_empty() && !p.allows(&require::link(kind, "create")) {
        return Err(Error::unauthorized(format!("you are not allowed to create {}s", kind.noun())));
    }
    check_new_names(rules.names, kind, wanted.iter().map(|w| w.name.as_deref()), &resolved.create)?;
    let event = format!("authorization.connect_{}_and_key", kind.noun());
    let mut batch = ctx.batch(&p.actor(), ws, &event, "", targets(kind, &key.id, key.name, &resolved.keys));
    rbac::create_named(&mut batch, kind, ws, &resolved.create, ctx.now)?;
    batch.push(rbac::connect(kind, &key.id, ws, &resolved.keys, ctx.now));
    batch.only_changes_keys(&[&key.id]);
    ctx.store.commit(batch).await?;
    answer(ctx, kind, ws, &resolved.keys).await
}

/// Disconnects every named role/permission from a key.
pub async fn remove(
    ctx: &Ctx,
    p: &Principal,
    kind: LinkKind,
    key_id: &str,
    wanted: &[Wanted],
    rules: LinkRules,
) -> Result<()> {
    let key = key_of(ctx, p, key_id, rules).await?;
    check_named(kind, wanted)?;
    let ws = &p.workspace_id;
    let known = rbac::lookup(&ctx.store, kind, ws, wanted).await?;
    if rules.strict {
        let unknown = wanted
            .iter()
            .find(|w| !known.iter().any(|k| w.id.as_ref() == Some(&k.id) || w.name.as_ref() == Some(&k.key)));
        if let Some(w) = unknown {
            let shown = w.name.as_deref().or(w.id.as_deref()).unwrap_or_default();
            let (resource, noun) = match kind {
                LinkKind::Role => (Resource::Role, "Role"),
                LinkKind::Permission => (Resource::Permission, "Permission"),
            };
            return Err(Error::not_found(resource, format!("{noun} '{shown}' was not found.")));
        }
    }
    if known.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = known.iter().map(|k| k.id.clone()).collect();
    let names: Vec<String> = known.iter().map(|k| k.key.clone()).collect();
    let event = format!("authorization.disconnect_{}_and_key", kind.noun());
    let mut batch = ctx.batch(&p.actor(), ws, &event, "", targets(kind, &key.id, key.name, &names));
    batch.push(rbac::disconnect(kind, &key.id, &ids));
    batch.only_changes_keys(&[&key.id]);
    ctx.store.commit(batch).await?;
    Ok(())
}

/// Adds to `batch` what makes the key's roles/permissions exactly `wanted`, after the checks of
/// setRoles/setPermissions (also used by updateKey); returns the names now connected.
pub async fn stage_set(
    ctx: &Ctx,
    p: &Principal,
    batch: &mut Batch,
    kind: LinkKind,
    key_id: &str,
    wanted: &[Wanted],
    rules: LinkRules,
) -> Result<Vec<String>> {
    let ws = &p.workspace_id;
    let known = rbac::lookup(&ctx.store, kind, ws, wanted).await?;
    let resolved = resolve(kind, wanted, &known, Mode::Set)?;
    if !resolved.create.is_empty() {
        p.require(&require::link(kind, "create"))?;
    }
    check_new_names(rules.names, kind, wanted.iter().map(|w| w.name.as_deref()), &resolved.create)?;
    let current = rbac::connected(&ctx.store, kind, key_id).await?;
    let diff = set_diff(&resolved.keys, &current);
    if rules.diff_rights {
        if !diff.removed.is_empty() && !p.allows(&require::link(kind, "remove")) {
            return Err(Error::unauthorized(format!(
                "you are not allowed to remove {}s from keys",
                kind.noun()
            )));
        }
        if diff.adds {
            p.require(&require::link(kind, "add"))?;
        }
    }
    if !diff.removed.is_empty() {
        batch.push(rbac::disconnect(kind, key_id, &diff.removed));
    }
    rbac::create_named(batch, kind, ws, &resolved.create, ctx.now)?;
    if !resolved.keys.is_empty() {
        batch.push(rbac::connect(kind, key_id, ws, &resolved.keys, ctx.now));
    }
    Ok(resolved.keys)
}

/// Sets exactly the key's roles/permissions; returns them.
pub async fn set(
    ctx: &Ctx,
    p: &Principal,
    kind: LinkKind,
    key_id: &str,
    wanted: &[Wanted],
    rules: LinkRules,
) -> Result<Vec<Known>> {
    let key = key_of(ctx, p, key_id, rules).await?;
    let ws = &p.workspace_id;
    let event = format!("authorization.connect_{}_and_key", kind.noun());
    // the audit targets name what is connected after the change, known only once it is planned
    let mut staged = Batch::unaudited();
    let names = stage_set(ctx, p, &mut staged, kind, &key.id, wanted, rules).await?;
    let mut batch = ctx.batch(&p.actor(), ws, &event, "set", targets(kind, &key.id, key.name, &names));
    batch.append(staged);
    batch.only_changes_keys(&[&key.id]);
    ctx.store.commit(batch).await?;
    answer(ctx, kind, ws, &names).await
}

/// The roles/permissions connected to a key directly (by id order).
pub async fn connected(ctx: &Ctx, kind: LinkKind, key_id: &str) -> Result<Vec<Known>> {
    let mut known = rbac::connected(&ctx.store, kind, key_id).await?;
    known.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(known)
}
