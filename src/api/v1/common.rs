//! Shapes shared by every route: the error envelope, the empty object, nullable patches.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::domain::patch::Patch;
use crate::domain::refill::Refill;

/// Every error code of the v1 API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    InsufficientPermissions,
    Disabled,
    UsageExceeded,
    Expired,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    DeleteProtected,
    RateLimited,
    /// keygate: a request body over the documented limit (1 MiB).
    PayloadTooLarge,
    InternalServerError,
}

impl ErrorCode {
    /// The HTTP status upstream sends with each code (UNAUTHORIZED is 403).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized
            | ErrorCode::Forbidden
            | ErrorCode::InsufficientPermissions
            | ErrorCode::Disabled
            | ErrorCode::UsageExceeded
            | ErrorCode::Expired => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PreconditionFailed | ErrorCode::DeleteProtected => 412,
            ErrorCode::RateLimited => 429,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::InternalServerError => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            ErrorCode::Disabled => "DISABLED",
            ErrorCode::UsageExceeded => "USAGE_EXCEEDED",
            ErrorCode::Expired => "EXPIRED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::PreconditionFailed => "PRECONDITION_FAILED",
            ErrorCode::DeleteProtected => "DELETE_PROTECTED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// Where the `docs` field of an error points.
pub const ERROR_DOCS_BASE: &str = "https://unkey.dev/docs/api-reference/errors/code/";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub docs: String,
    pub message: String,
    pub request_id: String,
}

/// `{"error": {"code", "docs", "message", "requestId"}}`
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

impl ErrorEnvelope {
    pub fn new(code: ErrorCode, message: impl Into<String>, request_id: impl Into<String>) -> Self {
        ErrorEnvelope {
            error: ErrorBody {
                code,
                docs: format!("{ERROR_DOCS_BASE}{}", code.as_str()),
                message: message.into(),
                request_id: request_id.into(),
            },
        }
    }
}

/// The `{}` body of routes that answer nothing else.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}

/// How often credits refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Daily,
    Monthly,
}

/// A refill as requested (createKey, updateKey, migrations, identity credits).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefillRequest {
    pub interval: RefillInterval,
    /// The balance is set to this amount at each refill (if it is below it).
    #[schemars(range(min = 1))]
    pub amount: i64,
    /// Day of the month of monthly refills (1..31, clamped to the month's last day); default 1.
    /// Must be absent for daily refills.
    #[schemars(range(min = 1, max = 31))]
    pub refill_day: Option<i64>,
}

impl RefillRequest {
    /// The refill as the services take it.
    pub fn refill(&self) -> Refill {
        Refill {
            amount: self.amount,
            monthly: self.interval == RefillInterval::Monthly,
            day: self.refill_day,
        }
    }

    /// The stored `refill_day`: NULL for daily refills, else the day (default 1).
    pub fn stored_day(&self) -> Option<i64> {
        self.refill().stored_day()
    }
}

/// A refill as returned (getKey, listKeys, identities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefillResponse {
    pub interval: RefillInterval,
    pub amount: i64,
    /// `null` for daily refills.
    pub refill_day: Option<i64>,
    /// When the balance was last refilled (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refill_at: Option<i64>,
}

impl RefillResponse {
    /// From stored columns: present only when the amount is set and non-zero; monthly when the
    /// day is set and non-zero.
    pub fn from_columns(amount: Option<i64>, day: Option<i64>, last_refill_at: Option<i64>) -> Option<Self> {
        let amount = amount.filter(|a| *a != 0)?;
        let day = day.filter(|d| *d != 0);
        Some(RefillResponse {
            interval: if day.is_some() { RefillInterval::Monthly } else { RefillInterval::Daily },
            amount,
            refill_day: day,
            last_refill_at,
        })
    }
}

/// Upstream's `meta`: any JSON object.
pub use crate::domain::Meta;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validate::{parse, Source};
    use serde_json::json;

    #[derive(Debug, Deserialize, JsonSchema)]
    struct Update {
        #[serde(default)]
        name: Patch<String>,
        value: Patch<i64>,
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let u: Update = parse(json!({"value": null}), Source::Json).expect("valid");
        assert_eq!(u.name, Patch::Absent);
        assert_eq!(u.value, Patch::Null);
        let u: Update = parse(json!({"name": null, "value": 3}), Source::Json).expect("valid");
        assert_eq!(u.name, Patch::Null);
        assert_eq!(u.value, Patch::Value(3));
        let u: Update = parse(json!({"name": "x", "value": 3}), Source::Json).expect("valid");
        assert_eq!(u.name, Patch::Value("x".into()));
    }

    #[test]
    fn patch_without_default_is_required_but_nullable() {
        let e = parse::<Update>(json!({}), Source::Json).map_err(|e| e.to_string());
        assert_eq!(e.err(), Some("value: Required".to_string()));
        let e = parse::<Update>(json!({"value": "x"}), Source::Json).map_err(|e| e.to_string());
        assert_eq!(e.err(), Some("value: Expected number, received string".to_string()));
    }

    #[test]
    fn refill_columns_round_trip() {
        let monthly = RefillRequest { interval: RefillInterval::Monthly, amount: 100, refill_day: None };
        assert_eq!(monthly.stored_day(), Some(1));
        let daily = RefillRequest { interval: RefillInterval::Daily, amount: 100, refill_day: None };
        assert_eq!(daily.stored_day(), None);
        assert_eq!(RefillResponse::from_columns(None, Some(1), None), None);
        assert_eq!(RefillResponse::from_columns(Some(0), None, None), None);
        let r = RefillResponse::from_columns(Some(50), Some(15), Some(7)).expect("refill");
        assert_eq!(
            (r.interval, r.amount, r.refill_day, r.last_refill_at),
            (RefillInterval::Monthly, 50, Some(15), Some(7))
        );
        let r = RefillResponse::from_columns(Some(50), None, None).expect("refill");
        assert_eq!(
            serde_json::to_value(r).expect("json"),
            json!({"interval": "daily", "amount": 50, "refillDay": null})
        );
    }

    #[test]
    fn status_table() {
        assert_eq!(ErrorCode::Unauthorized.status(), 403);
        assert_eq!(ErrorCode::DeleteProtected.status(), 412);
        assert_eq!(ErrorCode::RateLimited.status(), 429);
        let env = ErrorEnvelope::new(ErrorCode::NotFound, "x", "req_1");
        let v = serde_json::to_value(env).expect("json");
        assert_eq!(v["error"]["code"], "NOT_FOUND");
        assert_eq!(v["error"]["requestId"], "req_1");
        assert!(v["error"]["docs"].as_str().is_some_and(|d| d.ends_with("/NOT_FOUND")));
    }
}
