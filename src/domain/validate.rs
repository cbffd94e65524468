//! Request validation driven by the JSON Schema generated from the Rust request types (the same
//! schema `/openapi.json` publishes), with zod-style messages so that the first problem is
//! reported as `<dotted.path>: <reason>`, e.g. `remaining.cost: Expected number, received string`.

use std::any::TypeId;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// The largest integer that survives a trip through JavaScript (and D1).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "body: {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Where the input came from: query strings arrive as text and are coerced to the schema's type.
/// v1 documents its string `pattern`s but checks them after authentication (decisions.md), so
/// only `Checked` input (v2) is held to them at validation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Json,
    Query,
    /// A JSON body whose string patterns are checked too (v2).
    Checked,
}

/// The settings used for both validation and the OpenAPI document: JSON Schema 2020-12 (the
/// dialect of OpenAPI 3.1) with every subschema inlined.
pub fn schema_settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    })
}

thread_local! {
    static SCHEMAS: RefCell<HashMap<TypeId, Rc<Value>>> = RefCell::new(HashMap::new());
}

/// The (cached) request schema of `T` (validation and `/openapi.json` share it).
pub fn request_schema<T: JsonSchema + 'static>() -> Rc<Value> {
    cached(TypeId::of::<T>(), generate::<T>)
}

fn generate<T: JsonSchema>() -> Value {
    schema_settings().for_deserialize().into_generator().into_root_schema_for::<T>().to_value()
}

fn cached(id: TypeId, generate: fn() -> Value) -> Rc<Value> {
    if let Some(s) = SCHEMAS.with(|c| c.borrow().get(&id).cloned()) {
        return s;
    }
    let schema = Rc::new(generate());
    SCHEMAS.with(|c| c.borrow_mut().insert(id, schema.clone()));
    schema
}

/// Validates `input` against `T`'s schema, then deserializes it (the generic part is only the
/// schema and the deserialization).
pub fn parse<T: DeserializeOwned + JsonSchema + 'static>(
    input: Value,
    source: Source,
) -> Result<T, ValidationError> {
    parse_with(&request_schema::<T>(), input, source)
}

/// Validates `input` against `schema` (e.g. taken from an OpenAPI document), then deserializes it.
pub fn parse_with<T: DeserializeOwned>(
    schema: &Value,
    input: Value,
    source: Source,
) -> Result<T, ValidationError> {
    decode(checked(schema, input, source)?)
}

/// Validates (and normalises) `input` against `schema`; not generic, so not instantiated per type.
#[inline(never)]
pub fn checked(schema: &Value, mut input: Value, source: Source) -> Result<Value, ValidationError> {
    check(schema, &mut input, &mut Vec::new(), source)?;
    Ok(input)
}

/// Deserializes validated input (the only part compiled once per request type).
pub fn decode<T: DeserializeOwned>(input: Value) -> Result<T, ValidationError> {
    crate::domain::json::from_value(input).map_err(decode_error)
}

#[inline(never)]
fn decode_error(e: serde_json::Error) -> ValidationError {
    ValidationError::new("", e.to_string())
}

/// Validates (and normalises: integral floats become integers, query text is coerced) one value.
pub fn check<'s>(
    schema: &'s Value,
    value: &mut Value,
    path: &mut Path<'s>,
    source: Source,
) -> Result<(), ValidationError> {
    let s = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(err(path, "Invalid input")),
        Value::Object(s) => s,
        _ => return Ok(()),
    };
    if let Some(Value::Array(branches)) = s.get("anyOf").or_else(|| s.get("oneOf")) {
        // alternatives that only name required fields ("identityId or externalId") document a
        // cross-field rule that `api::Refine` or the service checks with upstream's message
        if !branches.iter().all(is_required_set) {
            return check_any_of(branches, value, path, source);
        }
    }
    let types = Types::of(s);
    let types = types.as_slice();
    if value.is_null() {
        return if types.is_empty() || types.contains(&"null") {
            Ok(())
        } else {
            Err(err(path, format!("Expected {}, received null", expected_name(types))))
        };
    }
    if source == Source::Query {
        coerce_query(s, types, value);
    }
    normalise_integer(types, value);
    if !types.is_empty() && !types.iter().any(|t| matches_type(t, value)) {
        let message = if types.contains(&"integer") && value.is_number() {
            "Expected integer, received float".to_string()
        } else {
            format!("Expected {}, received {}", expected_name(types), received_name(value))
        };
        return Err(err(path, message));
    }
    if let Some(Value::Array(options)) = s.get("enum") {
        if !options.contains(value) {
            let expected = options.iter().map(show_literal).collect::<Vec<_>>().join(" | ");
            return Err(err(
                path,
                format!("Invalid enum value. Expected {expected}, received {}", show_literal(value)),
            ));
        }
    }
    if let Some(c) = s.get("const") {
        if c != value {
            return Err(err(path, format!("Invalid literal value, expected {c}")));
        }
    }
    match value {
        Value::String(text) => check_string(s, text, path, source == Source::Checked),
        Value::Number(n) => check_number(s, types, n, path),
        Value::Array(items) => check_array(s, items, path, source),
        Value::Object(map) => check_object(s, map, path, source),
        _ => Ok(()),
    }
}

/// Where a value is: names of the schema's properties (borrowed), array indices and the names of
/// free-form keys; joined with `.` only for an error.
pub type Path<'s> = Vec<Cow<'s, str>>;

fn err(path: &[Cow<'_, str>], message: impl Into<String>) -> ValidationError {
    ValidationError::new(path.join("."), message)
}

/// A schema's `type`: one name or a list (JSON Schema has seven types), without allocating.
struct Types<'s> {
    names: [&'s str; 8],
    len: usize,
}

impl<'s> Types<'s> {
    fn of(s: &'s Map<String, Value>) -> Types<'s> {
        let mut types = Types { names: [""; 8], len: 0 };
        let mut add = |t: &'s str| {
            if types.len < types.names.len() {
                types.names[types.len] = t;
                types.len += 1;
            }
        };
        match s.get("type") {
            Some(Value::String(t)) => add(t.as_str()),
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).for_each(add),
            _ => {}
        }
        types
    }

    fn as_slice(&self) -> &[&'s str] {
        &self.names[..self.len]
    }
}

fn expected_name(types: &[&str]) -> &'static str {
    match types.iter().find(|t| **t != "null").copied().unwrap_or("null") {
        "string" => "string",
        "integer" | "number" => "number",
        "boolean" => "boolean",
        "array" => "array",
        "object" => "object",
        _ => "null",
    }
}

fn received_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn show_literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// `5.0` is an integer (as in JavaScript): store it as one.
fn normalise_integer(types: &[&str], value: &mut Value) {
    if !types.contains(&"integer") {
        return;
    }
    if let Some(f) = value.as_f64().filter(|_| !(value.is_i64() || value.is_u64())) {
        if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 {
            *value = Value::Number(Number::from(f as i64));
        }
    }
}

fn coerce_query(s: &Map<String, Value>, types: &[&str], value: &mut Value) {
    let Value::String(text) = value else { return };
    if types.contains(&"string") {
        return;
    }
    if types.contains(&"integer") || types.contains(&"number") {
        if let Ok(f) = text.trim().parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                *value = Value::Number(n);
            }
        }
    } else if types.contains(&"boolean") {
        match text.as_str() {
            "true" | "1" => *value = Value::Bool(true),
            "false" | "0" | "" => *value = Value::Bool(false),
            _ => {}
        }
    } else if types.contains(&"array") {
        // one value is a one-element array; values of an enum (which never contain commas) may
        // also be given as one comma-separated value, as the v1 SDK sends arrays
        let items = if s.get("items").and_then(|i| i.get("enum")).is_some() {
            text.split(',').map(|part| Value::String(part.trim().to_string())).collect()
        } else {
            vec![Value::String(std::mem::take(text))]
        };
        *value = Value::Array(items);
    }
}

/// `{"required": [...]}` (with the `properties` it requires) and nothing else.
fn is_required_set(branch: &Value) -> bool {
    branch
        .as_object()
        .is_some_and(|b| b.contains_key("required") && b.keys().all(|k| k == "required" || k == "properties"))
}

fn check_any_of<'s>(
    branches: &'s [Value],
    value: &mut Value,
    path: &mut Path<'s>,
    source: Source,
) -> Result<(), ValidationError> {
    let is_null_branch = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
    if value.is_null() && branches.iter().any(is_null_branch) {
        return Ok(());
    }
    let mut first_error = None;
    for branch in branches.iter().filter(|b| !is_null_branch(b)) {
        let mut candidate = value.clone();
        match check(branch, &mut candidate, path, source) {
            Ok(()) => {
                *value = candidate;
                return Ok(());
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| err(path, "Invalid input")))
}

fn limit(s: &Map<String, Value>, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

/// A limit as zod prints it (schema limits are integers; others go through JSON's formatting,
/// which avoids linking the float `Display` machinery into the worker).
fn show(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64 {
        (x as i64).to_string()
    } else {
        Number::from_f64(x).map(|n| n.to_string()).unwrap_or_default()
    }
}

fn check_string(
    s: &Map<String, Value>,
    text: &str,
    path: &[Cow<'_, str>],
    patterns: bool,
) -> Result<(), ValidationError> {
    // zod counts UTF-16 code units, as JavaScript's `length` does
    let len = text.encode_utf16().count() as f64;
    if let Some(min) = limit(s, "minLength") {
        if len < min {
            return Err(err(
                path,
                format!("String must contain at least {min} character(s)", min = show(min)),
            ));
        }
    }
    if let Some(max) = limit(s, "maxLength") {
        if len > max {
            return Err(err(
                path,
                format!("String must contain at most {max} character(s)", max = show(max)),
            ));
        }
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str).filter(|_| patterns) {
        if pattern_matches(pattern, text) == Some(false) {
            return Err(err(path, format!("Invalid string: must match {pattern}")));
        }
    }
    Ok(())
}

/// Matches `text` against the one shape of pattern the wire types use, a character class over
/// the whole string: `^[...]+$` (or `*`), with ranges (`a-z`) and `\`-escaped characters.
/// `None` for any other pattern (it is documented but not checked).
pub fn pattern_matches(pattern: &str, text: &str) -> Option<bool> {
    let (class, min) = match pattern.strip_prefix("^[")? {
        p if p.ends_with("]+$") => (&p[..p.len() - 3], 1),
        p if p.ends_with("]*$") => (&p[..p.len() - 3], 0),
        _ => return None,
    };
    // the class as (from, to) ranges
    let mut ranges = Vec::new();
    let mut chars = class.chars().peekable();
    while let Some(c) = chars.next() {
        let from = if c == '\\' { chars.next()? } else { c };
        if c != '\\' && chars.peek() == Some(&'-') {
            let mut ahead = chars.clone();
            ahead.next();
            if let Some(to) = ahead.next().filter(|t| *t != '\\') {
                chars = ahead;
                ranges.push((from, to));
                continue;
            }
        }
        ranges.push((from, from));
    }
    let count = text.chars().count();
    Some(count >= min && text.chars().all(|c| ranges.iter().any(|(a, b)| (*a..=*b).contains(&c))))
}

fn check_number(
    s: &Map<String, Value>,
    types: &[&str],
    n: &Number,
    path: &[Cow<'_, str>],
) -> Result<(), ValidationError> {
    let x = n.as_f64().unwrap_or(f64::NAN);
    if let Some(min) = limit(s, "minimum") {
        if x < min {
            return Err(err(path, format!("Number must be greater than or equal to {min}", min = show(min))));
        }
    }
    if let Some(min) = limit(s, "exclusiveMinimum") {
        if x <= min {
            return Err(err(path, format!("Number must be greater than {min}", min = show(min))));
        }
    }
    let max = limit(s, "maximum");
    let integer = types.contains(&"integer");
    if let Some(max) = max.or(integer.then_some(MAX_SAFE_INTEGER as f64)) {
        if x > max {
            return Err(err(path, format!("Number must be less than or equal to {max}", max = show(max))));
        }
    }
    if integer && x < -(MAX_SAFE_INTEGER as f64) {
        return Err(err(path, format!("Number must be greater than or equal to -{MAX_SAFE_INTEGER}")));
    }
    if let Some(max) = limit(s, "exclusiveMaximum") {
        if x >= max {
            return Err(err(path, format!("Number must be less than {max}", max = show(max))));
        }
    }
    Ok(())
}

fn check_array<'s>(
    s: &'s Map<String, Value>,
    items: &mut [Value],
    path: &mut Path<'s>,
    source: Source,
) -> Result<(), ValidationError> {
    let n = items.len() as f64;
    if let Some(min) = limit(s, "minItems") {
        if n < min {
            return Err(err(path, format!("Array must contain at least {min} element(s)", min = show(min))));
        }
    }
    if let Some(max) = limit(s, "maxItems") {
        if n > max {
            return Err(err(path, format!("Array must contain at most {max} element(s)", max = show(max))));
        }
    }
    if let Some(item_schema) = s.get("items") {
        for (i, item) in items.iter_mut().enumerate() {
            path.push(Cow::Owned(i.to_string()));
            check(item_schema, item, path, source)?;
            path.pop();
        }
    }
    Ok(())
}

fn check_object<'s>(
    s: &'s Map<String, Value>,
    map: &mut Map<String, Value>,
    path: &mut Path<'s>,
    source: Source,
) -> Result<(), ValidationError> {
    let required = match s.get("required") {
        Some(Value::Array(r)) => r.as_slice(),
        _ => &[],
    };
    if let Some(Value::Object(props)) = s.get("properties") {
        // a strict object (`additionalProperties: false`) refuses keys it does not know
        if s.get("additionalProperties") == Some(&Value::Bool(false)) {
            if let Some(unknown) = map.keys().find(|k| !props.contains_key(*k)) {
                return Err(err(path, format!("Unrecognized key(s) in object: '{unknown}'")));
            }
        }
        let mut known = 0;
        for (name, prop_schema) in props {
            path.push(Cow::Borrowed(name));
            match map.get_mut(name) {
                Some(v) => {
                    known += 1;
                    check(prop_schema, v, path, source)?
                }
                None if required.iter().any(|r| r.as_str() == Some(name)) => {
                    return Err(err(path, "Required"))
                }
                None => {}
            }
            path.pop();
        }
        // unknown keys are accepted and dropped (zod strips them)
        if known < map.len() {
            map.retain(|k, _| props.contains_key(k));
        }
    }
    if let Some(extra @ Value::Object(_)) = s.get("additionalProperties") {
        for (name, v) in map.iter_mut() {
            path.push(Cow::Owned(name.clone()));
            check(extra, v, path, source)?;
            path.pop();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Interval {
        Daily,
        Monthly,
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Refill {
        interval: Interval,
        #[schemars(range(min = 1))]
        amount: i64,
        #[schemars(range(min = 1, max = 31))]
        refill_day: Option<i64>,
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Cost {
        #[serde(default)]
        #[schemars(range(min = 0))]
        cost: Option<i64>,
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Req {
        #[schemars(length(min = 1))]
        api_id: String,
        #[schemars(length(max = 16))]
        prefix: Option<String>,
        #[schemars(range(min = 16, max = 255))]
        byte_length: Option<i64>,
        remaining: Option<Cost>,
        refill: Option<Refill>,
        #[schemars(length(max = 3))]
        tags: Option<Vec<String>>,
        enabled: Option<bool>,
    }

    fn run(v: Value) -> Result<Req, String> {
        parse::<Req>(v, Source::Json).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_valid_input_and_strips_unknown_keys() {
        let r = run(json!({"apiId": "api_1", "extra": 1, "byteLength": 32.0, "refill": {"interval": "monthly", "amount": 5, "refillDay": 3}}))
            .expect("valid");
        assert_eq!(r.byte_length, Some(32));
        assert_eq!(r.refill, Some(Refill { interval: Interval::Monthly, amount: 5, refill_day: Some(3) }));
    }

    #[test]
    fn reports_the_first_problem_with_its_path() {
        assert_eq!(run(json!({})), Err("apiId: Required".into()));
        assert_eq!(run(json!({"apiId": 5})), Err("apiId: Expected string, received number".into()));
        assert_eq!(
            run(json!({"apiId": ""})),
            Err("apiId: String must contain at least 1 character(s)".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "prefix": "x".repeat(17)})),
            Err("prefix: String must contain at most 16 character(s)".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "remaining": {"cost": "1"}})),
            Err("remaining.cost: Expected number, received string".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "remaining": {"cost": -1}})),
            Err("remaining.cost: Number must be greater than or equal to 0".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "remaining": {"cost": 1.5}})),
            Err("remaining.cost: Expected integer, received float".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "byteLength": 256})),
            Err("byteLength: Number must be less than or equal to 255".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "refill": {"interval": "weekly", "amount": 1}})),
            Err("refill.interval: Invalid enum value. Expected 'daily' | 'monthly', received 'weekly'".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "refill": {"interval": "daily"}})),
            Err("refill.amount: Required".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "tags": ["a", 1]})),
            Err("tags.1: Expected string, received number".into())
        );
        assert_eq!(
            run(json!({"apiId": "a", "enabled": "yes"})),
            Err("enabled: Expected boolean, received string".into())
        );
        assert_eq!(run(json!([1])), Err("body: Expected object, received array".into()));
        assert_eq!(
            run(json!({"apiId": "a", "remaining": {"cost": 9007199254740992_i64}})),
            Err("remaining.cost: Number must be less than or equal to 9007199254740991".into())
        );
    }

    #[test]
    fn null_optional_fields_are_absent() {
        let r = run(json!({"apiId": "a", "prefix": null, "refill": null})).expect("valid");
        assert_eq!(r.prefix, None);
        assert_eq!(r.refill, None);
        assert_eq!(run(json!({"apiId": null})), Err("apiId: Expected string, received null".into()));
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Strict {
        #[schemars(pattern(r"^[a-zA-Z0-9_\-\.\*]+$"))]
        slug: String,
        inner: Option<StrictInner>,
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct StrictInner {
        cost: i64,
    }

    #[test]
    fn strict_objects_refuse_unknown_keys() {
        let run = |v: Value| parse::<Strict>(v, Source::Checked).map_err(|e| e.to_string());
        // v1 input documents patterns without checking them here
        assert!(parse::<Strict>(json!({"slug": "a b"}), Source::Json).is_ok());
        assert!(run(json!({"slug": "a.b*"})).is_ok());
        assert_eq!(
            run(json!({"slug": "a", "extra": 1})),
            Err("body: Unrecognized key(s) in object: 'extra'".into())
        );
        assert_eq!(
            run(json!({"slug": "a", "inner": {"cost": 1, "x": 2}})),
            Err("inner: Unrecognized key(s) in object: 'x'".into())
        );
        assert_eq!(
            run(json!({"slug": "a b"})),
            Err(r"slug: Invalid string: must match ^[a-zA-Z0-9_\-\.\*]+$".into())
        );
    }

    #[test]
    fn character_class_patterns() {
        assert_eq!(pattern_matches("^[a-zA-Z0-9_]+$", "key_123"), Some(true));
        assert_eq!(pattern_matches("^[a-zA-Z0-9_]+$", "key-123"), Some(false));
        assert_eq!(pattern_matches("^[a-zA-Z0-9_]+$", ""), Some(false));
        assert_eq!(pattern_matches("^[a-z]*$", ""), Some(true));
        assert_eq!(pattern_matches(r"^[a-zA-Z0-9_:\-\.\*]+$", "api.*.read-key:x"), Some(true));
        assert_eq!(pattern_matches(r"^[a-zA-Z0-9_:\-\.\*]+$", "api/x"), Some(false));
        assert_eq!(pattern_matches("^[a-zA-Z0-9_.-]+$", "user.1-x_y"), Some(true));
        assert_eq!(pattern_matches("^[a-zA-Z0-9_.-]+$", "user 1"), Some(false));
        assert_eq!(pattern_matches("^abc$", "abc"), None);
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Query {
        #[schemars(range(min = 1, max = 100))]
        limit: Option<i64>,
        decrypt: Option<bool>,
        cursor: Option<String>,
    }

    #[test]
    fn either_or_fields_are_left_to_the_cross_field_rules() {
        // `anyOf` of required sets (as /openapi.json states "identityId or externalId") documents
        // a rule that `api::Refine` checks with upstream's message; the properties still apply
        let schema = json!({
            "type": "object",
            "properties": { "a": { "type": ["string", "null"] }, "b": { "type": ["string", "null"] } },
            "anyOf": [
                { "required": ["a"], "properties": { "a": { "type": "string" } } },
                { "required": ["b"], "properties": { "b": { "type": "string" } } }
            ]
        });
        let check = |v: Value| {
            check(&schema, &mut v.clone(), &mut Vec::new(), Source::Json).map_err(|e| e.to_string())
        };
        assert_eq!(check(json!({})), Ok(()));
        assert_eq!(check(json!({"a": "x"})), Ok(()));
        assert_eq!(check(json!({"a": 5})), Err("a: Expected string, received number".into()));
    }

    #[test]
    fn query_strings_are_coerced() {
        let q: Query =
            parse(json!({"limit": "5", "decrypt": "false", "cursor": "10"}), Source::Query).expect("valid");
        assert_eq!(q, Query { limit: Some(5), decrypt: Some(false), cursor: Some("10".into()) });
        let e = parse::<Query>(json!({"limit": "abc"}), Source::Query).map_err(|e| e.to_string());
        assert_eq!(e, Err("limit: Expected number, received string".into()));
        let e = parse::<Query>(json!({"limit": "500"}), Source::Query).map_err(|e| e.to_string());
        assert_eq!(e, Err("limit: Number must be less than or equal to 100".into()));
    }
}
