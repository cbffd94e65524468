//! Pure RBAC planning: how the roles and permissions a request names resolve against the ones
//! the workspace has, and which links a "set" must remove or add.

use std::fmt;

/// Roles are named by name, permissions by slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Role,
    Permission,
}

impl LinkKind {
    pub fn noun(self) -> &'static str {
        match self {
            LinkKind::Permission => "permission",
            LinkKind::Role => "role",
        }
    }

    /// The request field that lists them.
    pub fn field(self) -> &'static str {
        match self {
            LinkKind::Permission => "permissions",
            LinkKind::Role => "roles",
        }
    }
}

/// A role or permission as a request names it: by id, or by name (a permission's slug).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Create it when no such name exists (and the caller may create).
    pub create: bool,
}

impl Wanted {
    pub fn named(name: impl Into<String>) -> Self {
        Wanted { id: None, name: Some(name.into()), create: false }
    }
}

/// An existing role or permission (`key` is a permission's slug or a role's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: String,
    pub name: String,
    pub key: String,
}

/// How a route reports a name that does not exist and may not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Add,
    Set,
}

/// What the request names, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// The slugs (permissions) / names (roles) of everything requested, in request order.
    pub keys: Vec<String>,
    pub existing: Vec<Known>,
    /// Names to create.
    pub create: Vec<String>,
}

/// Why a request's roles/permissions do not resolve (the messages are v1's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The `index`th element names neither an id nor a name.
    Unnamed { kind: LinkKind, index: usize },
    /// No such id.
    UnknownId { kind: LinkKind, id: String },
    /// No such name, and it may not be created.
    UnknownName { kind: LinkKind, name: String, mode: Mode },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Unnamed { kind, index } => {
                write!(f, "{}.{index}: provide either an id or a name", kind.field())
            }
            ResolveError::UnknownId { kind, id } => write!(f, "{} {id} not found", kind.noun()),
            ResolveError::UnknownName { kind, name, mode } => {
                let suffix = if *mode == Mode::Set { " and not allowed to create" } else { "" };
                write!(f, "{} {name} not found{suffix}", kind.noun())
            }
        }
    }
}

/// The first element that names nothing.
pub fn check_named(kind: LinkKind, wanted: &[Wanted]) -> Result<(), ResolveError> {
    match wanted.iter().position(|w| w.id.is_none() && w.name.is_none()) {
        Some(index) => Err(ResolveError::Unnamed { kind, index }),
        None => Ok(()),
    }
}

/// Resolves `wanted` against the `known` rows of the workspace.
pub fn resolve(
    kind: LinkKind,
    wanted: &[Wanted],
    known: &[Known],
    mode: Mode,
) -> Result<Resolved, ResolveError> {
    let mut out = Resolved::default();
    for (index, w) in wanted.iter().enumerate() {
        let found = match (&w.id, &w.name) {
            (Some(id), _) => Some(
                known
                    .iter()
                    .find(|k| &k.id == id)
                    .ok_or_else(|| ResolveError::UnknownId { kind, id: id.clone() })?,
            ),
            (None, Some(name)) => known.iter().find(|k| &k.key == name),
            (None, None) => return Err(ResolveError::Unnamed { kind, index }),
        };
        let key = match (found, &w.name) {
            (Some(k), _) => {
                if !out.existing.contains(k) {
                    out.existing.push(k.clone());
                }
                k.key.clone()
            }
            (None, Some(name)) if w.create => {
                if !out.create.contains(name) {
                    out.create.push(name.clone());
                }
                name.clone()
            }
            (None, Some(name)) => {
                return Err(ResolveError::UnknownName { kind, name: name.clone(), mode });
            }
            (None, None) => continue,
        };
        if !out.keys.contains(&key) {
            out.keys.push(key);
        }
    }
    Ok(out)
}

/// What setting a key's links to `wanted` changes, given what is `current`ly connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDiff {
    /// Ids of current links to remove.
    pub removed: Vec<String>,
    /// Some wanted link is not connected yet.
    pub adds: bool,
}

pub fn set_diff(wanted_keys: &[String], current: &[Known]) -> SetDiff {
    SetDiff {
        removed: current.iter().filter(|c| !wanted_keys.contains(&c.key)).map(|c| c.id.clone()).collect(),
        adds: wanted_keys.iter().any(|k| !current.iter().any(|c| &c.key == k)),
    }
}

/// Resolves the permissions a role is created with: each entry is a permission slug or, failing
/// that, a name of `known` (`(id, name, slug)` rows). Returns the distinct ids in request order,
/// or the first entry that names no permission.
pub fn resolve_permissions<'a>(
    requested: &'a [String],
    known: &[(String, String, String)],
) -> Result<Vec<String>, &'a str> {
    let mut ids: Vec<String> = Vec::new();
    for wanted in requested {
        let found = known
            .iter()
            .find(|(_, _, slug)| slug == wanted)
            .or_else(|| known.iter().find(|(_, name, _)| name == wanted))
            .ok_or(wanted.as_str())?;
        if !ids.contains(&found.0) {
            ids.push(found.0.clone());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str, key: &str) -> Known {
        Known { id: id.into(), name: format!("name of {key}"), key: key.into() }
    }

    #[test]
    fn resolves_by_id_and_name_and_plans_creation() {
        let known = vec![known("perm_1", "a.read"), known("perm_2", "a.write")];
        let wanted = vec![
            Wanted { id: Some("perm_2".into()), name: None, create: false },
            Wanted::named("a.read"),
            Wanted { id: None, name: Some("b.new".into()), create: true },
            Wanted::named("a.read"),
        ];
        let r = resolve(LinkKind::Permission, &wanted, &known, Mode::Add).expect("resolves");
        assert_eq!(r.keys, vec!["a.write", "a.read", "b.new"]);
        assert_eq!(r.create, vec!["b.new"]);
        assert_eq!(r.existing.len(), 2);
    }

    #[test]
    fn resolve_errors_carry_v1_messages() {
        let e = resolve(LinkKind::Role, &[Wanted::named("nope")], &[], Mode::Set).expect_err("unknown");
        assert_eq!(e.to_string(), "role nope not found and not allowed to create");
        let e = resolve(LinkKind::Role, &[Wanted::named("nope")], &[], Mode::Add).expect_err("unknown");
        assert_eq!(e.to_string(), "role nope not found");
        let id = Wanted { id: Some("role_x".into()), name: None, create: true };
        let e = resolve(LinkKind::Role, &[id], &[], Mode::Add).expect_err("unknown id");
        assert_eq!(e.to_string(), "role role_x not found");
        let empty = Wanted { id: None, name: None, create: false };
        let e = check_named(LinkKind::Permission, &[Wanted::named("a"), empty]).expect_err("unnamed");
        assert_eq!(e.to_string(), "permissions.1: provide either an id or a name");
    }

    #[test]
    fn set_diff_finds_removals_and_additions() {
        let current = vec![known("p1", "a"), known("p2", "b")];
        let d = set_diff(&["b".to_string(), "c".to_string()], &current);
        assert_eq!(d, SetDiff { removed: vec!["p1".into()], adds: true });
        let d = set_diff(&["a".to_string(), "b".to_string()], &current);
        assert_eq!(d, SetDiff { removed: vec![], adds: false });
    }

    #[test]
    fn role_permissions_resolve_by_slug_then_name() {
        let known = vec![
            ("perm_1".to_string(), "Read records".to_string(), "record.read".to_string()),
            ("perm_2".to_string(), "record.read".to_string(), "legacy.read".to_string()),
            ("perm_3".to_string(), "write".to_string(), "record.write".to_string()),
        ];
        let req = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // "record.read" is perm_1's slug and perm_2's name: the slug wins
        assert_eq!(resolve_permissions(&req(&["record.read"]), &known), Ok(vec!["perm_1".to_string()]));
        assert_eq!(
            resolve_permissions(&req(&["write", "record.write", "Read records"]), &known),
            Ok(vec!["perm_3".to_string(), "perm_1".to_string()])
        );
        assert_eq!(resolve_permissions(&req(&["write", "nope", "also-nope"]), &known), Err("nope"));
        assert_eq!(resolve_permissions(&[], &known), Ok(vec![]));
    }
}
