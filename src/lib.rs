//! keygate: an Unkey-compatible API key service on Cloudflare Workers.
//!
//! Layers, top to bottom (each imports only the ones below it):
//! - `app`: entry points and composition (fetch, scheduled).
//! - `routes`: the wire layers (`routes::v1`): wire types <-> service calls, one envelope mapping.
//! - `http`: request plumbing with no route knowledge.
//! - `service`: the operations and every rule that is not wire shape.
//! - `limiter`: the usage- and rate-limiter Durable Objects and their client.
//! - `store`: all SQL.
//! - `background`: work that outlives a request's answer (a leaf, used by `service` and `limiter`).
//! - `clock`: the wall clock (a leaf).
//! - `api` (wire types) and `domain` (pure logic) build for any target and are unit-tested
//!   natively; the rest needs the Workers runtime and builds for wasm32 only.

pub mod api;
pub mod domain;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod background;
#[cfg(target_arch = "wasm32")]
mod clock;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod limiter;
mod routes;
#[cfg(target_arch = "wasm32")]
mod service;
#[cfg(target_arch = "wasm32")]
mod store;
/// The SQL dialect translation is pure text: its unit tests run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(dead_code)]
#[path = "store/dialect.rs"]
mod store_dialect;

#[cfg(target_arch = "wasm32")]
mod entry {
    use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsValue};
    use worker::{event, web_sys, worker_sys, Context, Env, ScheduleContext, ScheduledEvent};

    /// Serves one HTTP request: `src/app/entry.mjs` reads the body (`None`: its declared length
    /// is over the limit) and turns the answer (`http::Answer::into_text`) into the runtime's
    /// `Response`. worker-rs's own `fetch` event would do the same through its request and
    /// response wrappers, which cost more than a warm verification: see docs/performance.md.
    /// The answer is the text itself when the request needed no I/O, else a `Promise` of it
    /// (`app::now_or_later`).
    #[wasm_bindgen]
    pub fn respond(
        request: web_sys::Request,
        body: Option<String>,
        env: Env,
        ctx: worker_sys::Context,
    ) -> Result<JsValue, JsValue> {
        crate::app::now_or_later(async move {
            let req = crate::http::Req::new(request, body);
            match crate::app::serve(req, env, Context::new(ctx)).await {
                Ok(answer) => Ok(JsValue::from(answer.into_text())),
                Err(e) => Err(JsValue::from(e)),
            }
        })
    }

    #[event(scheduled)]
    async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        crate::app::scheduled(env, event.schedule() as i64).await
    }
}
