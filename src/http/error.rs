//! The error type of every route, mapped once to the v1 envelope.

use worker::Response;

use crate::api::common::{ErrorCode, ErrorEnvelope};
use crate::domain::random::RandomError;
use crate::domain::validate::ValidationError;
use crate::domain::verify::Denial;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn insufficient_permissions(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InsufficientPermissions, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PreconditionFailed, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalServerError, message)
    }

    /// The error response, `Unkey-Request-Id` is added by the caller.
    pub fn to_response(&self, request_id: &str) -> worker::Result<Response> {
        if self.code == ErrorCode::InternalServerError {
            worker::console_error!("{request_id}: {}", self.message);
        }
        Ok(Response::from_json(&ErrorEnvelope::new(self.code, &self.message, request_id))?
            .with_status(self.code.status()))
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<RandomError> for ApiError {
    fn from(e: RandomError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<Denial> for ApiError {
    /// A root key that failed verification.
    fn from(d: Denial) -> Self {
        let (code, message) = match d {
            Denial::Disabled => (ErrorCode::Disabled, "the key is disabled"),
            Denial::Forbidden => (ErrorCode::Forbidden, "the key is not allowed here"),
            Denial::Expired => (ErrorCode::Expired, "the key has expired"),
            Denial::InsufficientPermissions => (ErrorCode::InsufficientPermissions, "unauthorized"),
            Denial::RateLimited => (ErrorCode::RateLimited, "the key is rate limited"),
            Denial::UsageExceeded => (ErrorCode::UsageExceeded, "the key has no usage left"),
        };
        ApiError::new(code, message)
    }
}
