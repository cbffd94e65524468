//! The errors of the service layer: one enum, a stable code per variant. Each wire version maps
//! them to its envelope once (`routes::v1::envelope` for v1).

use std::fmt;

use crate::domain::rbac::ResolveError;
use crate::domain::validate::ValidationError;
use crate::domain::verify::Denial;
use crate::limiter::LimiterError;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input breaks a rule; the message names the field where there is one.
    BadRequest(String),
    /// No root key was given, or it is unknown.
    Unauthenticated(String),
    /// The caller is known but may not do this (not a root key, an inner right missing).
    Unauthorized(String),
    /// The caller's workspace is disabled.
    Forbidden(String),
    /// A root key that failed its own verification (disabled, expired, ...).
    KeyDenied(Denial),
    /// A root key without the permissions the operation needs.
    InsufficientPermissions(String),
    NotFound(String),
    Conflict(String),
    PreconditionFailed(String),
    DeleteProtected(String),
    /// The request body is larger than keygate reads.
    PayloadTooLarge(String),
    Store(StoreError),
    Limiter(LimiterError),
    /// Anything else that is keygate's fault.
    Internal(String),
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::KeyDenied(_) => "key_denied",
            Error::InsufficientPermissions(_) => "insufficient_permissions",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::PreconditionFailed(_) => "precondition_failed",
            Error::DeleteProtected(_) => "delete_protected",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::Store(e) => e.code(),
            Error::Limiter(e) => e.code(),
            Error::Internal(_) => "internal",
        }
    }

    pub fn bad_request(m: impl Into<String>) -> Self {
        Error::BadRequest(m.into())
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Error::NotFound(m.into())
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Error::Conflict(m.into())
    }
    pub fn precondition(m: impl Into<String>) -> Self {
        Error::PreconditionFailed(m.into())
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Error::Unauthorized(m.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(m)
            | Error::Unauthenticated(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::InsufficientPermissions(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::PreconditionFailed(m)
            | Error::DeleteProtected(m)
            | Error::PayloadTooLarge(m)
            | Error::Internal(m) => f.write_str(m),
            Error::KeyDenied(d) => f.write_str(d.code()),
            Error::Store(e) => write!(f, "{e}"),
            Error::Limiter(e) => write!(f, "{e}"),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<LimiterError> for Error {
    fn from(e: LimiterError) -> Self {
        Error::Limiter(e)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

impl From<ResolveError> for Error {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Unnamed { .. } => Error::BadRequest(e.to_string()),
            ResolveError::UnknownId { .. } | ResolveError::UnknownName { .. } => {
                Error::NotFound(e.to_string())
            }
        }
    }
}

impl From<crate::domain::random::RandomError> for Error {
    fn from(e: crate::domain::random::RandomError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
