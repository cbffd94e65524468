//! Wire types of the `identities` routes (v1 §2.5 #28–32) and keygate's identity credits
//! (decisions.md §3).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Meta, Patch, RefillRequest, RefillResponse};
use crate::domain::limits::{MAX_NAME, MAX_RATELIMITS, MAX_RATE_DURATION_MS, MAX_RATE_LIMIT};

/// The environment identities live in unless one is named.
pub const DEFAULT_ENVIRONMENT: &str = "default";

fn default_environment() -> String {
    DEFAULT_ENVIRONMENT.to_string()
}

/// A named rate limit shared by every key of the identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityRatelimit {
    /// The name of this limit, used again when verifying a key, e.g. "tokens".
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub name: String,
    /// How many requests may pass within a window.
    #[schemars(range(min = 1, max = MAX_RATE_LIMIT))]
    pub limit: i64,
    /// The window in milliseconds (at most 30 days).
    #[schemars(range(min = 1000, max = MAX_RATE_DURATION_MS))]
    pub duration: i64,
}

/// Credits shared by every key of the identity (keygate addition).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct CreditsRequest {
    /// The balance.
    #[schemars(range(min = 0))]
    pub remaining: i64,
    /// Refill schedule. On create, absent or `null` means none. On update, absent keeps the
    /// current schedule and `null` removes it.
    #[serde(default)]
    pub refill: Patch<RefillRequest>,
}

/// Credits as returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CreditsResponse {
    pub remaining: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillResponse>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityRequest {
    /// The id of this identity in your system; unique in the workspace.
    #[schemars(length(min = 3, max = MAX_NAME))]
    pub external_id: String,
    /// Metadata returned with verifications of the identity's keys (JSON ≤ 64,000 characters).
    pub meta: Option<Meta>,
    /// Rate limits shared by every key of the identity (at most 50).
    #[schemars(length(max = MAX_RATELIMITS))]
    pub ratelimits: Option<Vec<IdentityRatelimit>>,
    /// Credits shared by every key of the identity.
    pub credits: Option<CreditsRequest>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityResponse {
    pub identity_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetIdentityQuery {
    /// Takes precedence over `externalId`.
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub identity_id: Option<String>,
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub external_id: Option<String>,
    /// The environment `externalId` is looked up in.
    #[serde(default = "default_environment")]
    #[schemars(length(max = MAX_NAME))]
    pub environment: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityResponse {
    pub id: String,
    pub external_id: String,
    /// `{}` when the identity has none.
    pub meta: Meta,
    pub ratelimits: Vec<IdentityRatelimit>,
    /// Absent when the identity has no credits (unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsResponse>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListIdentitiesQuery {
    #[serde(default = "default_environment")]
    #[schemars(length(max = MAX_NAME))]
    pub environment: String,
    /// Page size, 1..100 (default 100).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// The `cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedIdentity {
    pub id: String,
    pub external_id: String,
    pub ratelimits: Vec<IdentityRatelimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsResponse>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListIdentitiesResponse {
    pub identities: Vec<ListedIdentity>,
    /// The id of the last identity returned; absent when the page is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// How many identities the environment holds.
    pub total: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateIdentityRequest {
    /// Takes precedence over `externalId`.
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub identity_id: Option<String>,
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub external_id: Option<String>,
    /// The environment `externalId` is looked up in.
    #[serde(default = "default_environment")]
    #[schemars(length(max = MAX_NAME))]
    pub environment: String,
    /// Replaces the metadata; `null` removes it.
    #[serde(default)]
    pub meta: Patch<Meta>,
    /// Replaces the whole set of rate limits (`[]` removes them all; at most 50).
    #[schemars(length(max = MAX_RATELIMITS))]
    pub ratelimits: Option<Vec<IdentityRatelimit>>,
    /// Sets the credits; `null` removes them (unlimited).
    #[serde(default)]
    pub credits: Patch<CreditsRequest>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteIdentityRequest {
    #[schemars(length(min = 1))]
    pub identity_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1::common::RefillInterval;
    use crate::domain::validate::{parse, Source};
    use serde_json::json;

    fn create(v: serde_json::Value) -> Result<CreateIdentityRequest, String> {
        parse(v, Source::Json).map_err(|e| e.to_string())
    }

    fn update(v: serde_json::Value) -> Result<UpdateIdentityRequest, String> {
        parse(v, Source::Json).map_err(|e| e.to_string())
    }

    #[test]
    fn create_validation_names_the_field() {
        assert_eq!(create(json!({})).err(), Some("externalId: Required".into()));
        assert_eq!(
            create(json!({"externalId": "ab"})).err(),
            Some("externalId: String must contain at least 3 character(s)".into())
        );
        assert_eq!(
            create(json!({"externalId": "abc", "meta": "x"})).err(),
            Some("meta: Expected object, received string".into())
        );
        assert_eq!(
            create(json!({"externalId": "abc", "ratelimits": [{"name": "a", "limit": 0, "duration": 1000}]}))
                .err(),
            Some("ratelimits.0.limit: Number must be greater than or equal to 1".into())
        );
        assert_eq!(
            create(json!({"externalId": "abc", "ratelimits": [{"name": "a", "limit": 1, "duration": 999}]}))
                .err(),
            Some("ratelimits.0.duration: Number must be greater than or equal to 1000".into())
        );
        assert_eq!(
            create(json!({"externalId": "abc", "ratelimits": [{"name": "", "limit": 1, "duration": 1000}]}))
                .err(),
            Some("ratelimits.0.name: String must contain at least 1 character(s)".into())
        );
        assert_eq!(
            create(json!({"externalId": "abc", "credits": {"remaining": -1}})).err(),
            Some("credits.remaining: Number must be greater than or equal to 0".into())
        );
        assert_eq!(
            create(
                json!({"externalId": "abc", "credits": {"remaining": 1, "refill": {"interval": "daily"}}})
            )
            .err(),
            Some("credits.refill.amount: Required".into())
        );
    }

    #[test]
    fn create_accepts_credits_with_refill() {
        let r = create(json!({
            "externalId": "user_1",
            "meta": {"plan": "pro"},
            "credits": {"remaining": 0, "refill": {"interval": "monthly", "amount": 10}}
        }))
        .expect("valid");
        let credits = r.credits.expect("credits");
        assert_eq!(credits.remaining, 0);
        let refill = credits.refill.value().expect("refill");
        assert_eq!(
            (refill.interval, refill.amount, refill.stored_day()),
            (RefillInterval::Monthly, 10, Some(1))
        );
        assert_eq!(r.meta.and_then(|m| m.get("plan").cloned()), Some(json!("pro")));
    }

    #[test]
    fn update_distinguishes_absent_null_and_value() {
        let r = update(json!({"identityId": "id_1"})).expect("valid");
        assert_eq!(r.environment, "default");
        assert!(r.meta.is_absent() && r.credits.is_absent() && r.ratelimits.is_none());
        let r = update(json!({"externalId": "u", "environment": "prod", "meta": null, "credits": null}))
            .expect("valid");
        assert_eq!((r.meta, r.credits, r.environment.as_str()), (Patch::Null, Patch::Null, "prod"));
        let r = update(json!({"identityId": "id_1", "credits": {"remaining": 5, "refill": null}}))
            .expect("valid");
        assert_eq!(r.credits, Patch::Value(CreditsRequest { remaining: 5, refill: Patch::Null }));
        let r = update(json!({"identityId": "id_1", "credits": {"remaining": 5}})).expect("valid");
        assert_eq!(r.credits, Patch::Value(CreditsRequest { remaining: 5, refill: Patch::Absent }));
        assert_eq!(
            update(json!({"identityId": ""})).err(),
            Some("identityId: String must contain at least 1 character(s)".into())
        );
        assert_eq!(
            update(json!({"identityId": "id_1", "credits": {"remaining": 1.5}})).err(),
            Some("credits.remaining: Expected integer, received float".into())
        );
    }

    #[test]
    fn list_query_defaults_and_bounds() {
        let q: ListIdentitiesQuery = parse(json!({}), Source::Query).expect("valid");
        assert_eq!((q.environment.as_str(), q.limit, q.cursor), ("default", None, None));
        let e = parse::<ListIdentitiesQuery>(json!({"limit": "0"}), Source::Query).map_err(|e| e.to_string());
        assert_eq!(e.err(), Some("limit: Number must be greater than or equal to 1".into()));
        let e =
            parse::<ListIdentitiesQuery>(json!({"limit": "101"}), Source::Query).map_err(|e| e.to_string());
        assert_eq!(e.err(), Some("limit: Number must be less than or equal to 100".into()));
    }

    #[test]
    fn responses_omit_absent_credits_and_cursor() {
        let r = IdentityResponse {
            id: "id_1".into(),
            external_id: "u".into(),
            meta: Meta::new(),
            ratelimits: vec![],
            credits: None,
        };
        assert_eq!(
            serde_json::to_value(r).expect("json"),
            json!({"id": "id_1", "externalId": "u", "meta": {}, "ratelimits": []})
        );
        let l = ListIdentitiesResponse { identities: vec![], cursor: None, total: 0 };
        assert_eq!(serde_json::to_value(l).expect("json"), json!({"identities": [], "total": 0}));
        let c =
            CreditsResponse { remaining: 3, refill: RefillResponse::from_columns(Some(5), None, Some(9)) };
        assert_eq!(
            serde_json::to_value(c).expect("json"),
            json!({"remaining": 3, "refill": {"interval": "daily", "amount": 5, "refillDay": null, "lastRefillAt": 9}})
        );
    }
}
