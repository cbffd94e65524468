//! Request input as JSON: the body, or the query string.

use serde_json::{Map, Value};
use worker::Request;

/// The body was not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedJson;

/// The JSON body; an empty body counts as `{}`.
pub async fn body(req: &mut Request) -> Result<Value, MalformedJson> {
    let text = req.text().await.map_err(|_| MalformedJson)?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(&text).map_err(|_| MalformedJson)
}

/// The query string as an object of strings (a repeated name becomes an array).
pub fn query(req: &Request) -> Value {
    let mut map = Map::new();
    for (k, v) in super::query_pairs(&req.inner().url()) {
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
