//! Responses: JSON (optionally pretty), the plain 404, CORS. An [`Answer`] is what the worker's
//! entry turns into the runtime's `Response`: it crosses the JS boundary as one string (one
//! decode per request, rather than one per header name and value).

use serde::Serialize;
use serde_json::Value;

use super::{header, Req};

/// A response: status, headers (in order; a later one of the same name replaces an earlier one)
/// and body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, content_type: Option<&'static str>, body: String) -> Answer {
        let headers = content_type.map(|t| ("Content-Type", t.to_string())).into_iter().collect();
        Answer { status, headers, body }
    }

    /// Sets header `name` (replacing one of the same name).
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    /// The answer as `src/app/entry.mjs` reads it. Most answers are JSON with nothing but the
    /// headers every answer carries ([`finish`]): those are `<status> <request id>`, a line
    /// break, the body, and the entry adds the headers from one `Headers` it keeps (copying it
    /// is native; a plain object's properties are read one by one: docs/performance.md).
    /// Any other answer is the status, one `name: value` line per header, an empty line, the
    /// body — HTTP's own layout (a header value never holds a line break: the runtime refuses
    /// one, and keygate's values are ids, numbers and fixed text).
    pub fn into_text(self) -> String {
        if let Some(request_id) = self.plain_json() {
            let mut out = String::with_capacity(8 + request_id.len() + self.body.len());
            out.push_str(&self.status.to_string());
            out.push(' ');
            out.push_str(request_id);
            out.push('\n');
            out.push_str(&self.body);
            return out;
        }
        let size = self.headers.iter().map(|(n, v)| n.len() + v.len() + 3).sum::<usize>();
        let mut out = String::with_capacity(8 + size + self.body.len());
        out.push_str(&self.status.to_string());
        for (name, value) in &self.headers {
            out.push('\n');
            out.push_str(name);
            out.push_str(": ");
            if value.contains(['\n', '\r']) {
                out.extend(value.chars().filter(|c| *c != '\n' && *c != '\r'));
            } else {
                out.push_str(value);
            }
        }
        out.push_str("\n\n");
        out.push_str(&self.body);
        out
    }

    /// The request id, when the headers are exactly a JSON answer's and [`finish`]'s (in the
    /// order they are set) and the id is one word.
    fn plain_json(&self) -> Option<&str> {
        match self.headers.as_slice() {
            [("Content-Type", json), ("Unkey-Request-Id", id), ("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", exposed)]
                if json == JSON
                    && origin == ALLOW_ORIGIN
                    && exposed == EXPOSE_HEADERS
                    && !id.is_empty()
                    && !id.contains([' ', '\n', '\r']) =>
            {
                Some(id)
            }
            _ => None,
        }
    }
}

/// The common headers' values; `src/app/entry.mjs` keeps the same ones in `JSON_HEADERS`
/// (`tests/foundation.test.mjs` checks both forms of an answer).
const JSON: &str = "application/json";
const ALLOW_ORIGIN: &str = "*";
const EXPOSE_HEADERS: &str = "Unkey-Request-Id, Idempotent-Replayed";

/// A JSON response with `status`.
pub fn json<T: Serialize>(value: &T, status: u16, pretty: bool) -> worker::Result<Answer> {
    json_with(value, status, pretty, &[])
}

/// A JSON response with `status` and extra headers. Each response type has one serializer (to
/// compact text); `?pretty` re-indents that text.
pub fn json_with<T: Serialize>(
    value: &T,
    status: u16,
    pretty: bool,
    headers: &[(&'static str, &str)],
) -> worker::Result<Answer> {
    json_text(serde_json::to_string(value), status, pretty, headers)
}

#[inline(never)]
fn json_text(
    text: serde_json::Result<String>,
    status: u16,
    pretty: bool,
    headers: &[(&'static str, &str)],
) -> worker::Result<Answer> {
    let text = text.map_err(|e| worker::Error::RustError(e.to_string()))?;
    let text = if pretty {
        serde_json::from_str::<Value>(&text)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .map_err(|e| worker::Error::RustError(e.to_string()))?
    } else {
        text
    };
    let mut reply = Answer::new(status, Some(JSON), text);
    for (name, value) in headers {
        reply.set(name, *value);
    }
    Ok(reply)
}

const PLAIN_TEXT: Option<&str> = Some("text/plain;charset=UTF-8");

/// The plain-text 404 of unknown paths and methods (upstream's framework default).
pub fn not_found() -> worker::Result<Answer> {
    Ok(Answer::new(404, PLAIN_TEXT, "404 Not Found".into()))
}

/// The plain-text 405 of a known path asked with another method.
pub fn method_not_allowed(allow: &str) -> worker::Result<Answer> {
    let mut reply = Answer::new(405, PLAIN_TEXT, "Method Not Allowed".into());
    reply.set("Allow", allow);
    Ok(reply)
}

/// The answer to a CORS preflight.
pub fn preflight(req: &Req) -> worker::Result<Answer> {
    let mut reply = Answer::new(204, None, String::new());
    reply.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    reply.set(
        "Access-Control-Allow-Headers",
        header(req, "Access-Control-Request-Headers").unwrap_or_else(|| "*".into()),
    );
    reply.set("Access-Control-Max-Age", "86400");
    Ok(reply)
}

/// Every response carries the request id and CORS headers.
pub fn finish(mut reply: Answer, request_id: &str) -> Answer {
    reply.set("Unkey-Request-Id", request_id);
    reply.set("Access-Control-Allow-Origin", ALLOW_ORIGIN);
    reply.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    reply
}
