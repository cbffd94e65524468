//! The composition root: turns a Workers request into a service context and hands it to the wire
//! layer of its version (`/v2/*` to v2, everything else to v1); runs the cron. `http` (plumbing) and `routes` (wire layers) meet here and
//! nowhere else.

use worker::{Context, Date, Env, Method, Request, Response};

use crate::domain::ids::{new_id, IdKind};
use crate::http::{self, Incoming};
use crate::routes::{v1, v2};
use crate::service::{maintenance, Ctx, Origin};

/// Unix ms now.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

/// Tests move time with an `X-Test-Now: <unix ms>` header, honoured only when the worker runs
/// with the `UNSAFE_TEST_CLOCK=1` binding (the Miniflare tests set it; wrangler.toml never does:
/// a client that controls the clock could revive expired keys).
fn test_clock(env: &Env, req: &Request) -> Option<i64> {
    if env.var("UNSAFE_TEST_CLOCK").ok()?.to_string() != "1" {
        return None;
    }
    http::header(req, "X-Test-Now")?.parse().ok()
}

/// An OpenAPI document (generated at build time, see `routes::table`).
fn openapi(document: &'static str) -> worker::Result<Response> {
    let mut resp = Response::ok(document)?;
    resp.headers_mut().set("Content-Type", "application/json")?;
    Ok(resp)
}

/// Serves one request: every response carries `Unkey-Request-Id` and CORS headers.
pub async fn serve(mut req: Request, env: Env, worker: Context) -> worker::Result<Response> {
    let now = now_ms();
    let incoming = Incoming::read(&req, now)?;
    let resp = route(&mut req, &env, worker, &incoming, now).await?;
    http::finish(resp, &incoming.request_id)
}

async fn route(
    req: &mut Request,
    env: &Env,
    worker: Context,
    incoming: &Incoming,
    now: i64,
) -> worker::Result<Response> {
    if incoming.method == Method::Options {
        return http::preflight(req);
    }
    if incoming.method == Method::Get && incoming.path == "/openapi.json" {
        return openapi(v1::OPENAPI);
    }
    let is_v2 = incoming.path.starts_with("/v2/");
    if is_v2 && incoming.method == Method::Get {
        match incoming.path.as_str() {
            "/v2/openapi.json" => return openapi(v2::OPENAPI),
            "/v2/liveness" => return http::json(&v2::liveness(&incoming.request_id), 200, incoming.pretty),
            _ => {}
        }
    }
    let now = test_clock(env, req).unwrap_or(now);
    let origin = Origin { ip: incoming.ip.clone(), user_agent: incoming.user_agent.clone() };
    let ctx = match Ctx::new(env, Some(worker), now, incoming.request_id.clone(), origin) {
        Ok(ctx) => ctx,
        Err(e) if is_v2 => return v2::envelope::error(&e, incoming),
        Err(e) => return v1::envelope::error(&e, &incoming.request_id, incoming.pretty),
    };
    let routed =
        if is_v2 { v2::dispatch(&ctx, req, incoming).await } else { v1::dispatch(&ctx, req, incoming).await };
    match routed {
        Some(resp) => resp,
        None => http::not_found(),
    }
}

/// The cron trigger at its scheduled time (unix ms): refills due credit balances in bulk and
/// applies the retention periods (`service::maintenance`).
pub async fn scheduled(env: Env, scheduled_time: i64) {
    let request_id = new_id(IdKind::Request, scheduled_time).unwrap_or_else(|_| "req_cron".into());
    match Ctx::new(&env, None, scheduled_time, request_id, Origin::default()) {
        Ok(ctx) => maintenance::run(&ctx).await,
        Err(e) => worker::console_error!("cron: {e}"),
    }
}
