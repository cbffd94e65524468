//! Wire types of the `ratelimits` routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Meta;
use crate::domain::limits::{MAX_NAME, MAX_RATE_DURATION_MS, MAX_RATE_LIMIT};

fn default_namespace() -> String {
    "default".to_string()
}

fn one() -> i64 {
    1
}

fn hundred() -> i64 {
    100
}

/// A resource the limited request is about to access (accepted, not stored).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
    pub meta: Option<Meta>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitRequest {
    /// Groups limits; created on first use when the root key may create namespaces.
    #[serde(default = "default_namespace")]
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub namespace: String,
    /// Who is limited: a user id, an email, an ip, ...
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub identifier: String,
    /// How many requests may pass in a window.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = MAX_RATE_LIMIT))]
    pub limit: i64,
    /// The window in milliseconds (at most 30 days).
    #[schemars(range(min = 1000, max = MAX_RATE_DURATION_MS))]
    pub duration: i64,
    /// Tokens this request takes; 0 reads the current state without counting.
    #[serde(default = "one")]
    #[schemars(range(min = 0))]
    pub cost: i64,
    /// Accepted for compatibility; keygate always counts exactly before answering.
    #[serde(default, rename = "async")]
    pub is_async: bool,
    pub meta: Option<Meta>,
    pub resources: Option<Vec<Resource>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitResponse {
    /// Whether the request may pass.
    pub success: bool,
    /// The limit that applied (an override's, if one matched).
    pub limit: i64,
    /// Tokens left in the current window.
    pub remaining: i64,
    /// When the current window ends (unix ms).
    pub reset: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetOverrideRequest {
    /// Either `namespaceId` or `namespaceName` is required.
    #[schemars(length(max = MAX_NAME))]
    pub namespace_id: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub namespace_name: Option<String>,
    /// The identifier, or a pattern where `*` matches any characters (e.g. `user_*`).
    #[schemars(length(min = 3, max = MAX_NAME))]
    pub identifier: String,
    #[schemars(range(min = 0, max = MAX_RATE_LIMIT))]
    pub limit: i64,
    /// The window in milliseconds (at most 30 days).
    #[schemars(range(min = 1000, max = MAX_RATE_DURATION_MS))]
    pub duration: i64,
    #[serde(default, rename = "async")]
    pub is_async: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetOverrideResponse {
    pub override_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetOverrideQuery {
    #[schemars(length(max = MAX_NAME))]
    pub namespace_id: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub namespace_name: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub identifier: String,
}

/// An override as returned by getOverride and listOverrides.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Override {
    pub id: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    #[serde(rename = "async")]
    pub is_async: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOverrideRequest {
    #[schemars(length(max = MAX_NAME))]
    pub namespace_id: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub namespace_name: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub identifier: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListOverridesQuery {
    #[schemars(length(max = MAX_NAME))]
    pub namespace_id: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub namespace_name: Option<String>,
    #[serde(default = "hundred")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: i64,
    /// The `cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListOverridesResponse {
    pub overrides: Vec<Override>,
    /// All live overrides of the namespace.
    pub total: i64,
    /// The id of the last override returned; absent when the page is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validate::{parse, Source};
    use serde_json::{json, Value};

    fn limit_err(v: Value) -> Option<String> {
        parse::<LimitRequest>(v, Source::Json).err().map(|e| e.to_string())
    }

    #[test]
    fn limit_defaults_and_bounds() {
        let r: LimitRequest =
            parse(json!({"identifier": "u", "limit": 1, "duration": 1000}), Source::Json).expect("valid");
        assert_eq!((r.namespace.as_str(), r.cost, r.is_async), ("default", 1, false));
        let r: LimitRequest = parse(
            json!({"namespace": "ns", "identifier": "u", "limit": 5, "duration": 60000, "cost": 0, "async": true,
                   "meta": {"a": 1}, "resources": [{"type": "project", "id": "p_1", "name": "x"}]}),
            Source::Json,
        )
        .expect("valid");
        assert_eq!((r.namespace.as_str(), r.cost, r.is_async), ("ns", 0, true));
        assert_eq!(r.resources.map(|v| v[0].kind.clone()), Some("project".into()));
        let base = json!({"identifier": "u", "limit": 1, "duration": 1000});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        assert_eq!(limit_err(with("limit", json!(0))), Some("limit: Number must be greater than 0".into()));
        assert_eq!(
            limit_err(with("duration", json!(999))),
            Some("duration: Number must be greater than or equal to 1000".into())
        );
        assert_eq!(
            limit_err(with("cost", json!(-1))),
            Some("cost: Number must be greater than or equal to 0".into())
        );
        assert_eq!(
            limit_err(with("identifier", json!(""))),
            Some("identifier: String must contain at least 1 character(s)".into())
        );
        assert_eq!(
            limit_err(with("limit", json!(1.5))),
            Some("limit: Expected integer, received float".into())
        );
        assert_eq!(limit_err(json!({"limit": 1, "duration": 1000})), Some("identifier: Required".into()));
    }

    #[test]
    fn override_bounds() {
        let ok: SetOverrideRequest = parse(
            json!({"namespaceName": "n", "identifier": "abc", "limit": 0, "duration": 1000}),
            Source::Json,
        )
        .expect("valid");
        assert!(!ok.is_async);
        let e = parse::<SetOverrideRequest>(
            json!({"identifier": "ab", "limit": 0, "duration": 1000}),
            Source::Json,
        );
        assert_eq!(
            e.err().map(|e| e.to_string()),
            Some("identifier: String must contain at least 3 character(s)".into())
        );
        let q: ListOverridesQuery = parse(json!({"namespaceId": "rlns_1"}), Source::Query).expect("valid");
        assert_eq!(q.limit, 100);
        let e = parse::<ListOverridesQuery>(json!({"limit": "0"}), Source::Query);
        assert_eq!(
            e.err().map(|e| e.to_string()),
            Some("limit: Number must be greater than or equal to 1".into())
        );
    }

    #[test]
    fn override_serialises_async() {
        let o = Override {
            id: "rlor_1".into(),
            identifier: "u_*".into(),
            limit: 1,
            duration: 1000,
            is_async: None,
        };
        assert_eq!(
            serde_json::to_value(o).expect("json"),
            json!({"id": "rlor_1", "identifier": "u_*", "limit": 1, "duration": 1000, "async": null})
        );
    }
}
