//! The errors of the service layer: one enum, a stable code per variant. Each wire version maps
//! them to its envelope once (`routes::v1::envelope` for v1).

use std::fmt;

use crate::domain::rbac::{LinkKind, ResolveError};
use crate::domain::validate::ValidationError;
use crate::domain::verify::Denial;
use crate::limiter::LimiterError;
use crate::store::StoreError;

/// What a request names that does not exist (or that the caller may not know of).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Key,
    Api,
    Identity,
    Permission,
    Role,
    Namespace,
    Override,
    Workspace,
    Migration,
}

impl Resource {
    pub fn noun(self) -> &'static str {
        match self {
            Resource::Key => "key",
            Resource::Api => "api",
            Resource::Identity => "identity",
            Resource::Permission => "permission",
            Resource::Role => "role",
            Resource::Namespace => "ratelimit_namespace",
            Resource::Override => "ratelimit_override",
            Resource::Workspace => "workspace",
            Resource::Migration => "migration",
        }
    }
}

/// Why a caller is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials at all.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// No such (live) key.
    UnknownKey,
    /// A key that is not a root key.
    NotRootKey,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "key required",
            AuthFailure::Malformed => "malformed authorization header: expected 'Bearer <root key>'",
            AuthFailure::UnknownKey => "key not found",
            AuthFailure::NotRootKey => "root key required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input breaks a rule; the message names the field where there is one.
    BadRequest(String),
    /// The input breaks a rule of one field (schema validation, names, meta size).
    Invalid(ValidationError),
    /// A v2 permission query (verifyKey `permissions`) that does not parse.
    QuerySyntax(String),
    /// No usable credentials.
    Unauthenticated(AuthFailure),
    /// The caller is known but may not do this (not a root key, an inner right missing).
    Unauthorized(String),
    /// The caller's workspace is disabled.
    Forbidden(String),
    /// A root key that failed its own verification (disabled, expired, ...).
    KeyDenied(Denial),
    /// A root key without the permissions the operation needs.
    InsufficientPermissions(String),
    NotFound(Resource, String),
    /// A resource of this kind already exists (same name, slug or external id).
    Conflict(Resource, String),
    /// The resource was deleted (ratelimit namespaces).
    Gone(String),
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
            Error::Invalid(_) => "invalid_input",
            Error::QuerySyntax(_) => "permissions_query_syntax_error",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::KeyDenied(_) => "key_denied",
            Error::InsufficientPermissions(_) => "insufficient_permissions",
            Error::NotFound(..) => "not_found",
            Error::Conflict(..) => "conflict",
            Error::Gone(_) => "gone",
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
    pub fn not_found(resource: Resource, m: impl Into<String>) -> Self {
        Error::NotFound(resource, m.into())
    }
    pub fn conflict(resource: Resource, m: impl Into<String>) -> Self {
        Error::Conflict(resource, m.into())
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
            | Error::QuerySyntax(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::InsufficientPermissions(m)
            | Error::NotFound(_, m)
            | Error::Conflict(_, m)
            | Error::Gone(m)
            | Error::PreconditionFailed(m)
            | Error::DeleteProtected(m)
            | Error::PayloadTooLarge(m)
            | Error::Internal(m) => f.write_str(m),
            Error::Invalid(e) => write!(f, "{e}"),
            Error::Unauthenticated(a) => f.write_str(a.message()),
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
        Error::Invalid(e)
    }
}

impl From<ResolveError> for Error {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Unnamed { .. } => Error::BadRequest(e.to_string()),
            ResolveError::UnknownId { kind, .. } | ResolveError::UnknownName { kind, .. } => {
                let resource = match kind {
                    LinkKind::Role => Resource::Role,
                    LinkKind::Permission => Resource::Permission,
                };
                Error::NotFound(resource, e.to_string())
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
