//! The isolate's lanes to its limiter objects: calls to one object that arrive while a call to it
//! is in flight wait, and go together in the next message (group commit on the worker's side).
//! Concurrent verifications of one key then cost one object hop per batch instead of one each;
//! each call is still decided by the object on its own, in arrival order.
//!
//! Every request does its own waiting: the batch is sent by a `waitUntil` task of the request that
//! found the lane idle, its answers are left in memory, and each waiting request looks for its
//! answer when its own timer fires. Nothing of one request resumes code of another: the runtime
//! runs a continuation that another request resumed in that other request's context, where its
//! I/O fails ("Cannot perform I/O on behalf of a different request"), and a request whose client
//! went away never resumes at all. When a batch is answered and calls wait, the first of them
//! whose timer fires sends the next batch, so the lead never passes to a request that is gone.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use worker::js_sys::{Date, Function, Promise};
use worker::wasm_bindgen_futures::JsFuture;

use super::client::{LimiterError, LimiterResult};
use crate::domain::batch::{self, Lane, Step};

/// The most calls one message carries.
const MAX_BATCH: usize = 128;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
}

/// A call's answer, once its batch is answered.
type Slot = Rc<RefCell<Option<LimiterResult<String>>>>;

/// A call waiting in a lane: its message and where its answer goes.
pub struct Call {
    body: String,
    slot: Slot,
}

impl Call {
    pub fn body(&self) -> &str {
        &self.body
    }
}

thread_local! {
    /// The lanes with calls waiting or in flight, by object (binding and name).
    static LANES: RefCell<HashMap<String, Lane<Call>>> = RefCell::new(HashMap::new());
}

/// What a waiting call does next.
pub enum Next {
    /// Its answer.
    Answer(LimiterResult<String>),
    /// Send the lane's next batch (then wait for the answer).
    Lead,
    /// Sleep this many ms, then look again.
    Sleep(f64),
}

/// A waiting call: where its answer comes, and when it joined.
pub struct Waiting {
    slot: Slot,
    joined: f64,
}

/// A call joins the lane of `object`; `true`: it sends the next batch.
pub fn join(object: &str, body: String) -> (Waiting, bool) {
    let slot: Slot = Rc::new(RefCell::new(None));
    let call = Call { body, slot: slot.clone() };
    let joined = Date::now();
    let lead = LANES.with(|l| l.borrow_mut().entry(object.to_string()).or_default().join(call, joined));
    (Waiting { slot, joined }, lead)
}

/// What a waiting call does next (see [`Next`]).
pub fn next(object: &str, waiting: &Waiting) -> Next {
    if let Some(answer) = waiting.slot.borrow_mut().take() {
        return Next::Answer(answer);
    }
    let step =
        LANES.with(|l| l.borrow_mut().get_mut(object).map(|lane| lane.step(Date::now(), waiting.joined)));
    match step {
        Some(Step::Lead) => Next::Lead,
        Some(Step::Sleep(ms)) => Next::Sleep(ms),
        Some(Step::Stalled) => Next::Answer(Err(LimiterError::Unreachable(
            "the batch of this call did not answer in time".into(),
        ))),
        None => Next::Answer(Err(LimiterError::Protocol("a call was left without an answer".into()))),
    }
}

/// The leader's batch.
pub fn take(object: &str) -> Vec<Call> {
    LANES.with(|l| l.borrow_mut().get_mut(object).map(|lane| lane.take(MAX_BATCH)).unwrap_or_default())
}

/// Leaves the answers of a batch for its calls, in order (a call without an answer is told so),
/// and ends the batch; `true`: the caller sends the next one at once (see `Lane::answered`).
pub fn answer(object: &str, batch: Vec<Call>, answers: Vec<LimiterResult<String>>, go_on: bool) -> bool {
    let mut answers = answers.into_iter();
    for call in batch {
        let answer = answers.next().unwrap_or_else(|| {
            Err(LimiterError::Protocol("the object answered fewer calls than it was sent".into()))
        });
        call.slot.replace(Some(answer));
    }
    LANES.with(|l| {
        let mut lanes = l.borrow_mut();
        let Some(lane) = lanes.get_mut(object) else { return false };
        let next = lane.answered(Date::now(), go_on);
        if lane.is_idle() {
            lanes.remove(object);
        }
        next
    })
}

/// Sleeps `ms` on a timer of the current request.
pub async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// One message for several calls (see `domain::batch`).
pub fn batch_body(batch: &[Call]) -> String {
    batch::join(batch.iter().map(|c| c.body.as_str()))
}

/// The answers to a batch message.
pub fn batch_answers(text: &str) -> Vec<LimiterResult<String>> {
    batch::answers(text).into_iter().map(|a| a.map_err(LimiterError::Failed)).collect()
}
