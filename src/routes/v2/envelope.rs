//! The one mapping from service errors to the v2 error envelope
//! (`{"meta":{"requestId"},"error":{title, detail, status, type, errors?}}`, v2-api.md §1.6–1.7).

use crate::api::v2::{ErrorDetails, ErrorEnvelope, FieldError, ResponseMeta};
use crate::domain::verify::Denial;
use crate::http::{self, Incoming};
use crate::service::{AuthFailure, Error, Resource};

/// Status, title and the `<system>/<category>/<code>` of `type`.
fn classify(e: &Error) -> (u16, &'static str, String) {
    let code = |s: &str| s.to_string();
    match e {
        Error::BadRequest(_) | Error::Invalid(_) => {
            (400, "Bad Request", code("unkey/application/invalid_input"))
        }
        Error::QuerySyntax(_) => {
            (400, "Bad Request", code("user/bad_request/permissions_query_syntax_error"))
        }
        Error::Unauthenticated(AuthFailure::Missing) => {
            (400, "Bad Request", code("unkey/authentication/missing"))
        }
        Error::Unauthenticated(AuthFailure::Malformed) => {
            (400, "Bad Request", code("unkey/authentication/malformed"))
        }
        Error::Unauthenticated(_) => (401, "Unauthorized", code("unkey/authentication/key_not_found")),
        Error::Forbidden(_) => (403, "Workspace is disabled", code("unkey/authorization/workspace_disabled")),
        Error::KeyDenied(Denial::Disabled) => {
            (403, "Key is disabled", code("unkey/authorization/key_disabled"))
        }
        Error::KeyDenied(_) => (403, "Forbidden", code("unkey/authorization/forbidden")),
        Error::Unauthorized(_) | Error::InsufficientPermissions(_) => {
            (403, "Insufficient Permissions", code("unkey/authorization/insufficient_permissions"))
        }
        Error::NotFound(resource, _) => {
            (404, "Not Found", format!("unkey/data/{}_not_found", resource.noun()))
        }
        Error::Conflict(resource, _) => {
            (409, "Conflicting Resource", format!("unkey/data/{}_already_exists", resource.noun()))
        }
        Error::Gone(_) => (410, "Resource Gone", code("unkey/data/ratelimit_namespace_gone")),
        Error::PreconditionFailed(_) => {
            (412, "Precondition Failed", code("unkey/application/precondition_failed"))
        }
        Error::DeleteProtected(_) => {
            (412, "Resource is protected", code("unkey/application/protected_resource"))
        }
        Error::PayloadTooLarge(_) => (413, "Payload Too Large", code("unkey/application/request_too_large")),
        Error::Store(_) | Error::Limiter(_) | Error::Internal(_) => {
            (500, "Internal Server Error", code("unkey/application/unexpected_error"))
        }
    }
}

/// The `NotFound` a permission failure is masked as (createKey, whoami, apis.listKeys,
/// ratelimit.getOverride: a caller without rights learns nothing about the resource).
pub fn mask<T>(result: Result<T, Error>, resource: Resource) -> Result<T, Error> {
    result.map_err(|e| match e {
        Error::InsufficientPermissions(_) | Error::Unauthorized(_) => {
            Error::not_found(resource, format!("The specified {} was not found.", resource.noun()))
        }
        e => e,
    })
}

/// `application/problem+json` when the client asks for it (`Accept` naming it, `application/*`
/// or `*/*`), as upstream; validation errors are always `application/json`.
fn problem_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',')
            .map(|t| t.split(';').next().unwrap_or("").trim())
            .any(|t| t.eq_ignore_ascii_case("application/problem+json") || t == "application/*" || t == "*/*")
    })
}

/// The error response.
pub fn error(e: &Error, incoming: &Incoming) -> worker::Result<http::Answer> {
    let (status, title, code) = classify(e);
    if status == 500 {
        worker::console_error!("{}: {} ({})", incoming.request_id, e, e.code());
    }
    let errors = (status == 400).then(|| match e {
        Error::Invalid(v) => vec![FieldError {
            location: if v.path.is_empty() { "body".into() } else { format!("body.{}", v.path) },
            message: v.message.clone(),
        }],
        _ => Vec::new(),
    });
    let body = ErrorEnvelope {
        meta: ResponseMeta { request_id: incoming.request_id.clone() },
        error: ErrorDetails {
            title: title.into(),
            // a 500 names no internals (they are logged above), only the request to look for
            detail: if status == 500 {
                format!(
                    "Something went wrong on keygate's side; the details are logged under request id {}",
                    incoming.request_id
                )
            } else {
                e.to_string()
            },
            status,
            r#type: format!("https://unkey.com/docs/errors/{code}"),
            errors,
        },
    };
    let mut resp = http::json(&body, status, incoming.pretty)?;
    if !matches!(e, Error::Invalid(_)) && problem_json(incoming.accept()) {
        resp.set("Content-Type", "application/problem+json");
    }
    Ok(resp)
}
