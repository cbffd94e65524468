//! HTTP plumbing shared by every wire version: what a request carries (request id, caller IP,
//! user agent, bearer token, `?pretty`), body and query extraction, JSON responses and CORS.
//! Nothing here knows a route or an envelope.

mod body;
mod response;

pub use body::{body, query};
pub use response::{finish, json, not_found, preflight};

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
    /// `True-Client-IP` ?? `CF-Connecting-IP`.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The bearer token of `Authorization` (a raw token without "Bearer " works too).
    pub token: Option<String>,
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten().filter(|v| !v.is_empty())
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
    pub fn read(req: &Request, now: i64) -> worker::Result<Incoming> {
        Ok(Incoming {
            request_id: new_id(IdKind::Request, now).unwrap_or_else(|_| format!("req_{now}")),
            method: req.method(),
            path: req.path(),
            pretty: query_pairs(&req.inner().url()).any(|(k, _)| k == "pretty"),
            ip: header(req, "True-Client-IP").or_else(|| header(req, "CF-Connecting-IP")),
            user_agent: header(req, "User-Agent"),
            token: bearer(header(req, "Authorization")),
        })
    }
}
