//! The route table macro shared by the wire versions. One line per route:
//!
//! `Method "path" auth "summary" [alias "second path"] => handler, Request => Response [, status fn [codes]];`
//!
//! A path may hold parameters (`/v1/apis/{apiId}/keys`): they join the input under their name
//! before validation. `alias` answers on a second path too (documented as a deprecated alias);
//! `status fn [codes]` sets the HTTP status from the output (else 200); `codes` are the statuses
//! other than 200 it may return (documented with the response body).
//!
//! In the worker it expands to `dispatch` (validate the input against the route's schema in the
//! version's OpenAPI document, authenticate as `auth` says, run the handler, answer with the
//! version's envelope); natively it expands to `routes()`, the documentation of every route, from
//! which `cargo test` generates that document.
//!
//! `auth` is one of:
//! - `public`: no credentials.
//! - `admin`: the operator token, checked before the input is read (404 when the operator API is
//!   off, 403 for a wrong token).
//! - `root(|req| query)`: the root key must satisfy `query` (built from the request) before the
//!   handler runs; the handler gets the authenticated `Principal`.
//! - `root_then`: the root key is authenticated here; the service checks the rights that depend
//!   on stored data (e.g. updateKey: the key's api).
//! - `loads_first`: **exceptions** — upstream loads the resource before authenticating, so an
//!   unknown id is a 404 even without credentials; the handler gets the unchecked `Credentials`
//!   and the service authenticates after loading.

#[doc(hidden)]
#[macro_export]
macro_rules! __route_gate {
    (admin, $ctx:ident, $incoming:ident) => {
        match $crate::routes::edge::admin_gate($ctx, $incoming) {
            Ok(true) => {}
            Ok(false) => return Some($crate::http::not_found()),
            Err(e) => return Some(envelope::error(&e, &$incoming.request_id, $incoming.pretty)),
        }
    };
    ($other:ident, $ctx:ident, $incoming:ident) => {};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __route_call {
    (public, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {
        $handler($ctx, $input).await
    };
    (admin, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {
        $handler($ctx, $input).await
    };
    (loads_first, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {
        $handler($ctx, &$crate::service::auth::Credentials($incoming.token().map(str::to_string)), $input)
            .await
    };
    (root_then, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {{
        let principal = $crate::routes::edge::root_key($ctx, $incoming, None).await?;
        $handler($ctx, &principal, $input).await
    }};
    (root ($query:expr), $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {{
        let query = ($query)(&$input);
        let principal = $crate::routes::edge::root_key($ctx, $incoming, Some(query)).await?;
        $handler($ctx, &principal, $input).await
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __route_status {
    ($output:ident) => {
        200
    };
    ($output:ident, $status:path) => {
        $status(&$output)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __route_method_name {
    (Get) => {
        "GET"
    };
    (Post) => {
        "POST"
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __route_doc_auth {
    (public) => {
        $crate::api::openapi::Auth::Public
    };
    (admin) => {
        $crate::api::openapi::Auth::Admin
    };
    (loads_first) => {
        $crate::api::openapi::Auth::RootKeyAfterLoad
    };
    ($other:ident) => {
        $crate::api::openapi::Auth::RootKey
    };
}

/// See the module documentation. The calling module provides `OPENAPI` (its document) and an
/// `envelope` module with `error(&service::Error, request_id, pretty)` and
/// `method_not_allowed(allow, request_id, pretty)` (a known path with another method).
#[macro_export]
macro_rules! __route_table {
    ($( $method:ident $path:literal $auth:ident $( ($query:expr) )? $summary:literal $(alias $alias:literal)?
        => $handler:path, $req:ty => $resp:ty $(, status $status:path [$($code:literal),*])?; )*) => {
        /// Runs the route matching the request, if there is one.
        #[cfg(target_arch = "wasm32")]
        pub async fn dispatch(
            ctx: &$crate::service::Ctx,
            req: &$crate::http::Req,
            incoming: &$crate::http::Incoming,
        ) -> Option<worker::Result<$crate::http::Answer>> {
            use $crate::routes::edge;
            $(
                let params = edge::match_path($path, &incoming.path)
                    $( .or_else(|| edge::match_path($alias, &incoming.path)) )?;
                if let Some(params) = params.filter(|_| incoming.method == worker::Method::$method) {
                    $crate::__route_gate!($auth, ctx, incoming);
                    let run = async {
                        let value = edge::read_input(req, incoming.method == worker::Method::Get, params)?;
                        let input: $req = edge::validate(OPENAPI, stringify!($method), $path, value)?;
                        let output: $resp = $crate::__route_call!($auth $( ($query) )?, ctx, incoming, input, $handler)?;
                        Ok::<_, $crate::service::Error>(output)
                    };
                    return Some(match run.await {
                        Ok(output) => $crate::http::json(&output, $crate::__route_status!(output $(, $status)?), incoming.pretty),
                        Err(e) => envelope::error(&e, &incoming.request_id, incoming.pretty),
                    });
                }
            )*
            // a known path with another method: 405, with the methods it has in `Allow`
            let allow: Vec<&str> = [$(
                ($path, $crate::__route_method_name!($method)),
                $( ($alias, $crate::__route_method_name!($method)), )?
            )*]
                .iter()
                .filter(|(path, _)| edge::match_path(path, &incoming.path).is_some())
                .map(|(_, method)| *method)
                .collect();
            if !allow.is_empty() {
                return Some(envelope::method_not_allowed(&allow.join(", "), &incoming.request_id, incoming.pretty));
            }
            None
        }

        /// Every route, as documented (for the OpenAPI snapshot test).
        #[cfg(test)]
        pub fn routes() -> Vec<$crate::api::openapi::RouteDoc> {
            use $crate::api::openapi::{request_schema, response_schema, HttpMethod, RouteDoc};
            vec![$(
                RouteDoc {
                    method: HttpMethod::$method,
                    path: $path,
                    summary: $summary,
                    auth: $crate::__route_doc_auth!($auth),
                    request: request_schema::<$req>,
                    response: response_schema::<$resp>,
                    output_statuses: &[$($($code),*)?],
                },
                $(
                    RouteDoc {
                        method: HttpMethod::$method,
                        path: $alias,
                        summary: concat!("Deprecated alias of ", $path),
                        auth: $crate::__route_doc_auth!($auth),
                        request: request_schema::<$req>,
                        response: response_schema::<$resp>,
                        // (an alias with its own statuses would need them here)
                        output_statuses: &[],
                    },
                )?
            )*]
        }
    };
}
pub use __route_table as route_table;

/// Compares a generated document with its committed snapshot (`UPDATE_OPENAPI=1` rewrites it).
#[cfg(test)]
pub fn check_snapshot(doc: &serde_json::Value, file: &str) {
    // the checkout being tested (cargo sets it when it runs the tests): a test binary built for
    // another checkout sharing the target directory (scripts/check-fresh-clone.sh) still writes
    // here
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = format!("{root}/{file}");
    // compact: the worker embeds the file (pretty printing would add a third to the wasm's text)
    let text = serde_json::to_string(doc).expect("document serialises") + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &text).expect("snapshot written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{file} is stale: the route table or the wire types changed; run `UPDATE_OPENAPI=1 cargo test` and commit it"
    );
}
