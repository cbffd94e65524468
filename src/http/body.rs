//! Request input as JSON: the body (bounded), or the query string.

use serde_json::{Map, Value};

use super::Req;

/// The largest request body keygate reads (1 MiB); larger ones are refused before parsing.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Why a body could not be read as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// More than [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not JSON (or not readable).
    Malformed,
}

/// The JSON body; an empty body counts as `{}`. The size is checked before parsing: a body whose
/// declared `Content-Length` is over the limit was never read (see [`Req`]), one without it is
/// measured as read.
pub fn body(req: &Req) -> Result<Value, BodyError> {
    let text = req.body.as_deref().ok_or(BodyError::TooLarge)?;
    if text.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text).map_err(|_| BodyError::Malformed)
}

/// The query string as an object of strings (a repeated name becomes an array).
pub fn query(req: &Req) -> Value {
    let mut map = Map::new();
    for (k, v) in super::query_pairs(req.url()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    Value::Object(map)
}
