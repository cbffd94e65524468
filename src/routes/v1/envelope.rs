//! The one mapping from service errors to the v1 error envelope
//! (`{"error":{"code","docs","message","requestId"}}` with upstream's code → status table).

use crate::api::v1::common::{ErrorCode, ErrorEnvelope};
use crate::domain::verify::Denial;
use crate::http;
use crate::service::Error;

/// The v1 code and message of a service error. keygate's own failures (database, limiters,
/// anything internal) get a generic message naming the request id: their detail is logged under
/// that id, never sent.
pub fn code_and_message(e: &Error, request_id: &str) -> (ErrorCode, String) {
    match e {
        Error::BadRequest(m) | Error::QuerySyntax(m) => (ErrorCode::BadRequest, m.clone()),
        Error::Invalid(v) => (ErrorCode::BadRequest, v.to_string()),
        Error::Unauthenticated(a) => (ErrorCode::Unauthorized, a.message().to_string()),
        Error::Unauthorized(m) => (ErrorCode::Unauthorized, m.clone()),
        Error::Forbidden(m) => (ErrorCode::Forbidden, m.clone()),
        Error::KeyDenied(d) => {
            let (code, message) = match d {
                Denial::Disabled => (ErrorCode::Disabled, "the key is disabled"),
                Denial::Forbidden => (ErrorCode::Forbidden, "the key is not allowed here"),
                Denial::Expired => (ErrorCode::Expired, "the key has expired"),
                Denial::InsufficientPermissions => (ErrorCode::InsufficientPermissions, "unauthorized"),
                Denial::RateLimited => (ErrorCode::RateLimited, "the key is rate limited"),
                Denial::UsageExceeded => (ErrorCode::UsageExceeded, "the key has no usage left"),
            };
            (code, message.to_string())
        }
        Error::InsufficientPermissions(m) => (ErrorCode::InsufficientPermissions, m.clone()),
        Error::NotFound(_, m) | Error::Gone(m) => (ErrorCode::NotFound, m.clone()),
        Error::Conflict(_, m) => (ErrorCode::Conflict, m.clone()),
        Error::PreconditionFailed(m) => (ErrorCode::PreconditionFailed, m.clone()),
        Error::DeleteProtected(m) => (ErrorCode::DeleteProtected, m.clone()),
        Error::PayloadTooLarge(m) => (ErrorCode::PayloadTooLarge, m.clone()),
        Error::Store(_) | Error::Limiter(_) | Error::Internal(_) => (
            ErrorCode::InternalServerError,
            format!("Something went wrong on keygate's side; the details are logged under request id {request_id}"),
        ),
    }
}

/// The error response (`Unkey-Request-Id` is added by the caller). keygate's own failures are
/// logged with their detail and stable code.
pub fn error(e: &Error, request_id: &str, pretty: bool) -> worker::Result<http::Answer> {
    let (code, message) = code_and_message(e, request_id);
    if code == ErrorCode::InternalServerError {
        worker::console_error!("{request_id}: {} ({e})", e.code());
    }
    http::json(&ErrorEnvelope::new(code, message, request_id), code.status(), pretty)
}

/// 405 for a known path with another method: `Allow` lists the methods it has.
pub fn method_not_allowed(allow: &str, request_id: &str, pretty: bool) -> worker::Result<http::Answer> {
    let code = ErrorCode::MethodNotAllowed;
    let message = format!("method not allowed, use {allow}");
    http::json_with(
        &ErrorEnvelope::new(code, message, request_id),
        code.status(),
        pretty,
        &[("Allow", allow)],
    )
}
