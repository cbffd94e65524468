//! keygate: an Unkey-v1-compatible API key service on Cloudflare Workers.
//!
//! `api` (wire types) and `domain` (pure logic) build for any target and are unit-tested natively;
//! the rest needs the Workers runtime and builds for wasm32 only.

pub mod api;
pub mod domain;

#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod limiter;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod store;

#[cfg(target_arch = "wasm32")]
mod entry {
    use worker::{event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

    #[event(fetch)]
    async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
        crate::http::serve(req, env, ctx).await
    }

    /// The cron trigger: refills due credit balances in bulk.
    #[event(scheduled)]
    async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        let result = async { crate::store::refill::run(&env.d1("DB")?, crate::http::now_ms()).await }.await;
        match result {
            Ok((credits, legacy)) => {
                worker::console_log!("refill: {credits} credits rows, {legacy} legacy keys")
            }
            Err(e) => worker::console_error!("refill failed: {e}"),
        }
    }
}
