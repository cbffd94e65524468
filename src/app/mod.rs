//! The composition root: turns a Workers request into a service context and hands it to the wire
//! layer of its version; runs the cron. `http` (plumbing) and `routes` (wire layers) meet here and
//! nowhere else.

use worker::{Context, Date, Env, Method, Request, Response};

use crate::http::{self, Incoming};
use crate::routes::{edge, v1};
use crate::service::{credits, vault, Config, Ctx, Origin};

/// Unix ms now.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

/// Serves one request: every response carries `Unkey-Request-Id` and CORS headers.
pub async fn serve(mut req: Request, env: Env, worker: Context) -> worker::Result<Response> {
    let now = now_ms();
    let config = Config::from_env(&env);
    let incoming = Incoming::read(&req, now, config.trust_true_client_ip)?;
    let resp = route(&mut req, &env, worker, config, &incoming, now).await?;
    http::finish(resp, &incoming.request_id)
}

async fn route(
    req: &mut Request,
    env: &Env,
    worker: Context,
    config: Config,
    incoming: &Incoming,
    now: i64,
) -> worker::Result<Response> {
    if incoming.method == Method::Options {
        return http::preflight(req);
    }
    if incoming.method == Method::Get && incoming.path == "/openapi.json" {
        let mut resp = Response::ok(v1::OPENAPI)?;
        resp.headers_mut().set("Content-Type", "application/json")?;
        return Ok(resp);
    }
    // a declared body over the limit is refused before anything else is read
    if http::declared_too_large(req) {
        return v1::envelope::error(&edge::too_large(), &incoming.request_id, incoming.pretty);
    }
    // Test hooks, honoured only with the `UNSAFE_TEST_CLOCK=1` binding (the Miniflare tests set
    // it; wrangler.toml never does: a client that controls the clock could revive expired keys):
    // `X-Test-Now: <unix ms>` moves the request's clock, `X-Test-Panic` panics inside the request.
    let mut now = now;
    if config.test_hooks {
        if let Some(t) = http::header(req, "X-Test-Now").and_then(|t| t.parse().ok()) {
            now = t;
        }
        if http::header(req, "X-Test-Panic").is_some() {
            panic!("X-Test-Panic: a panic requested by a test ({})", incoming.request_id);
        }
    }
    let origin = Origin { ip: incoming.ip.clone(), user_agent: incoming.user_agent.clone() };
    let ctx = match Ctx::new(env, config, Some(worker), now, incoming.request_id.clone(), origin) {
        Ok(ctx) => ctx,
        Err(e) => return v1::envelope::error(&e, &incoming.request_id, incoming.pretty),
    };
    match v1::dispatch(&ctx, req, incoming).await {
        Some(resp) => resp,
        None => http::not_found(),
    }
}

/// The cron trigger: refills due credit balances in bulk, and moves recoverable keys to the
/// newest master key.
pub async fn scheduled(env: Env) {
    let result = credits::refill_due(&env, now_ms()).await;
    match result {
        Ok((rows, legacy)) => worker::console_log!("refill: {rows} credits rows, {legacy} legacy keys"),
        Err(e) => worker::console_error!("refill failed: {e}"),
    }
    let config = Config::from_env(&env);
    match Ctx::new(&env, config, None, now_ms(), "cron".into(), Origin::default()) {
        Ok(ctx) => match vault::reencrypt_batch(&ctx).await {
            Ok(0) => {}
            Ok(n) => worker::console_log!("re-encrypted {n} recoverable keys under the newest master key"),
            Err(e) => worker::console_error!("re-encryption failed: {e}"),
        },
        Err(e) => worker::console_error!("re-encryption failed: {e}"),
    }
}
