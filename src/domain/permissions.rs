//! Permission queries: a permission name, `{"and": [...]}` or `{"or": [...]}` (non-empty, nested),
//! evaluated by exact string membership (`"*"` is a literal name, there is no wildcard expansion).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionQuery {
    Has(String),
    And(Vec<PermissionQuery>),
    Or(Vec<PermissionQuery>),
}

/// The query was not a string / `{and:[..]}` / `{or:[..]}` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidQuery;

impl PermissionQuery {
    pub fn has(name: impl Into<String>) -> Self {
        PermissionQuery::Has(name.into())
    }

    /// `or` of the given permission names.
    pub fn any_of<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        PermissionQuery::Or(names.into_iter().map(|n| PermissionQuery::Has(n.into())).collect())
    }

    /// Parses the JSON shape accepted by `keys.verifyKey`'s `authorization.permissions`.
    pub fn parse(value: &Value) -> Result<Self, InvalidQuery> {
        match value {
            Value::String(s) if !s.is_empty() => Ok(PermissionQuery::Has(s.clone())),
            Value::Object(map) if map.len() == 1 => {
                let (op, children) = map.iter().next().ok_or(InvalidQuery)?;
                let Value::Array(items) = children else {
                    return Err(InvalidQuery);
                };
                if items.is_empty() {
                    return Err(InvalidQuery);
                }
                let parsed = items.iter().map(Self::parse).collect::<Result<Vec<_>, _>>()?;
                match op.as_str() {
                    "and" => Ok(PermissionQuery::And(parsed)),
                    "or" => Ok(PermissionQuery::Or(parsed)),
                    _ => Err(InvalidQuery),
                }
            }
            _ => Err(InvalidQuery),
        }
    }

    /// True when the held permissions satisfy the query.
    pub fn is_satisfied_by<S: AsRef<str>>(&self, held: &[S]) -> bool {
        match self {
            PermissionQuery::Has(name) => held.iter().any(|h| h.as_ref() == name),
            PermissionQuery::And(children) => children.iter().all(|c| c.is_satisfied_by(held)),
            PermissionQuery::Or(children) => children.iter().any(|c| c.is_satisfied_by(held)),
        }
    }

    /// Every permission name in the query, in order of appearance.
    pub fn leaves(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            PermissionQuery::Has(name) => out.push(name),
            PermissionQuery::And(c) | PermissionQuery::Or(c) => c.iter().for_each(|q| q.collect_leaves(out)),
        }
    }

    /// The message root-key authentication returns when the query fails, e.g.
    /// `Missing one of these permissions: ['"*"', '"api.*.create_key"'], have: ['"api.*.read_key"']`.
    pub fn missing_message<S: AsRef<str>>(&self, held: &[S]) -> String {
        fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
            names.map(|n| format!("'{}'", Value::String(n.to_string()))).collect::<Vec<_>>().join(", ")
        }
        format!(
            "Missing one of these permissions: [{}], have: [{}]",
            quoted(self.leaves().into_iter()),
            quoted(held.iter().map(|h| h.as_ref()))
        )
    }
}

/// A v2 permission query that does not parse (`keys.verifyKey` answers 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySyntaxError(pub String);

impl std::fmt::Display for QuerySyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Name(String),
    And,
    Or,
    Open,
    Close,
}

/// Splits a v2 query into tokens: names of letters, digits and `. _ - * : /`, parentheses, and
/// the words `AND` / `OR` (any case).
fn tokens(query: &str) -> Result<Vec<Token>, QuerySyntaxError> {
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '*' | ':' | '/');
    let mut out = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            c if is_name(c) => {
                let mut name = c.to_string();
                while let Some(&(_, n)) = chars.peek().filter(|(_, n)| is_name(*n)) {
                    name.push(n);
                    chars.next();
                }
                out.push(match name.to_ascii_uppercase().as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    _ => Token::Name(name),
                });
            }
            c => {
                return Err(QuerySyntaxError(format!(
                    "Invalid character '{c}' found in query at position {i}: permission names may \
                     contain letters, digits and . _ - * : / only"
                )))
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    /// `expr := and ("OR" and)*`
    fn expr(&mut self) -> Result<PermissionQuery, QuerySyntaxError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { PermissionQuery::Or(parts) })
    }

    /// `and := primary ("AND" primary)*`
    fn and(&mut self) -> Result<PermissionQuery, QuerySyntaxError> {
        let mut parts = vec![self.primary()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { PermissionQuery::And(parts) })
    }

    /// `primary := name | "(" expr ")"`
    fn primary(&mut self) -> Result<PermissionQuery, QuerySyntaxError> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Name(name)) => Ok(PermissionQuery::Has(name)),
            Some(Token::Open) => {
                let inner = self.expr()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(QuerySyntaxError("Expected ')' in permission query".into()));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Close) => Err(QuerySyntaxError("Unexpected ')' in permission query".into())),
            Some(Token::And | Token::Or) => {
                Err(QuerySyntaxError("Expected a permission before or after AND / OR".into()))
            }
            None => Err(QuerySyntaxError("Unexpected end of permission query".into())),
        }
    }
}

impl PermissionQuery {
    /// Parses the v2 string form of `keys.verifyKey`'s `permissions`, e.g.
    /// `"admin OR (read AND write)"`: AND binds tighter than OR, both left to right; names are
    /// compared as exact strings (`*` has no wildcard meaning).
    pub fn parse_v2(query: &str) -> Result<Self, QuerySyntaxError> {
        let mut parser = Parser { tokens: tokens(query)?, at: 0 };
        if parser.tokens.is_empty() {
            return Err(QuerySyntaxError("The permission query is empty".into()));
        }
        let parsed = parser.expr()?;
        match parser.peek() {
            None => Ok(parsed),
            Some(_) => Err(QuerySyntaxError("Unexpected input after the end of the permission query".into())),
        }
    }
}

/// The root permission that grants every action on every route (decisions.md §2).
pub const ROOT: &str = "*";

/// Whether `held` grants `action` on some api: `*`, `api.*.<action>` or any
/// `api.<apiId>.<action>` (v2 analytics, whose results are scoped to the permitted apis).
pub fn grants_some_api<S: AsRef<str>>(held: &[S], action: &str) -> bool {
    held.iter().any(|h| {
        let h = h.as_ref();
        h == ROOT
            || h.strip_prefix("api.")
                .and_then(|rest| rest.strip_suffix(action))
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|api| !api.is_empty() && !api.contains('.'))
    })
}

/// Every permission query a route asks of a root key is built here. Each one accepts `*`;
/// the other names are upstream's exact strings: `<resource>.*.<action>` for the whole
/// workspace and `<resource>.<id>.<action>` for one resource.
pub mod require {
    use super::{PermissionQuery, ROOT};

    fn scoped(resource: &str, scope: Option<&str>, action: &str) -> PermissionQuery {
        let mut names = vec![ROOT.to_string(), format!("{resource}.*.{action}")];
        if let Some(id) = scope {
            names.push(format!("{resource}.{id}.{action}"));
        }
        PermissionQuery::any_of(names)
    }

    /// `or("*", "api.*.<action>", "api.<apiId>.<action>")`
    pub fn api(api_id: &str, action: &str) -> PermissionQuery {
        scoped("api", Some(api_id), action)
    }

    /// `or("*", "api.*.<action>")`
    pub fn any_api(action: &str) -> PermissionQuery {
        scoped("api", None, action)
    }

    /// `or("*", and(or(api.*.a, api.<id>.a) for each action))` (apis.listKeys).
    pub fn api_all(api_id: &str, actions: &[&str]) -> PermissionQuery {
        PermissionQuery::Or(vec![
            PermissionQuery::has(ROOT),
            PermissionQuery::And(
                actions
                    .iter()
                    .map(|a| PermissionQuery::any_of([format!("api.*.{a}"), format!("api.{api_id}.{a}")]))
                    .collect(),
            ),
        ])
    }

    /// `or("*", "identity.*.<action>", "identity.<scope>.<action>")`; the scope is an identity id
    /// or (listIdentities) an environment.
    pub fn identity(scope: Option<&str>, action: &str) -> PermissionQuery {
        scoped("identity", scope, action)
    }

    /// `or("*", "rbac.*.<action>", ...)`: any of the actions.
    pub fn rbac(actions: &[&str]) -> PermissionQuery {
        let mut names = vec![ROOT.to_string()];
        names.extend(actions.iter().map(|a| format!("rbac.*.{a}")));
        PermissionQuery::any_of(names)
    }

    /// `or("*", and(rbac.*.<action> for each action))`: every one of the actions.
    pub fn rbac_all(actions: &[&str]) -> PermissionQuery {
        PermissionQuery::Or(vec![
            PermissionQuery::has(ROOT),
            PermissionQuery::And(
                actions.iter().map(|a| PermissionQuery::has(format!("rbac.*.{a}"))).collect(),
            ),
        ])
    }

    /// The rights of a key's role/permission links: `create` a missing one, `add` one to a key,
    /// `remove` one from a key. Creating a role also accepts `create_permission` (upstream's
    /// historical check).
    pub fn link(kind: crate::domain::rbac::LinkKind, action: &str) -> PermissionQuery {
        use crate::domain::rbac::LinkKind;
        match (kind, action) {
            (LinkKind::Permission, "create") => rbac(&["create_permission"]),
            (LinkKind::Role, "create") => rbac(&["create_role", "create_permission"]),
            (kind, action) => {
                let direction = if action == "add" { "to_key" } else { "from_key" };
                rbac(&[&format!("{action}_{}_{direction}", kind.noun())])
            }
        }
    }

    /// `or("*", "ratelimit.*.<action>", "ratelimit.<namespaceId>.<action>")`
    pub fn ratelimit(namespace_id: Option<&str>, action: &str) -> PermissionQuery {
        scoped("ratelimit", namespace_id, action)
    }

    /// `or("*", "api.*.<action>", and("api.<id>.<action>" for each api))` (keys.getVerifications:
    /// the keys of several apis).
    pub fn each_api(api_ids: &[String], action: &str) -> PermissionQuery {
        PermissionQuery::Or(vec![
            PermissionQuery::has(ROOT),
            PermissionQuery::has(format!("api.*.{action}")),
            PermissionQuery::And(
                api_ids.iter().map(|id| PermissionQuery::has(format!("api.{id}.{action}"))).collect(),
            ),
        ])
    }

    /// `or("*", "audit.*.<action>")` (keygate's audit.listLogs: `read_log`).
    pub fn audit(action: &str) -> PermissionQuery {
        scoped("audit", None, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(v: Value) -> PermissionQuery {
        PermissionQuery::parse(&v).expect("valid query")
    }

    #[test]
    fn parses_strings_and_trees() {
        assert_eq!(q(json!("a")), PermissionQuery::has("a"));
        assert_eq!(
            q(json!({"and": ["a", {"or": ["b", "c"]}]})),
            PermissionQuery::And(vec![
                PermissionQuery::has("a"),
                PermissionQuery::Or(vec![PermissionQuery::has("b"), PermissionQuery::has("c")])
            ])
        );
    }

    #[test]
    fn rejects_invalid_shapes() {
        for bad in [
            json!(""),
            json!(1),
            json!(null),
            json!([]),
            json!({}),
            json!({"and": []}),
            json!({"or": "a"}),
            json!({"xor": ["a"]}),
            json!({"and": ["a"], "or": ["b"]}),
            json!({"and": [1]}),
        ] {
            assert_eq!(PermissionQuery::parse(&bad), Err(InvalidQuery), "{bad}");
        }
    }

    #[test]
    fn exact_string_matching_without_wildcards() {
        let held = ["api.*.read_key"];
        assert!(q(json!("api.*.read_key")).is_satisfied_by(&held));
        assert!(!q(json!("api.api_1.read_key")).is_satisfied_by(&held));
        assert!(!q(json!("*")).is_satisfied_by(&held));
        assert!(q(json!("*")).is_satisfied_by(&["*"]));
    }

    #[test]
    fn spec_example_through_roles() {
        // roles r1{p1,p2,p3}, r2{p1,p4,p5}; and("p1", or("p2","p6",and("p4","p2"))) => valid
        let held = ["p1", "p2", "p3", "p4", "p5"];
        let query = q(json!({"and": ["p1", {"or": ["p2", "p6", {"and": ["p4", "p2"]}]}]}));
        assert!(query.is_satisfied_by(&held));
        // without p2 the or-branch fails (p6 missing, and(p4,p2) missing p2)
        assert!(!query.is_satisfied_by(&["p1", "p3", "p4", "p5"]));
        assert!(!query.is_satisfied_by::<&str>(&[]));
    }

    #[test]
    fn missing_message_lists_leaves_and_held() {
        let query = PermissionQuery::any_of(["*", "api.*.create_key", "api.api_x.create_key"]);
        assert_eq!(
            query.missing_message(&["api.*.read_key"]),
            r#"Missing one of these permissions: ['"*"', '"api.*.create_key"', '"api.api_x.create_key"'], have: ['"api.*.read_key"']"#
        );
    }

    fn v2(q: &str) -> PermissionQuery {
        PermissionQuery::parse_v2(q).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    fn has(n: &str) -> PermissionQuery {
        PermissionQuery::has(n)
    }

    #[test]
    fn v2_queries_parse_with_and_binding_tighter() {
        assert_eq!(v2("documents.read"), has("documents.read"));
        assert_eq!(
            v2("documents.read AND documents.write"),
            PermissionQuery::And(vec![has("documents.read"), has("documents.write")])
        );
        assert_eq!(
            v2("admin OR (read AND write)"),
            PermissionQuery::Or(vec![has("admin"), PermissionQuery::And(vec![has("read"), has("write")])])
        );
        // a AND b OR c = (a AND b) OR c; a OR b AND c = a OR (b AND c)
        assert_eq!(
            v2("a AND b OR c"),
            PermissionQuery::Or(vec![PermissionQuery::And(vec![has("a"), has("b")]), has("c")])
        );
        assert_eq!(
            v2("a or b and c"),
            PermissionQuery::Or(vec![has("a"), PermissionQuery::And(vec![has("b"), has("c")])])
        );
        assert_eq!(v2("  ((a))\n"), has("a"));
        assert_eq!(v2("api.*:x/y-z_1"), has("api.*:x/y-z_1"));
        // the JSON form's example, as a string
        assert_eq!(v2("a AND (b OR c)"), q(json!({"and": ["a", {"or": ["b", "c"]}]})));
        // a name containing the letters of a keyword is a name
        assert_eq!(v2("ANDROID OR ORACLE"), PermissionQuery::Or(vec![has("ANDROID"), has("ORACLE")]));
    }

    #[test]
    fn v2_query_syntax_errors() {
        for bad in
            ["", "   ", "()", "(a", "a)", "a b", "a AND", "OR a", "a AND OR b", "a & b", "a,b", "(a OR b))"]
        {
            assert!(PermissionQuery::parse_v2(bad).is_err(), "{bad:?} should not parse");
        }
        let e = PermissionQuery::parse_v2("read & write").err().map(|e| e.0).unwrap_or_default();
        assert!(e.starts_with("Invalid character '&' found in query at position 5"), "{e}");
    }

    #[test]
    fn v2_wildcards_are_literal() {
        // a key holding the slug `api.*` satisfies "api.* OR api.edit" (upstream's test)
        assert!(v2("api.* OR api.edit").is_satisfied_by(&["api.*"]));
        assert!(!v2("api.*").is_satisfied_by(&["api.read"]));
        assert!(v2("a AND (b OR c)").is_satisfied_by(&["a", "c"]));
        assert!(!v2("a AND (b OR c)").is_satisfied_by(&["b", "c"]));
    }

    #[test]
    fn some_api_grants() {
        assert!(grants_some_api(&["*"], "read_analytics"));
        assert!(grants_some_api(&["api.*.read_analytics"], "read_analytics"));
        assert!(grants_some_api(&["x", "api.api_1.read_analytics"], "read_analytics"));
        assert!(!grants_some_api(&["api.api_1.read_key"], "read_analytics"));
        assert!(!grants_some_api(&["api..read_analytics", "api.a.b.read_analytics"], "read_analytics"));
        assert!(!grants_some_api::<&str>(&[], "read_analytics"));
    }

    #[test]
    fn every_builder_accepts_the_root_permission() {
        let queries = [
            require::api("api_1", "read_key"),
            require::any_api("create_api"),
            require::api_all("api_1", &["read_key", "read_api"]),
            require::identity(Some("id_1"), "read_identity"),
            require::identity(None, "create_identity"),
            require::rbac(&["create_role", "create_permission"]),
            require::ratelimit(Some("rlns_1"), "limit"),
            require::ratelimit(None, "read_override"),
            require::rbac_all(&["add_permission_to_role", "remove_permission_from_role"]),
            require::each_api(&["api_1".into(), "api_2".into()], "read_key"),
            require::audit("read_log"),
        ];
        for q in &queries {
            assert!(q.is_satisfied_by(&["*"]), "{q:?}");
            assert!(!q.is_satisfied_by(&["api.*"]), "{q:?}");
        }
    }

    #[test]
    fn builders_use_upstreams_names() {
        assert_eq!(
            require::api("api_1", "read_key"),
            PermissionQuery::any_of(["*", "api.*.read_key", "api.api_1.read_key"])
        );
        assert!(require::identity(Some("prod"), "read_identity")
            .is_satisfied_by(&["identity.prod.read_identity"]));
        assert!(require::rbac(&["create_role", "create_permission"])
            .is_satisfied_by(&["rbac.*.create_permission"]));
        let list = require::api_all("api_1", &["read_key", "read_api"]);
        assert!(list.is_satisfied_by(&["api.*.read_key", "api.api_1.read_api"]));
        assert!(!list.is_satisfied_by(&["api.*.read_key"]));
        assert!(require::ratelimit(Some("ns"), "limit").is_satisfied_by(&["ratelimit.ns.limit"]));
        use crate::domain::rbac::LinkKind;
        assert_eq!(
            require::link(LinkKind::Permission, "add"),
            PermissionQuery::any_of(["*", "rbac.*.add_permission_to_key"])
        );
        assert_eq!(
            require::link(LinkKind::Role, "remove"),
            PermissionQuery::any_of(["*", "rbac.*.remove_role_from_key"])
        );
        assert!(require::link(LinkKind::Role, "create").is_satisfied_by(&["rbac.*.create_permission"]));
        let both = require::rbac_all(&["add_permission_to_role", "remove_permission_from_role"]);
        assert!(
            both.is_satisfied_by(&["rbac.*.add_permission_to_role", "rbac.*.remove_permission_from_role"])
        );
        assert!(!both.is_satisfied_by(&["rbac.*.add_permission_to_role"]));
        assert!(require::audit("read_log").is_satisfied_by(&["audit.*.read_log"]));
        let each = require::each_api(&["api_1".into(), "api_2".into()], "read_key");
        assert!(each.is_satisfied_by(&["api.*.read_key"]));
        assert!(each.is_satisfied_by(&["api.api_1.read_key", "api.api_2.read_key"]));
        assert!(!each.is_satisfied_by(&["api.api_1.read_key"]));
    }
}
