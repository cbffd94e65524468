//! The v2 wire types (upstream Unkey v2 shapes, v2-api.md §2–4) of every route, and v2's OpenAPI
//! document. Every request refuses unknown fields (`deny_unknown_fields`, which the schema states
//! as `additionalProperties: false`); optional response fields are omitted, never `null`.

pub mod analytics;
pub mod apis;
pub mod identities;
pub mod keys;
pub mod permissions;
pub mod ratelimit;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::no_refinement;
use crate::api::openapi::{document, response_schema, DocInfo, RouteDoc};
pub use crate::domain::patch::Patch;
pub use crate::domain::Meta;

/// Key, api and other resource ids.
pub const ID_PATTERN: &str = r"^[a-zA-Z0-9_]+$";
/// External ids of identities.
pub const EXTERNAL_ID_PATTERN: &str = r"^[a-zA-Z0-9_.-]+$";
/// Permission slugs.
pub const SLUG_PATTERN: &str = r"^[a-zA-Z0-9_:\-\.\*]+$";

/// `{"requestId": "req_…"}`, in every response.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMeta {
    pub request_id: String,
}

/// A response body: its `meta` is filled in by the route table.
pub trait Reply: Serialize {
    fn meta(&mut self) -> &mut ResponseMeta;
}

/// `{"meta": …, "data": …}`
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Data<T> {
    pub meta: ResponseMeta,
    pub data: T,
}

impl<T> Data<T> {
    pub fn of(data: T) -> Self {
        Data { meta: ResponseMeta::default(), data }
    }
}

impl<T: Serialize> Reply for Data<T> {
    fn meta(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }
}

/// How to get the next page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Send this as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `{"meta": …, "data": [...], "pagination": {cursor?, hasMore}}`
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Page<T> {
    pub meta: ResponseMeta,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows in id order (the extra row only tells that there is
    /// more; its id is the next page's inclusive cursor).
    pub fn of<R>(mut rows: Vec<R>, limit: i64, id: impl Fn(&R) -> String, map: impl FnMut(R) -> T) -> Self {
        let limit = limit.max(0) as usize;
        let cursor = rows.get(limit).map(&id);
        rows.truncate(limit);
        Page {
            meta: ResponseMeta::default(),
            data: rows.into_iter().map(map).collect(),
            pagination: Pagination { has_more: cursor.is_some(), cursor },
        }
    }
}

impl<T: Serialize> Reply for Page<T> {
    fn meta(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }
}

/// `{"meta": …}` alone (identities.deleteIdentity).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct MetaOnly {
    pub meta: ResponseMeta,
}

impl Reply for MetaOnly {
    fn meta(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }
}

/// `{}`
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Empty {}

/// One problem with a request (400 only).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FieldError {
    /// Where: `body`, `body.<dotted.path>`, or a header.
    pub location: String,
    pub message: String,
}

/// RFC 7807-style error details.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErrorDetails {
    pub title: String,
    pub detail: String,
    pub status: u16,
    /// `https://unkey.com/docs/errors/<system>/<category>/<code>`
    pub r#type: String,
    /// Present (possibly empty) on every 400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// `{"meta": {"requestId"}, "error": {title, detail, status, type, errors?}}`
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErrorEnvelope {
    pub meta: ResponseMeta,
    pub error: ErrorDetails,
}

/// A credits refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Daily,
    Monthly,
}

/// How credits refill: to `amount` every day, or every month on `refillDay`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct RefillRequest {
    pub interval: RefillInterval,
    #[schemars(range(min = 1))]
    pub amount: i64,
    /// Day of the month (1..31, the month's last day when larger); required for monthly refills.
    #[schemars(range(min = 1, max = 31))]
    pub refill_day: Option<i64>,
}

impl RefillRequest {
    /// v2's rules: monthly needs `refillDay`; daily ignores it.
    pub fn check(&self, path: &str) -> Result<(), String> {
        match (self.interval, self.refill_day) {
            (RefillInterval::Monthly, None) => Err(format!(
                "{path}.refillDay: `refillDay` must be provided when the refill interval is `monthly`."
            )),
            _ => Ok(()),
        }
    }

    /// As the services take it (a daily refill has no day).
    pub fn refill(&self) -> crate::domain::refill::Refill {
        let monthly = self.interval == RefillInterval::Monthly;
        crate::domain::refill::Refill {
            amount: self.amount,
            monthly,
            day: self.refill_day.filter(|_| monthly),
        }
    }
}

/// A refill as returned (`refillDay` for monthly refills only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefillResponse {
    pub interval: RefillInterval,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill_day: Option<i64>,
}

impl RefillResponse {
    /// From stored columns: present when the amount is set and non-zero; monthly when the day is.
    pub fn from_columns(amount: Option<i64>, day: Option<i64>) -> Option<Self> {
        let amount = amount.filter(|a| *a != 0)?;
        let day = day.filter(|d| *d != 0);
        let interval = if day.is_some() { RefillInterval::Monthly } else { RefillInterval::Daily };
        Some(RefillResponse { interval, amount, refill_day: day })
    }
}

/// A balance: `remaining` (`null` = unlimited) and how it refills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditsResponse {
    pub remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillResponse>,
}

impl CreditsResponse {
    pub fn from_columns(remaining: Option<i64>, amount: Option<i64>, day: Option<i64>) -> Self {
        CreditsResponse { remaining, refill: RefillResponse::from_columns(amount, day) }
    }
}

/// A named rate limit to configure on a key or an identity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct RatelimitRequest {
    /// Name of the limit, used again when verifying, e.g. "requests".
    #[schemars(length(min = 3, max = 128))]
    pub name: String,
    /// Requests that may pass in one window.
    #[schemars(range(min = 1))]
    pub limit: i64,
    /// The window in milliseconds.
    #[schemars(range(min = 1000))]
    pub duration: i64,
    /// Checked on every verification (otherwise only when a verification names it).
    pub auto_apply: bool,
}

/// A configured rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatelimitResponse {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

/// The first rate-limit name given twice in one request, as a 400 message.
pub fn duplicate_ratelimits(field: &str, limits: Option<&Vec<RatelimitRequest>>) -> Result<(), String> {
    match crate::domain::identities::first_duplicate(limits.into_iter().flatten().map(|r| r.name.as_str())) {
        Some(name) => Err(format!("{field}: ratelimit \"{name}\" is given more than once")),
        None => Ok(()),
    }
}

/// `meta` as returned: absent when empty or unset.
pub fn meta_out(stored: Option<&str>) -> Option<Meta> {
    crate::domain::parse_meta(stored).filter(|m| !m.is_empty())
}

/// `liveness`
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Liveness {
    pub message: String,
}

no_refinement!(
    Empty,
    apis::CreateApiRequest,
    apis::GetApiRequest,
    apis::ListKeysRequest,
    analytics::GetVerificationsRequest,
    keys::GetKeyRequest,
    keys::WhoamiRequest,
    keys::DeleteKeyRequest,
    keys::RerollKeyRequest,
    keys::KeyPermissionsRequest,
    keys::SetKeyPermissionsRequest,
    keys::KeyRolesRequest,
    keys::SetKeyRolesRequest,
    identities::GetIdentityRequest,
    identities::ListIdentitiesRequest,
    permissions::CreatePermissionRequest,
    permissions::GetPermissionRequest,
    permissions::ListRequest,
    permissions::CreateRoleRequest,
    permissions::GetRoleRequest,
    permissions::SetRolePermissionsRequest,
    ratelimit::LimitRequest,
    ratelimit::MultiLimitRequest,
    ratelimit::SetOverrideRequest,
    ratelimit::OverrideRequest,
    ratelimit::ListOverridesRequest,
);

/// The OpenAPI 3.1 document of the v2 routes.
pub fn openapi(routes: &[RouteDoc]) -> Value {
    document(
        routes,
        &DocInfo {
            title: "keygate v2",
            description: "Unkey-v2-compatible API keys, credits, rate limits, identities and permissions.",
            error_schema: response_schema::<ErrorEnvelope>,
            errors: &[
                ("400", "Bad Request: the request failed validation (errors[] says where)"),
                ("401", "Unauthorized: unknown root key"),
                ("403", "Forbidden: insufficient permissions, disabled key or workspace"),
                ("404", "Not Found"),
                ("409", "Conflicting Resource"),
                ("410", "Resource Gone"),
                ("412", "Precondition Failed"),
                ("500", "Internal Server Error"),
            ],
        },
    )
}
