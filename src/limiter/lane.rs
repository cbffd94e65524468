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

/// A call's answers, as its batches answer: its own, and that of the call chained to it (if
/// any), and the lane it waits in now.
struct Answers {
    first: Option<LimiterResult<String>>,
    second: Option<LimiterResult<String>>,
    /// The chained call was sent (after the first answer allowed it): its answer is awaited too.
    chained: bool,
    /// The object whose lane the call waits in (the chained call's, once chained).
    object: String,
}

impl Answers {
    fn ready(&self) -> bool {
        self.first.is_some() && (!self.chained || self.second.is_some())
    }
}

type Slot = Rc<RefCell<Answers>>;

/// A call to send after a call's answer, by whoever receives that answer, when `when` says the
/// answer allows it (a spend after a rate-limit check that passed): the waiting request then
/// wakes once for both, instead of once per call (see `Limiters::limit_then_spend`).
pub struct Then {
    pub object: String,
    pub body: String,
    pub when: fn(&str) -> bool,
}

/// A call waiting in a lane: its message, where its answer goes, and the call chained to it.
pub struct Call {
    body: String,
    slot: Slot,
    second: bool,
    then: Option<Then>,
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
    /// Its answer, and the chained call's when it was sent.
    Answer(LimiterResult<String>, Option<LimiterResult<String>>),
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

/// A call joins the lane of `object` (with `then` to send after its answer); `true`: it sends
/// the next batch.
pub fn join(object: &str, body: String, then: Option<Then>) -> (Waiting, bool) {
    let answers = Answers { first: None, second: None, chained: false, object: object.to_string() };
    let slot: Slot = Rc::new(RefCell::new(answers));
    let call = Call { body, slot: slot.clone(), second: false, then };
    let joined = Date::now();
    (Waiting { slot, joined }, enter(object, call, joined))
}

fn enter(object: &str, call: Call, now: f64) -> bool {
    LANES.with(|l| l.borrow_mut().entry(object.to_string()).or_default().join(call, now))
}

/// The object whose lane a waiting call is in now (a chained call's, once it was sent).
pub fn object_of(waiting: &Waiting) -> String {
    waiting.slot.borrow().object.clone()
}

/// What a waiting call does next (see [`Next`]).
pub fn next(waiting: &Waiting) -> Next {
    let object = {
        let mut answers = waiting.slot.borrow_mut();
        if answers.ready() {
            let first = answers.first.take().unwrap_or_else(|| Err(left_without()));
            return Next::Answer(first, answers.second.take());
        }
        answers.object.clone()
    };
    let step =
        LANES.with(|l| l.borrow_mut().get_mut(&object).map(|lane| lane.step(Date::now(), waiting.joined)));
    match step {
        Some(Step::Lead) => Next::Lead,
        Some(Step::Sleep(ms)) => Next::Sleep(ms),
        Some(Step::Stalled) => Next::Answer(
            Err(LimiterError::Unreachable("the batch of this call did not answer in time".into())),
            None,
        ),
        None => Next::Answer(Err(left_without()), None),
    }
}

fn left_without() -> LimiterError {
    LimiterError::Protocol("a call was left without an answer".into())
}

/// How many calls wait in the lane of `object` (not counting the batch in flight).
pub fn waiting(object: &str) -> usize {
    LANES.with(|l| l.borrow().get(object).map_or(0, |lane| lane.waiting()))
}

/// The leader's batch.
pub fn take(object: &str) -> Vec<Call> {
    LANES.with(|l| l.borrow_mut().get_mut(object).map(|lane| lane.take(MAX_BATCH)).unwrap_or_default())
}

/// Leaves the answers of a batch for its calls, in order (a call without an answer is told so),
/// sends on the calls chained to them that their answers allow, and ends the batch. Returns
/// whether the caller sends the next batch at once (see `Lane::answered`), and the lanes of
/// chained calls that found no batch in flight: the caller sends those too.
pub fn answer(
    object: &str,
    batch: Vec<Call>,
    answers: Vec<LimiterResult<String>>,
    go_on: bool,
) -> (bool, Vec<String>) {
    let mut answers = answers.into_iter();
    let mut to_send = Vec::new();
    let now = Date::now();
    for call in batch {
        let answer = answers.next().unwrap_or_else(|| {
            Err(LimiterError::Protocol("the object answered fewer calls than it was sent".into()))
        });
        let then = call.then.filter(|then| answer.as_deref().is_ok_and(then.when));
        let mut slot = call.slot.borrow_mut();
        match (call.second, then) {
            (true, _) => slot.second = Some(answer),
            (false, None) => slot.first = Some(answer),
            (false, Some(then)) => {
                slot.first = Some(answer);
                slot.chained = true;
                slot.object = then.object.clone();
                let chained = Call { body: then.body, slot: call.slot.clone(), second: true, then: None };
                if enter(&then.object, chained, now) {
                    to_send.push(then.object);
                }
            }
        }
    }
    let go_on = LANES.with(|l| {
        let mut lanes = l.borrow_mut();
        let Some(lane) = lanes.get_mut(object) else { return false };
        let next = lane.answered(Date::now(), go_on);
        if lane.is_idle() {
            lanes.remove(object);
        }
        next
    });
    (go_on, to_send)
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
