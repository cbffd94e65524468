//! OpenAPI 3.1 documents, generated from the request/response types of a route table (one
//! document per wire version).

use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::api::Refine;
use crate::domain::validate::schema_settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (keys.verifyKey, liveness).
    Public,
    /// `Authorization: Bearer <root key>`.
    RootKey,
    /// A root key, checked after the addressed resource is loaded (upstream's order: an
    /// unknown resource is a 404 even without credentials). Marked `x-keygate-loads-first`.
    RootKeyAfterLoad,
    /// `Authorization: Bearer <ADMIN_TOKEN>` (operator API).
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

/// One route as documented.
pub struct RouteDoc {
    pub method: HttpMethod,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub request: fn() -> Value,
    pub response: fn() -> Value,
    /// Statuses other than 200 the route may answer with its response body (the legacy verify's
    /// 404 with `{"valid":false,"code":"NOT_FOUND"}`).
    pub output_statuses: &'static [u16],
}

fn strip(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("$schema");
    }
    v
}

/// The request schema of `T`, with its either/or fields as an `anyOf` of required sets.
pub fn request_schema<T: JsonSchema + Refine>() -> Value {
    one_of_required(
        strip(schema_settings().for_deserialize().into_generator().into_root_schema_for::<T>().to_value()),
        T::ONE_OF,
    )
}

/// `anyOf` of one branch per field: the field is given, as a non-empty string (`null` and `""`
/// count as absent).
fn one_of_required(mut schema: Value, fields: &[&str]) -> Value {
    if let (Value::Object(m), false) = (&mut schema, fields.is_empty()) {
        let branch =
            |f: &&str| json!({ "required": [f], "properties": { *f: { "type": "string", "minLength": 1 } } });
        m.insert("anyOf".into(), fields.iter().map(branch).collect());
    }
    schema
}

pub fn response_schema<T: JsonSchema>() -> Value {
    strip(schema_settings().for_serialize().into_generator().into_root_schema_for::<T>().to_value())
}

fn operation_id(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// What a document says besides its routes.
pub struct DocInfo {
    pub title: &'static str,
    pub description: &'static str,
    /// The error envelope of this wire version.
    pub error_schema: fn() -> Value,
    /// The error statuses every operation may answer, with a description.
    pub errors: &'static [(&'static str, &'static str)],
}

fn operation(route: &RouteDoc, info: &DocInfo) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id(route.path)));
    op.insert("summary".into(), json!(route.summary));
    if let Some(tag) = operation_id(route.path).split('.').next() {
        op.insert("tags".into(), json!([tag]));
    }
    match route.auth {
        Auth::Public => op.insert("security".into(), json!([])),
        Auth::RootKey => op.insert("security".into(), json!([{ "rootKey": [] }])),
        Auth::RootKeyAfterLoad => {
            op.insert("x-keygate-loads-first".into(), json!(true));
            op.insert("security".into(), json!([{ "rootKey": [] }]))
        }
        Auth::Admin => op.insert("security".into(), json!([{ "adminToken": [] }])),
    };
    let request = (route.request)();
    match route.method {
        HttpMethod::Get => {
            let required: Vec<&str> = request
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let params: Vec<Value> = request
                .get("properties")
                .and_then(Value::as_object)
                .map(|props| {
                    props
                        .iter()
                        .map(|(name, schema)| {
                            // a `{name}` in the path is a path parameter (always required)
                            let in_path = route.path.contains(&format!("{{{name}}}"));
                            json!({
                                "name": name,
                                "in": if in_path { "path" } else { "query" },
                                "required": in_path || required.contains(&name.as_str()),
                                "schema": schema,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !params.is_empty() {
                op.insert("parameters".into(), Value::Array(params));
            }
        }
        HttpMethod::Post => {
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": request } } }),
            );
        }
    }
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "OK", "content": { "application/json": { "schema": (route.response)() } } }),
    );
    for (status, description) in info.errors {
        let envelope = json!({ "$ref": "#/components/schemas/ErrorEnvelope" });
        let schema = if route.output_statuses.iter().any(|s| s.to_string() == *status) {
            json!({ "anyOf": [(route.response)(), envelope] })
        } else {
            envelope
        };
        responses.insert(
            status.to_string(),
            json!({ "description": description, "content": { "application/json": { "schema": schema } } }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The whole document for the given routes.
pub fn document(routes: &[RouteDoc], info: &DocInfo) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let method = match route.method {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
        };
        let entry = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(method.into(), operation(route, info));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": info.title,
            "version": env!("CARGO_PKG_VERSION"),
            "description": info.description
        },
        "paths": paths,
        "components": {
            "schemas": { "ErrorEnvelope": (info.error_schema)() },
            "securitySchemes": {
                "rootKey": { "type": "http", "scheme": "bearer", "description": "A root key" },
                "adminToken": { "type": "http", "scheme": "bearer", "description": "The ADMIN_TOKEN secret" }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1::apis::{CreateApiRequest, CreateApiResponse, GetApiQuery, GetApiResponse};

    #[test]
    fn documents_bodies_and_query_parameters() {
        let routes = [
            RouteDoc {
                method: HttpMethod::Post,
                path: "/v1/apis.createApi",
                summary: "Create an api",
                auth: Auth::RootKey,
                request: request_schema::<CreateApiRequest>,
                response: response_schema::<CreateApiResponse>,
                output_statuses: &[],
            },
            RouteDoc {
                method: HttpMethod::Get,
                path: "/v1/apis.getApi",
                summary: "Get an api",
                auth: Auth::RootKey,
                request: request_schema::<GetApiQuery>,
                response: response_schema::<GetApiResponse>,
                output_statuses: &[],
            },
        ];
        let doc = crate::api::v1::openapi(&routes);
        assert_eq!(doc["openapi"], "3.1.0");
        let create = &doc["paths"]["/v1/apis.createApi"]["post"];
        let body = &create["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["properties"]["name"]["minLength"], 3);
        assert_eq!(body["required"], json!(["name"]));
        let ok = &create["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(ok["properties"]["apiId"].is_object());
        let get = &doc["paths"]["/v1/apis.getApi"]["get"];
        assert_eq!(get["parameters"][0]["name"], "apiId");
        assert_eq!(get["parameters"][0]["in"], "query");
        assert_eq!(get["parameters"][0]["required"], true);
        assert!(doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"].is_object());
    }
}
