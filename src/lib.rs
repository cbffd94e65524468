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
    pub use crate::limiter::rate::RateLimiter;
    pub use crate::limiter::usage::UsageLimiter;
    use worker::{event, Context, Env, Request, Response};

    #[event(fetch)]
    async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
        crate::http::serve(req, env, ctx).await
    }
}
