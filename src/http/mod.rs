//! HTTP plumbing shared by every wire version: what a request carries (request id, caller IP,
//! user agent, bearer token, `?pretty`), body and query extraction, JSON responses and CORS.
//! Nothing here knows a route or an envelope.

mod body;
mod response;

pub use body::{body, declared_too_large, query, BodyError, MAX_BODY_BYTES};
pub use response::{finish, json, json_with, method_not_allowed, not_found, preflight};

use worker::{Method, Request};

use crate::domain::ids::{new_id, IdKind};

/// What keygate reads from every request before routing it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub request_id: String,
    pub method: Method,
    pub path: String,
    /// `?pretty` was given.
    pub pretty: bool,
    /// `CF-Connecting-IP` (set by Cloudflare); `True-Client-IP` first only when the deployment
    /// trusts it (see [`Incoming::read`]).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The bearer token of `Authorization` (a raw token without "Bearer " works too).
    pub token: Option<String>,
    /// The `Authorization` header as sent (v2 insists on `Bearer <token>`).
    pub authorization: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    header_of(req.headers(), name)
}

fn header_of(headers: &worker::Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten().filter(|v| !v.is_empty())
}

/// The request's method. worker-rs reads a method it does not know (e.g. `QUERY`) as GET; keygate
/// reads it as REPORT instead, a method no route has, so it is a 405 (or 404), never a GET.
fn method(req: &Request) -> Method {
    let raw = req.inner().method();
    match Method::from(raw.clone()) {
        m if m.as_ref().eq_ignore_ascii_case(&raw) => m,
        _ => Method::Report,
    }
}

/// The decoded name/value pairs of a URL's query string (read without parsing the whole URL).
fn query_pairs(url: &str) -> form_urlencoded::Parse<'_> {
    let query = url.split('#').next().and_then(|u| u.split_once('?')).map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
}

/// The token of an `Authorization` header value.
fn bearer(authorization: Option<String>) -> Option<String> {
    let h = authorization?;
    let h = h.trim();
    let token = h.strip_prefix("Bearer ").unwrap_or(h).trim();
    (!token.is_empty()).then(|| token.to_string())
}

impl Incoming {
    /// Reads what keygate needs from `req`. The caller IP is `CF-Connecting-IP`, which Cloudflare
    /// sets on every request; `True-Client-IP` is whatever a client sends on ordinary zones and
    /// workers.dev, so it is read (first) only with `trust_true_client_ip`, for zones where
    /// Cloudflare fills it (Enterprise).
    pub fn read(req: &Request, now: i64, trust_true_client_ip: bool) -> worker::Result<Incoming> {
        let headers = req.headers();
        let header = |name| header_of(headers, name);
        let true_client_ip = || header("True-Client-IP").filter(|_| trust_true_client_ip);
        let authorization = header("Authorization");
        Ok(Incoming {
            request_id: new_id(IdKind::Request, now).unwrap_or_else(|_| format!("req_{now}")),
            method: method(req),
            path: req.path(),
            pretty: query_pairs(&req.inner().url()).any(|(k, _)| k == "pretty"),
            ip: true_client_ip().or_else(|| header("CF-Connecting-IP")),
            user_agent: header("User-Agent"),
            token: bearer(authorization.clone()),
            authorization,
            accept: header("Accept"),
        })
    }
}
