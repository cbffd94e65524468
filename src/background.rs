//! Work that outlives a request's answer, or that other requests depend on: run as a `waitUntil`
//! task of the request being served (a client that hangs up does not cut it short), or as a plain
//! task where there is no request to outlive (the cron, a Durable Object).

use std::future::Future;
use std::rc::Rc;

#[derive(Clone, Default)]
pub struct Background(Option<Rc<worker::Context>>);

impl Background {
    pub fn new(ctx: Option<worker::Context>) -> Self {
        Background(ctx.map(Rc::new))
    }

    /// Runs `work` beside the request (see the module documentation).
    pub fn defer(&self, work: impl Future<Output = ()> + 'static) {
        match &self.0 {
            Some(ctx) => ctx.wait_until(work),
            None => worker::wasm_bindgen_futures::spawn_local(work),
        }
    }
}
