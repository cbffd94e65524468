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
}
