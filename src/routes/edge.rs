//! What every route of every wire version does before its handler: read the input, validate it
//! against the route's schema in the version's OpenAPI document, check the operator token,
//! authenticate the root key.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::api::Refine;
use crate::domain::permissions::PermissionQuery;
use crate::domain::validate::{checked, decode, Source};
use crate::http::{self, Incoming, Req};
use crate::service::auth::{admin_access, authenticate, AdminAccess, Principal};
use crate::service::{Ctx, Error, Result};

/// The parameters of a request path that matches a path template (`{name}` matches one
/// non-empty segment); `None` when it does not match.
pub fn match_path(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    if !template.contains('{') {
        return (template == path).then(Vec::new);
    }
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    let mut params = Vec::new();
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => match ts.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(name) if !ps.is_empty() => params.push((name, ps.to_string())),
                None if ts == ps => {}
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// Reads the input of a route as JSON: the query string for GET, the body otherwise (at most
/// [`http::MAX_BODY_BYTES`], measured before parsing), with the path parameters.
pub fn read_input(req: &Req, is_get: bool, params: Vec<(&'static str, String)>) -> Result<(Value, Source)> {
    let (mut input, source) = if is_get {
        (http::query(req), Source::Query)
    } else {
        let body = http::body(req).map_err(|e| match e {
            http::BodyError::TooLarge => too_large(),
            http::BodyError::Malformed => Error::bad_request("Malformed JSON in request body"),
        })?;
        (body, Source::Json)
    };
    if let Value::Object(map) = &mut input {
        for (name, value) in params {
            map.insert(name.to_string(), Value::String(value));
        }
    }
    Ok((input, source))
}

/// The 413 of a body over [`http::MAX_BODY_BYTES`].
pub fn too_large() -> Error {
    Error::PayloadTooLarge(format!("the request body is larger than {} bytes", http::MAX_BODY_BYTES))
}

thread_local! {
    /// Parsed documents, by the address of their text.
    static DOCUMENTS: RefCell<HashMap<usize, Rc<Value>>> = RefCell::new(HashMap::new());
    /// Request schemas, by (method, path).
    static SCHEMAS: RefCell<HashMap<(&'static str, &'static str), Rc<Value>>> = RefCell::new(HashMap::new());
}

fn document(text: &'static str) -> Result<Rc<Value>> {
    let key = text.as_ptr() as usize;
    if let Some(doc) = DOCUMENTS.with(|d| d.borrow().get(&key).cloned()) {
        return Ok(doc);
    }
    let doc = Rc::new(serde_json::from_str::<Value>(text)?);
    DOCUMENTS.with(|d| d.borrow_mut().insert(key, doc.clone()));
    Ok(doc)
}

/// The request schema of an operation: its JSON body's, or its query parameters as one object.
fn operation_schema(doc: &Value, method: &str, path: &str) -> Value {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
        return body.clone();
    }
    let (mut properties, mut required) = (Map::new(), Vec::new());
    for p in op["parameters"].as_array().into_iter().flatten() {
        let Some(name) = p["name"].as_str() else { continue };
        properties.insert(name.to_string(), p["schema"].clone());
        if p["required"] == Value::Bool(true) {
            required.push(Value::from(name));
        }
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

/// The request schema of an operation of `doc` (parsed once per isolate).
pub fn schema(doc: &'static str, method: &'static str, path: &'static str) -> Result<Rc<Value>> {
    if let Some(s) = SCHEMAS.with(|c| c.borrow().get(&(method, path)).cloned()) {
        return Ok(s);
    }
    let s = Rc::new(operation_schema(document(doc)?.as_ref(), method, path));
    SCHEMAS.with(|c| c.borrow_mut().insert((method, path), s.clone()));
    Ok(s)
}

/// Validates a route's input against its schema in `doc`, then its cross-field rules.
pub fn validate<T: DeserializeOwned + Refine>(
    doc: &'static str,
    method: &'static str,
    path: &'static str,
    input: (Value, Source),
) -> Result<T> {
    let input: T = decode(checked_input(doc, method, path, input)?)?;
    input.refine().map_err(Error::BadRequest)?;
    Ok(input)
}

/// The part of [`validate`] that is the same for every request type.
#[inline(never)]
pub fn checked_input(
    doc: &'static str,
    method: &'static str,
    path: &'static str,
    (value, source): (Value, Source),
) -> Result<Value> {
    Ok(checked(schema(doc, method, path)?.as_ref(), value, source)?)
}

/// Authenticates the root key of the request (one boxed future shared by every route).
pub fn root_key<'a>(
    ctx: &'a Ctx,
    incoming: &'a Incoming,
    query: Option<PermissionQuery>,
) -> Pin<Box<dyn Future<Output = Result<Principal>> + 'a>> {
    Box::pin(async move { authenticate(ctx, incoming.token(), query.as_ref()).await })
}

/// The operator token check of `admin` routes; `Ok(false)` when the operator API is off.
pub fn admin_gate(ctx: &Ctx, incoming: &Incoming) -> Result<bool> {
    match admin_access(ctx.config.admin_token.as_deref(), incoming.token()) {
        AdminAccess::Disabled => Ok(false),
        AdminAccess::Denied => Err(Error::unauthorized("invalid admin token")),
        AdminAccess::Granted => Ok(true),
    }
}
