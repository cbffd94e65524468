//! Runs a request's future at once when it can finish without waiting (a warm verification), and
//! hands it to wasm-bindgen's executor only when it must wait (I/O, a timer).
//!
//! An `async` export always goes the long way: a `Promise`, a task queued on the executor and run
//! from a microtask, its `resolve` called back from Wasm, the caller's `await` resumed: without
//! them a warm plain key serves about a fifth more (docs/performance.md).
//!
//! The first poll happens here, before the executor has a task (and so a waker) for the future.
//! It gets a [`Relay`]'s waker, which forwards a wake-up to the waker of the future's latest poll
//! by the executor. Most futures register the waker of every poll and never need the relay; it is
//! there for those that keep the waker of their first poll (worker-rs's `Delay` does), which
//! would otherwise wake nothing, and the request would never answer.

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::future_to_promise;

/// Forwards a wake-up to the waker of the future's latest poll by the executor.
#[derive(Default)]
struct Relay(Mutex<Option<Waker>>);

impl Relay {
    fn set(&self, waker: &Waker) {
        if let Ok(mut slot) = self.0.lock() {
            slot.replace(waker.clone());
        }
    }
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // before the executor has polled (nothing to forward to), its first poll comes anyway
        if let Ok(slot) = self.0.lock() {
            if let Some(waker) = slot.as_ref() {
                waker.wake_by_ref();
            }
        }
    }
}

/// The future's output when its first poll finishes it, else a `Promise` of it.
pub fn now_or_later(
    future: impl Future<Output = Result<JsValue, JsValue>> + 'static,
) -> Result<JsValue, JsValue> {
    let relay = Arc::new(Relay::default());
    let waker = Waker::from(relay.clone());
    let mut future = Box::pin(future);
    match future.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(output) => output,
        Poll::Pending => Ok(future_to_promise(async move {
            poll_fn(|cx| {
                relay.set(cx.waker());
                future.as_mut().poll(cx)
            })
            .await
        })
        .into()),
    }
}
