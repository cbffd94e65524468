//! Responses: JSON (optionally pretty), the plain 404, CORS.

use serde::Serialize;
use serde_json::Value;
use worker::{Request, Response};

use super::header;

/// A JSON response with `status`.
pub fn json<T: Serialize>(value: &T, status: u16, pretty: bool) -> worker::Result<Response> {
    json_with(value, status, pretty, &[])
}

/// A JSON response with `status` and extra headers. Each response type has one serializer (to
/// compact text); `?pretty` re-indents that text.
pub fn json_with<T: Serialize>(
    value: &T,
    status: u16,
    pretty: bool,
    headers: &[(&str, &str)],
) -> worker::Result<Response> {
    json_text(serde_json::to_string(value), status, pretty, headers)
}

#[inline(never)]
fn json_text(
    text: serde_json::Result<String>,
    status: u16,
    pretty: bool,
    headers: &[(&str, &str)],
) -> worker::Result<Response> {
    let text = text.map_err(|e| worker::Error::RustError(e.to_string()))?;
    let text = if pretty {
        serde_json::from_str::<Value>(&text)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .map_err(|e| worker::Error::RustError(e.to_string()))?
    } else {
        text
    };
    let mut resp = Response::ok(text)?.with_status(status);
    let h = resp.headers_mut();
    h.set("Content-Type", "application/json")?;
    for (name, value) in headers {
        h.set(name, value)?;
    }
    Ok(resp)
}

/// The plain-text 404 of unknown paths and methods (upstream's framework default).
pub fn not_found() -> worker::Result<Response> {
    Response::error("404 Not Found", 404)
}

/// The plain-text 405 of a known path asked with another method.
pub fn method_not_allowed(allow: &str) -> worker::Result<Response> {
    let mut resp = Response::error("Method Not Allowed", 405)?;
    resp.headers_mut().set("Allow", allow)?;
    Ok(resp)
}

/// The answer to a CORS preflight.
pub fn preflight(req: &Request) -> worker::Result<Response> {
    let mut resp = Response::empty()?.with_status(204);
    let h = resp.headers_mut();
    h.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")?;
    h.set(
        "Access-Control-Allow-Headers",
        &header(req, "Access-Control-Request-Headers").unwrap_or_else(|| "*".into()),
    )?;
    h.set("Access-Control-Max-Age", "86400")?;
    Ok(resp)
}

/// Every response carries the request id and CORS headers.
pub fn finish(mut resp: Response, request_id: &str) -> worker::Result<Response> {
    let headers = resp.headers_mut();
    headers.set("Unkey-Request-Id", request_id)?;
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set("Access-Control-Expose-Headers", "Unkey-Request-Id, Idempotent-Replayed")?;
    Ok(resp)
}
