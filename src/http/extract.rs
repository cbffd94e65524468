//! JSON extraction: body or query string → `serde_json::Value` → schema validation → typed input.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use worker::{Request, Response};

use super::{ApiError, ApiResult};
use crate::domain::validate::{parse, Source};

/// The JSON body; an empty body counts as `{}`.
pub async fn body(req: &mut Request) -> ApiResult<Value> {
    let text = req.text().await.map_err(|_| ApiError::bad_request("Malformed JSON in request body"))?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(&text).map_err(|_| ApiError::bad_request("Malformed JSON in request body"))
}

/// The query string as an object of strings (a repeated name becomes an array).
pub fn query(req: &Request) -> ApiResult<Value> {
    let url = req.url()?;
    let mut map = Map::new();
    for (k, v) in url.query_pairs() {
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
    Ok(Value::Object(map))
}

/// Extracts the typed input of a route: the query string for GET, the JSON body otherwise.
pub async fn input<T: DeserializeOwned + JsonSchema + 'static>(
    req: &mut Request,
    is_get: bool,
) -> ApiResult<T> {
    let (value, source) =
        if is_get { (query(req)?, Source::Query) } else { (body(req).await?, Source::Json) };
    Ok(parse::<T>(value, source)?)
}

/// A 200 JSON response.
pub fn json<T: Serialize>(value: &T, pretty: bool) -> ApiResult<Response> {
    let text = if pretty { serde_json::to_string_pretty(value)? } else { serde_json::to_string(value)? };
    let mut resp = Response::ok(text)?;
    resp.headers_mut().set("Content-Type", "application/json")?;
    Ok(resp)
}
