//! The HTTP layer: request context, request ids, CORS, the error envelope, routing.

pub mod auth;
pub mod error;
pub mod extract;

pub use error::{ApiError, ApiResult};

use serde_json::json;
use worker::{Context, D1Database, Date, Env, Method, Request, Response};

use crate::domain::ids::{new_id, IdKind};
use crate::routes;

/// Everything a route handler needs about the current request.
pub struct Ctx {
    pub env: Env,
    pub db: D1Database,
    pub worker: Context,
    pub request_id: String,
    /// Unix ms at the start of the request.
    pub now: i64,
    /// `True-Client-IP` ?? `CF-Connecting-IP`.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub authorization: Option<String>,
    /// `?pretty` was given.
    pub pretty: bool,
}

pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten().filter(|v| !v.is_empty())
}

/// Serves one request: every response carries `Unkey-Request-Id` and CORS headers.
pub async fn serve(mut req: Request, env: Env, worker: Context) -> worker::Result<Response> {
    let now = now_ms();
    let request_id = new_id(IdKind::Request, now).unwrap_or_else(|_| format!("req_{now}"));
    let mut resp = match handle(&mut req, env, worker, now, &request_id).await {
        Ok(resp) => resp,
        Err(e) => e.to_response(&request_id)?,
    };
    let headers = resp.headers_mut();
    headers.set("Unkey-Request-Id", &request_id)?;
    headers.set("Access-Control-Allow-Origin", "*")?;
    Ok(resp)
}

/// Tests move time with an `X-Test-Now: <unix ms>` header, honoured only when the worker runs
/// with the `UNSAFE_TEST_CLOCK=1` binding (the Miniflare tests set it; wrangler.toml never does:
/// a client that controls the clock could revive expired keys).
fn test_clock(env: &Env, req: &Request) -> Option<i64> {
    if env.var("UNSAFE_TEST_CLOCK").ok()?.to_string() != "1" {
        return None;
    }
    header(req, "X-Test-Now")?.parse().ok()
}

fn not_found() -> ApiResult<Response> {
    Ok(Response::error("404 Not Found", 404)?)
}

async fn handle(
    req: &mut Request,
    env: Env,
    worker: Context,
    now: i64,
    request_id: &str,
) -> ApiResult<Response> {
    let method = req.method();
    let url = req.url()?;
    let path = url.path().to_string();
    if method == Method::Options {
        let mut resp = Response::empty()?.with_status(204);
        let h = resp.headers_mut();
        h.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")?;
        h.set(
            "Access-Control-Allow-Headers",
            &header(req, "Access-Control-Request-Headers").unwrap_or_else(|| "*".into()),
        )?;
        h.set("Access-Control-Max-Age", "86400")?;
        return Ok(resp);
    }
    let pretty = url.query_pairs().any(|(k, _)| k == "pretty");
    let now = test_clock(&env, req).unwrap_or(now);
    match (method.clone(), path.as_str()) {
        (Method::Get, "/v1/liveness") => {
            return extract::json(
                &json!({
                    "status": "we're so back",
                    "services": {
                        "metrics": "NoopMetrics",
                        "logger": "ConsoleLogger",
                        "ratelimit": "DurableRateLimiter",
                        "usagelimit": "DurableUsageLimiter"
                    }
                }),
                pretty,
            );
        }
        (Method::Get, "/openapi.json") => return extract::json(&routes::openapi(), pretty),
        _ => {}
    }
    let ctx = Ctx {
        db: env.d1("DB")?,
        env,
        worker,
        request_id: request_id.to_string(),
        now,
        ip: header(req, "True-Client-IP").or_else(|| header(req, "CF-Connecting-IP")),
        user_agent: header(req, "User-Agent"),
        authorization: header(req, "Authorization"),
        pretty,
    };
    if path.starts_with("/v1/admin.") {
        match auth::admin_access(&ctx) {
            auth::AdminAccess::Disabled => return not_found(),
            auth::AdminAccess::Denied => return Err(ApiError::unauthorized("invalid admin token")),
            auth::AdminAccess::Granted => {}
        }
    }
    match routes::dispatch(&ctx, req, &method, &path).await {
        Some(result) => result,
        None => not_found(),
    }
}
