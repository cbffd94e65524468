//! The worker's side of the limiter objects: one generic Durable Object call (JSON request,
//! JSON reply) and the typed operations built on it.

use std::fmt;

use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Env};

use super::lane::{self, Next};
use super::protocol::{Idempotency, RateReply, RateRequest, Reloaded, UsageOp, UsageReply};
use crate::background::Background;
use crate::domain::credits::{Adjustment, Balance};
use crate::domain::ratelimit::{Algorithm, LimitCheck};
use crate::domain::{rate_text, spend_text};
use crate::store::Stmt;

/// Why a limiter call failed; `code()` is stable. Nothing was charged or counted unless the
/// object answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimiterError {
    /// The object could not be reached.
    Unreachable(String),
    /// The object answered with an error.
    Failed(String),
    /// A message could not be encoded or decoded.
    Protocol(String),
}

impl LimiterError {
    pub fn code(&self) -> &'static str {
        match self {
            LimiterError::Unreachable(_) => "limiter.unreachable",
            LimiterError::Failed(_) => "limiter.failed",
            LimiterError::Protocol(_) => "limiter.protocol",
        }
    }
}

impl fmt::Display for LimiterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimiterError::Unreachable(m) | LimiterError::Failed(m) | LimiterError::Protocol(m) => {
                write!(f, "{}: {m}", self.code())
            }
        }
    }
}

pub type LimiterResult<T> = Result<T, LimiterError>;

/// The path of a message to a limiter object with one call.
const ONE_PATH: &str = "/";
/// The path of a message with several calls, a line each (see `lane`).
pub const BATCH_PATH: &str = "/batch";
/// The URLs of the two paths, for a `fetch` to an object (only the path and the body matter).
const ONE_URL: &str = "https://limiter/";
const BATCH_URL: &str = "https://limiter/batch";

#[wasm_bindgen]
extern "C" {
    /// A Durable Object stub as the runtime hands it out.
    type RawStub;

    /// A request to the object (the rate limiters).
    #[wasm_bindgen(method, catch)]
    fn fetch(
        this: &RawStub,
        url: &str,
        init: &web_sys::RequestInit,
    ) -> Result<worker::js_sys::Promise, JsValue>;

    /// The usage limiters' JS RPC method (`UsageLimiter::answer`).
    #[wasm_bindgen(method, catch)]
    fn answer(this: &RawStub, path: &str, text: &str) -> Result<worker::js_sys::Promise, JsValue>;
}

/// An object's answer as its RPC method returns it (`limiter::Answer`): the status, a space, the
/// text.
fn rpc_answer(reply: &str) -> LimiterResult<String> {
    match reply.split_once(' ') {
        Some(("200", text)) => Ok(text.to_string()),
        Some((_, message)) => Err(LimiterError::Failed(message.to_string())),
        None => Err(LimiterError::Protocol(format!("a limiter answered {reply:?}"))),
    }
}

/// The Durable Object namespaces of the limiters.
#[derive(Clone)]
pub struct Limiters {
    env: Env,
    /// The request being served: a batch of coalesced calls runs as its `waitUntil` task, so a
    /// client that goes away does not cut the batch (and the calls of other requests in it) short.
    background: Background,
}

/// The lane of the object `name` of `binding` (see `lane`).
fn lane_of(binding: &str, name: &str) -> String {
    format!("{binding}\n{name}")
}

fn encode<Q: Serialize>(message: &Q) -> LimiterResult<String> {
    serde_json::to_string(message).map_err(|e| LimiterError::Protocol(e.to_string()))
}

fn decode<R: DeserializeOwned>(text: &str) -> LimiterResult<R> {
    crate::domain::json::from_str(text).map_err(|e| LimiterError::Protocol(e.to_string()))
}

/// A spend without an `Idempotency-Key`: its short text (`domain::spend_text`), or JSON for a
/// balance id the short text cannot hold.
fn spend_body(balance: &Balance, cost: i64, now: i64) -> LimiterResult<String> {
    match spend_text::spend(balance, cost, now) {
        Some(text) => Ok(text),
        None => encode(&UsageOp::Spend { balance: balance.clone(), cost, now, idempotency: None }),
    }
}

/// A check without an `Idempotency-Key`: its short text (`domain::rate_text`), or JSON for a
/// name the short text cannot hold.
fn check_body(limits: Vec<LimitCheck>, now: i64, algorithm: Algorithm) -> LimiterResult<String> {
    match rate_text::request(&limits, now, algorithm) {
        Some(text) => Ok(text),
        None => encode(&RateRequest {
            limits,
            now,
            algorithm,
            refund: false,
            idempotency: None,
            report_size: false,
        }),
    }
}

/// A rate limiter's answer that lets the chained spend go (see [`Limiters::limit_then_spend`]).
fn passed(text: &str) -> bool {
    RateReply::read(text).is_ok_and(|reply| reply.passed)
}

/// The most batches one request's task sends for its lane in a row.
const DRAIN_BATCHES: u32 = 8;

/// How long (ms) the sender of a lane's next batch lets the lane fill when fewer calls wait than
/// the last batch carried (a timer fires a millisecond or more after it is asked).
const FILL_MS: f64 = 1.0;

const USAGE: &str = "USAGE_LIMITER";
const RATE: &str = "RATE_LIMITER";

impl Limiters {
    pub fn new(env: Env, background: Background) -> Self {
        Limiters { env, background }
    }

    /// Sends `message` to the object `name` of `binding` and decodes its reply. A `coalesced`
    /// message joins the isolate's lane to that object (see `lane`): while a call to the object is
    /// in flight it waits and goes with the others in the next batch.
    async fn call<Q: Serialize, R: DeserializeOwned>(
        &self,
        binding: &'static str,
        name: &str,
        message: &Q,
        coalesced: bool,
    ) -> LimiterResult<R> {
        let body = encode(message)?;
        let text = match coalesced {
            true => self.send_coalesced(lane_of(binding, name), body, None).await.0?,
            false => self.send(binding, name, ONE_PATH, &body).await?,
        };
        decode(&text)
    }

    /// A call through the lane of its object (see `lane`): the call that finds no batch in
    /// flight sends one (as a `waitUntil` task of its request, which a client that goes away
    /// does not cut short); every call waits for its answer on its own timers. With `then`, the
    /// call chained to it is sent as soon as its answer allows, and its answer comes too.
    async fn send_coalesced(
        &self,
        object: String,
        body: String,
        then: Option<lane::Then>,
    ) -> (LimiterResult<String>, Option<LimiterResult<String>>) {
        let (waiting, mut lead) = lane::join(&object, body, then);
        loop {
            if std::mem::take(&mut lead) {
                let (done, sent) = oneshot::channel();
                self.spawn_flush(lane::object_of(&waiting), Some(done));
                // the leader's batch holds its own call: wait for that task (of this request)
                let _ = sent.await;
            }
            match lane::next(&waiting) {
                Next::Answer(first, second) => return (first, second),
                Next::Lead => lead = true,
                Next::Sleep(ms) => lane::sleep(ms).await,
            }
        }
    }

    /// Runs [`Limiters::flush`] for the lane of `object` as a `waitUntil` task of this request.
    fn spawn_flush(&self, object: String, done: Option<oneshot::Sender<()>>) {
        let this = self.clone();
        self.background.defer(async move { this.flush(&object, done).await });
    }

    /// Sends the lane's next batch (one call: its own message; more: a batch message), leaves
    /// the answers for its calls, sends the calls chained to them that found their lane idle,
    /// and tells `done` (the leader, whose call is in it). Then, while calls keep waiting, sends
    /// their batches too (each after [`FILL_MS`] when fewer wait than the last batch carried),
    /// up to [`DRAIN_BATCHES`] (a waiting call sends the next after that: a `waitUntil` task is
    /// not meant to run for ever).
    async fn flush(&self, object: &str, mut done: Option<oneshot::Sender<()>>) {
        let Some((binding, name)) = object.split_once('\n') else { return };
        let mut last = 0;
        for round in 1..=DRAIN_BATCHES {
            // Under load, fewer calls wait when a batch answers than it carried (the others'
            // requests are still finishing): one timer tick lets the lane fill first. A batch
            // costs far more than a call (the hop, the object's write: ~1.6 ms of CPU locally
            // against ~0.14 ms), so bigger batches serve more (docs/performance.md).
            if round > 1 && lane::waiting(object) < last {
                lane::sleep(FILL_MS).await;
            }
            let batch = lane::take(object);
            last = batch.len();
            let answers = match batch.as_slice() {
                [] => Vec::new(),
                [one] => vec![self.send(binding, name, ONE_PATH, one.body()).await],
                calls => match self.send(binding, name, BATCH_PATH, &lane::batch_body(calls)).await {
                    Ok(text) => lane::batch_answers(&text),
                    Err(e) => vec![Err(e); calls.len()],
                },
            };
            let (go_on, chained) = lane::answer(object, batch, answers, round < DRAIN_BATCHES);
            for other in chained {
                self.spawn_flush(other, None);
            }
            if let Some(done) = done.take() {
                let _ = done.send(());
            }
            if !go_on {
                return;
            }
        }
    }

    /// One message to an object and its reply's text (not generic: compiled once). The usage
    /// limiters are called by their JS RPC method, with no Request and Response around the
    /// message (each built and read on both sides of the hop); the rate limiters by `fetch`, whose
    /// slower round trip lets more calls gather in their lane. Measured (docs/performance.md): RPC
    /// served more verifications with credits and fewer with a rate limit.
    async fn send(&self, binding: &str, name: &str, path: &str, body: &str) -> LimiterResult<String> {
        let unreachable = |e: worker::Error| LimiterError::Unreachable(e.to_string());
        let js = |e: JsValue| unreachable(worker::Error::from(e));
        let namespace = self.env.durable_object(binding).map_err(unreachable)?;
        let stub: RawStub =
            namespace.id_from_name(name).and_then(|id| id.get_stub()).map_err(unreachable)?.into_rpc();
        if binding == USAGE {
            let reply = JsFuture::from(stub.answer(path, body).map_err(js)?).await.map_err(js)?;
            return rpc_answer(&reply.as_string().unwrap_or_default());
        }
        // the stub's own `fetch`, the reply read with `text()` (worker-rs's `Stub::fetch_with_request`
        // builds the request through serde and reads the reply as a stream, chunk by chunk)
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(body));
        let url = if path == BATCH_PATH { BATCH_URL } else { ONE_URL };
        let reply = JsFuture::from(stub.fetch(url, &init).map_err(js)?).await.map_err(js)?;
        let reply: web_sys::Response = reply.unchecked_into();
        let text =
            JsFuture::from(reply.text().map_err(js)?).await.map_err(js)?.as_string().unwrap_or_default();
        if reply.status() != 200 {
            return Err(LimiterError::Failed(text));
        }
        Ok(text)
    }

    /// Charges `cost` to `balance` at `now` (once per `idempotency` key).
    pub async fn spend(
        &self,
        balance: &Balance,
        cost: i64,
        now: i64,
        idempotency: Option<Idempotency>,
    ) -> LimiterResult<UsageReply> {
        if idempotency.is_some() {
            let op = UsageOp::Spend { balance: balance.clone(), cost, now, idempotency };
            return self.call(USAGE, balance.object_name(), &op, false).await;
        }
        let body = spend_body(balance, cost, now)?;
        let (answer, _) = self.send_coalesced(lane_of(USAGE, balance.object_name()), body, None).await;
        UsageReply::read(&answer?).map_err(LimiterError::Protocol)
    }

    /// Changes `balance` through its limiter (a refill due at `now` is applied first), with
    /// `then` (the rest of the change) in the same transaction; once per `idempotency` key.
    pub async fn adjust(
        &self,
        balance: &Balance,
        adjustment: Adjustment,
        now: i64,
        idempotency: Option<Idempotency>,
        then: Vec<Stmt>,
    ) -> LimiterResult<UsageReply> {
        let op = UsageOp::Adjust { balance: balance.clone(), adjustment, now, idempotency, then };
        self.call(USAGE, balance.object_name(), &op, false).await
    }

    /// Writes `stmts` (one transaction) through the limiter of `balance`, which reads storage
    /// again afterwards.
    pub async fn commit(&self, balance: &Balance, stmts: Vec<Stmt>) -> LimiterResult<()> {
        let _: Reloaded = self.call(USAGE, balance.object_name(), &UsageOp::Commit { stmts }, false).await?;
        Ok(())
    }

    /// Makes the limiter of `balance` read storage again on its next request.
    pub async fn reload(&self, balance: &Balance) -> LimiterResult<()> {
        let _: Reloaded = self.call(USAGE, balance.object_name(), &UsageOp::Reload, false).await?;
        Ok(())
    }

    /// Checks `limits` for `identifier` at `now`, all-or-nothing (once per `idempotency` key).
    pub async fn limit(
        &self,
        identifier: &str,
        limits: Vec<LimitCheck>,
        now: i64,
        algorithm: Algorithm,
        idempotency: Option<Idempotency>,
    ) -> LimiterResult<RateReply> {
        if idempotency.is_some() {
            let request =
                RateRequest { limits, now, algorithm, refund: false, idempotency, report_size: false };
            return self.call(RATE, identifier, &request, false).await;
        }
        let body = check_body(limits, now, algorithm)?;
        let (answer, _) = self.send_coalesced(lane_of(RATE, identifier), body, None).await;
        RateReply::read(&answer?).map_err(LimiterError::Protocol)
    }

    /// [`Limiters::limit`] without an `Idempotency-Key`, and when it passes the spend of `cost`
    /// from `balance`, sent by whoever receives the check's answer: the request waits once for
    /// both (two waits otherwise, each about a timer's delay under load). The spend is made only
    /// if every limit passed; its reply comes with the check's.
    pub async fn limit_then_spend(
        &self,
        identifier: &str,
        limits: Vec<LimitCheck>,
        now: i64,
        algorithm: Algorithm,
        balance: &Balance,
        cost: i64,
    ) -> LimiterResult<(RateReply, Option<UsageReply>)> {
        let check = check_body(limits, now, algorithm)?;
        let spend = spend_body(balance, cost, now)?;
        let then = lane::Then { object: lane_of(USAGE, balance.object_name()), body: spend, when: passed };
        let (first, second) = self.send_coalesced(lane_of(RATE, identifier), check, Some(then)).await;
        let reply = RateReply::read(&first?).map_err(LimiterError::Protocol)?;
        let spent = match (reply.passed, second) {
            (true, Some(answer)) => Some(UsageReply::read(&answer?).map_err(LimiterError::Protocol)?),
            (true, None) => {
                return Err(LimiterError::Protocol("the spend after a passed check was not sent".into()))
            }
            (false, _) => None,
        };
        Ok((reply, spent))
    }

    /// Takes back what [`Limiters::limit`] counted for `identifier` at `now`.
    pub async fn refund(&self, identifier: &str, limits: Vec<LimitCheck>, now: i64) -> LimiterResult<()> {
        let request = RateRequest {
            limits,
            now,
            algorithm: Algorithm::Fixed,
            refund: true,
            idempotency: None,
            report_size: false,
        };
        let _: RateReply = self.call(RATE, identifier, &request, false).await?;
        Ok(())
    }
}
