//! The composition root: turns a Workers request into a service context and hands it to the wire
//! layer of its version (`/v2/*` to v2, everything else to v1); runs the cron. `http` (plumbing)
//! and `routes` (wire layers) meet here and nowhere else.

mod now;

pub use now::now_or_later;

use std::rc::Rc;

use worker::{Context, Env, Method};

use crate::clock::now_ms;
use crate::domain::idempotency;
use crate::domain::ids::{new_id, IdKind};
use crate::http::{self, Answer, Incoming, Req};
use crate::routes::{edge, v1, v2};
use crate::service::{maintenance, vault, Config, Ctx, Origin, OriginSource};

/// An OpenAPI document (generated at build time, see `routes::table`).
fn openapi(document: &'static str) -> worker::Result<Answer> {
    Ok(Answer::new(200, Some("application/json"), document.to_string()))
}

/// Serves one request: every response carries `Unkey-Request-Id` and CORS headers.
pub async fn serve(req: Req, env: Env, worker: Context) -> worker::Result<Answer> {
    let now = now_ms();
    let config = Config::of(&env);
    let incoming = Rc::new(Incoming::read(&req, now, config.trust_true_client_ip));
    let answer = route(&req, &env, worker, config, &incoming, now).await?;
    Ok(http::finish(answer, &incoming.request_id))
}

async fn route(
    req: &Req,
    env: &Env,
    worker: Context,
    config: Config,
    incoming: &Rc<Incoming>,
    now: i64,
) -> worker::Result<Answer> {
    if incoming.method == Method::Options {
        return http::preflight(req);
    }
    let is_v2 = incoming.path.starts_with("/v2/");
    if incoming.method == Method::Get {
        match incoming.path.as_str() {
            "/openapi.json" => return openapi(v1::OPENAPI),
            "/v2/openapi.json" => return openapi(v2::OPENAPI),
            "/v2/liveness" => return http::json(&v2::liveness(&incoming.request_id), 200, incoming.pretty),
            _ => {}
        }
    }
    let error = |e: &crate::service::Error| {
        if is_v2 {
            v2::envelope::error(e, incoming)
        } else {
            v1::envelope::error(e, &incoming.request_id, incoming.pretty)
        }
    };
    // a declared body over the limit is refused before anything else is read
    if req.declared_too_large() {
        return error(&edge::too_large());
    }
    // Test hooks, honoured only with the `UNSAFE_TEST_CLOCK=1` binding (the Miniflare tests set
    // it; wrangler.toml never does: a client that controls the clock could revive expired keys):
    // `X-Test-Now: <unix ms>` moves the request's clock, `X-Test-Delay: <ms>` waits on a timer
    // before anything else, `X-Test-Panic` panics inside the request (after that wait).
    let mut now = now;
    let mut test_fail = None;
    if config.test_hooks {
        if let Some(t) = http::header(req, "X-Test-Now").and_then(|t| t.parse().ok()) {
            now = t;
        }
        // `X-Test-Delay: <ms>` waits on worker-rs's timer first (see `now_or_later`)
        if let Some(ms) = http::header(req, "X-Test-Delay").and_then(|t| t.parse::<u64>().ok()) {
            worker::Delay::from(std::time::Duration::from_millis(ms.min(1_000))).await;
        }
        if http::header(req, "X-Test-Panic").is_some() {
            panic!("X-Test-Panic: a panic requested by a test ({})", incoming.request_id);
        }
        // `X-Test-Fail: after-commit` fails the request after its change is written
        test_fail = http::header(req, "X-Test-Fail");
    }
    let origin = Origin::new(incoming.clone());
    let mut ctx = match Ctx::new(env, config, Some(worker), now, incoming.request_id.clone(), origin) {
        Ok(ctx) => ctx,
        Err(e) => return error(&e),
    };
    ctx.idempotency_key = http::header(req, idempotency::HEADER);
    ctx.test_fail = test_fail;
    let routed =
        if is_v2 { v2::dispatch(&ctx, req, incoming).await } else { v1::dispatch(&ctx, req, incoming).await };
    let mut answer = match routed {
        Some(answer) => answer?,
        None => return http::not_found(),
    };
    if ctx.replayed.get() {
        answer.set(idempotency::REPLAYED_HEADER, "true");
    }
    Ok(answer)
}

/// The cron trigger at its scheduled time (unix ms): refills due credit balances in bulk, applies
/// the retention periods (`service::maintenance`) and moves recoverable keys to the newest master
/// key.
pub async fn scheduled(env: Env, scheduled_time: i64) {
    let request_id = new_id(IdKind::Request, scheduled_time).unwrap_or_else(|_| "req_cron".into());
    let ctx = match Ctx::new(&env, Config::of(&env), None, scheduled_time, request_id, Origin::default()) {
        Ok(ctx) => ctx,
        Err(e) => return worker::console_error!("cron: {e}"),
    };
    maintenance::run(&ctx).await;
    match vault::reencrypt_batch(&ctx).await {
        Ok(0) => {}
        Ok(n) => worker::console_log!("re-encrypted {n} recoverable keys under the newest master key"),
        Err(e) => worker::console_error!("re-encryption failed: {e}"),
    }
}

/// A request's origin, read from its headers when an operation asks.
impl OriginSource for Incoming {
    fn ip(&self) -> Option<&str> {
        Incoming::ip(self)
    }

    fn user_agent(&self) -> Option<&str> {
        Incoming::user_agent(self)
    }
}
