//! The usage limiter: one Durable Object per balance (a key's credits row, an identity's credits
//! row, or a legacy key column), named by the balance. It loads the balance from storage on first
//! use, applies a due refill, decides, and makes the deduction durable (a conditional
//! `UPDATE … WHERE remaining >= cost`) before it answers. Requests to one object run one at a
//! time (see [`Gate`]), so concurrent verifications can neither over- nor under-spend.
//!
//! Every balance write outside the object goes through it (`adjust`) or makes it reload
//! (`reload`) before the write returns (the credits service), so the next verification sees the
//! change. The SQL is conditional anyway, so a write the object was not told about (the refill
//! cron) cannot be lost: a mismatch makes the object reload and decide again.

use std::cell::RefCell;

use futures_channel::oneshot;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use super::client::BATCH_PATH;
use super::gate::Gate;
use super::protocol::{Idempotency, Reloaded, UsageOp, UsageReply};
use super::Answer;
use crate::domain::batch;
use crate::domain::credits::{Adjustment, Balance, SpendOutcome};
use crate::domain::group_commit::{Queue, Role};
use crate::domain::idempotency::TTL_MS;
use crate::domain::spend_text;
use crate::store::balances::{self, Adjusted, Stored, Written};
use crate::store::idempotency::{self as records, Claim};
use crate::store::{Stmt, Store, StoreResult};

/// A verification waiting for the next group commit.
struct Waiting {
    cost: i64,
    now: i64,
    /// Its `Idempotency-Key`: the answer is stored with the deduction.
    idempotency: Option<Idempotency>,
    reply: oneshot::Sender<Wake>,
}

/// A request with an `Idempotency-Key` being answered, and identical requests waiting for it.
struct InFlight {
    /// Workspace and key.
    slot: String,
    fingerprint: String,
    waiting: Vec<oneshot::Sender<Result<UsageReply, String>>>,
}

/// Removes a request's entry from the requests in flight when it is dropped unanswered (dropping
/// the waiters' senders tells them).
struct Abandoned<'a> {
    in_flight: &'a RefCell<Vec<InFlight>>,
    slot: &'a str,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Ok(mut list) = self.in_flight.try_borrow_mut() {
            list.retain(|f| f.slot != self.slot);
        }
    }
}

/// What a waiting spend is told.
enum Wake {
    /// Its outcome.
    Answer(Result<UsageReply, String>),
    /// It leads the next batch.
    Lead,
}

#[durable_object]
pub struct UsageLimiter {
    env: Env,
    gate: Gate,
    cache: RefCell<Option<(Balance, Stored)>>,
    /// Spends that arrived while a write was in flight; the next write decides them all.
    queue: RefCell<Queue<Waiting>>,
    /// Requests with an `Idempotency-Key` not answered yet, by key (one entry per request in
    /// progress, removed when it is answered).
    in_flight: RefCell<Vec<InFlight>>,
}

impl DurableObject for UsageLimiter {
    fn new(_state: State, env: Env) -> Self {
        UsageLimiter {
            env,
            gate: Gate::default(),
            cache: RefCell::new(None),
            queue: RefCell::new(Queue::default()),
            in_flight: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        self.handle(&req.path(), text).await.into_response()
    }
}

// the futures and js_sys crates as worker-rs re-exports them (not dependencies of their own)
#[wasm_bindgen(wasm_bindgen_futures = ::worker::wasm_bindgen_futures, js_sys = ::worker::js_sys)]
impl UsageLimiter {
    /// The worker's calls (see `client`): a JS RPC method of the entry's class for this object
    /// (src/app/entry.mjs), with no Request or Response around the message.
    pub async fn answer(&self, path: String, text: String) -> String {
        self.handle(&path, text).await.into_rpc()
    }
}

const NEGATIVE_COST: &str = "a cost must not be negative";

/// A message in either form: the short text of a spend (`true`), or JSON.
fn read_op(text: &str) -> Result<(bool, UsageOp), String> {
    match spend_text::parse_spend(text) {
        Some(spend) => {
            spend.map(|(balance, cost, now)| (true, UsageOp::Spend { balance, cost, now, idempotency: None }))
        }
        None => crate::domain::json::from_str::<UsageOp>(text)
            .map(|op| (false, op))
            .map_err(|e| format!("bad usage-limiter request: {e}")),
    }
}

fn spend_reply(outcome: SpendOutcome) -> UsageReply {
    match outcome {
        SpendOutcome::Valid { remaining, .. } => UsageReply::new(true, true, Some(remaining)),
        SpendOutcome::Exceeded { remaining } => UsageReply::new(true, false, Some(remaining)),
    }
}

/// The record of a spend's answer (see `store::idempotency::save`).
fn record(idem: &Idempotency, reply: &UsageReply) -> serde_json::Value {
    serde_json::json!({ "w": idem.workspace_id, "k": idem.key, "f": idem.fingerprint, "r": reply })
}

impl UsageLimiter {
    /// One message (`path`: a batch of spends or one operation) and its answer.
    async fn handle(&self, path: &str, text: String) -> Answer {
        if path == BATCH_PATH {
            return Answer::ok(batch::answer_lines(self.spend_batch(&text).await));
        }
        let (short, op) = match read_op(&text) {
            Ok(read) => read,
            Err(message) => return Answer::error(400, message),
        };
        match op {
            // costs are integers (the message decodes as i64) and never negative: a negative cost
            // would add credits
            UsageOp::Spend { cost, .. } if cost < 0 => Answer::error(400, NEGATIVE_COST),
            UsageOp::Spend { balance, cost, now, idempotency: None } => {
                Answer::text(self.spend(balance, cost, now, None).await.and_then(|r| r.text(short)))
            }
            UsageOp::Spend { balance, cost, now, idempotency: Some(idem) } => {
                let run = self.spend(balance, cost, now, Some(idem.clone()));
                Answer::json(self.once(&idem, now, run).await)
            }
            UsageOp::Adjust { balance, adjustment, now, idempotency, then } => {
                let run = async {
                    let _pass = self.gate.enter().await;
                    let result = self
                        .adjust(&balance, adjustment, now, idempotency.as_ref(), then)
                        .await
                        .map_err(|e| e.to_string());
                    if result.is_err() {
                        self.cache.replace(None);
                    }
                    result
                };
                match &idempotency {
                    Some(idem) => Answer::json(self.once(idem, now, run).await),
                    None => Answer::json(run.await),
                }
            }
            UsageOp::Commit { stmts } => {
                let _pass = self.gate.enter().await;
                let written = match self.store() {
                    Ok(store) => store.batch(stmts).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                // written or not (a failed batch may have been applied): read storage next time
                self.cache.replace(None);
                Answer::json(written.map(|()| Reloaded { reloaded: true }).map_err(|e| e.to_string()))
            }
            UsageOp::Reload => {
                let _pass = self.gate.enter().await;
                self.cache.replace(None);
                Answer::json(Ok(Reloaded { reloaded: true }))
            }
        }
    }

    fn store(&self) -> StoreResult<Store> {
        Store::from_env(&self.env)
    }

    async fn load(&self, balance: &Balance, fresh: bool) -> StoreResult<Stored> {
        if !fresh {
            if let Some((cached, stored)) = self.cache.borrow().as_ref() {
                if cached == balance {
                    return Ok(*stored);
                }
            }
        }
        let stored = balances::load(&self.store()?, balance).await?;
        self.cache.replace(match stored {
            Stored::Missing => None,
            other => Some((balance.clone(), other)),
        });
        Ok(stored)
    }

    /// Group commit: a spend joins the queue. When no flush is running it leads: it takes the
    /// whole queue as one batch (decided in memory in arrival order, written in one conditional
    /// statement, every request of it answered once the write is durable), then hands the lead to
    /// the first spend that queued meanwhile and returns. So no request waits for batches after
    /// its own, however long the load lasts.
    async fn spend(
        &self,
        balance: Balance,
        cost: i64,
        now: i64,
        idempotency: Option<Idempotency>,
    ) -> Result<UsageReply, String> {
        let (role, rx) = self.join(cost, now, idempotency.clone());
        self.settle(&balance, cost, now, idempotency, role, rx).await
    }

    /// The spends of a batch message from one isolate (a line each, see `lane`), all joining the
    /// queue at once, so they are decided and written together; an answer line each, in order,
    /// in the form of its spend (short text or JSON).
    async fn spend_batch(&self, text: &str) -> Vec<Result<String, String>> {
        let mut spends = Vec::new();
        for line in text.lines() {
            spends.push(match read_op(line) {
                Ok((short, UsageOp::Spend { balance, cost, now, idempotency: None })) if cost >= 0 => {
                    let (role, rx) = self.join(cost, now, None);
                    Ok((short, balance, cost, now, role, rx))
                }
                Ok((_, UsageOp::Spend { idempotency: None, .. })) => Err(NEGATIVE_COST.to_string()),
                Ok(_) => Err("a batch holds spends without an Idempotency-Key".to_string()),
                Err(e) => Err(e),
            });
        }
        // one at a time: the first spend still queued is always ahead of the later ones, so the
        // lead can only come to the one being awaited
        let mut answers = Vec::with_capacity(spends.len());
        for spend in spends {
            answers.push(match spend {
                Ok((short, balance, cost, now, role, rx)) => {
                    self.settle(&balance, cost, now, None, role, rx).await.and_then(|r| r.text(short))
                }
                Err(e) => Err(e),
            });
        }
        answers
    }

    fn join(&self, cost: i64, now: i64, idempotency: Option<Idempotency>) -> (Role, oneshot::Receiver<Wake>) {
        let (reply, rx) = oneshot::channel();
        (self.queue.borrow_mut().join(Waiting { cost, now, idempotency, reply }), rx)
    }

    /// Waits for a queued spend's answer, leading the batches it is handed.
    async fn settle(
        &self,
        balance: &Balance,
        cost: i64,
        now: i64,
        idempotency: Option<Idempotency>,
        mut role: Role,
        mut rx: oneshot::Receiver<Wake>,
    ) -> Result<UsageReply, String> {
        loop {
            if role == Role::Wait {
                match (&mut rx).await {
                    Ok(Wake::Answer(result)) => return result,
                    // handed the lead: we were taken off the queue, so rejoin it at its front
                    Ok(Wake::Lead) => {
                        let (tx, next) = oneshot::channel();
                        rx = next;
                        let idempotency = idempotency.clone();
                        self.queue.borrow_mut().rejoin(Waiting { cost, now, idempotency, reply: tx });
                        role = Role::Lead;
                    }
                    Err(_) => return Err("the deduction was abandoned".into()),
                }
                continue;
            }
            {
                let _pass = self.gate.enter().await;
                let batch = self.queue.borrow_mut().take();
                let rest = self.flush(balance, batch).await;
                self.queue.borrow_mut().requeue(rest);
            }
            self.hand_over();
            role = Role::Wait;
        }
    }

    /// Answers a request with an `Idempotency-Key` once: a key answered before (in storage) is
    /// answered again, a key being answered right now makes the request wait for that answer, and
    /// a key used for a different request is refused; otherwise `run` answers it (and stores the
    /// answer with the change it makes).
    async fn once(
        &self,
        idem: &Idempotency,
        now: i64,
        run: impl std::future::Future<Output = Result<UsageReply, String>>,
    ) -> Result<UsageReply, String> {
        let slot = format!("{}\n{}", idem.workspace_id, idem.key);
        let waiting = match self.in_flight.borrow_mut().iter_mut().find(|f| f.slot == slot) {
            Some(f) if f.fingerprint != idem.fingerprint => return Ok(UsageReply::REUSED),
            Some(f) => {
                let (tx, rx) = oneshot::channel();
                f.waiting.push(tx);
                Some(rx)
            }
            None => None,
        };
        if let Some(rx) = waiting {
            let answer = rx.await.map_err(|_| "the first request with this key was abandoned".to_string())?;
            return answer.map(|r| UsageReply { replayed: true, ..r });
        }
        self.in_flight.borrow_mut().push(InFlight {
            slot: slot.clone(),
            fingerprint: idem.fingerprint.clone(),
            waiting: Vec::new(),
        });
        // if this request goes away before it is answered, its waiters are told (they fail)
        // instead of waiting for ever
        let _abandoned = Abandoned { in_flight: &self.in_flight, slot: &slot };
        let answer = async {
            let store = self.store().map_err(|e| e.to_string())?;
            match records::find(&store, &idem.workspace_id, &idem.key, now)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(r) if r.fingerprint != idem.fingerprint => Ok(UsageReply::REUSED),
                Some(r) => crate::domain::json::from_str::<UsageReply>(&r.reply)
                    .map(|r| UsageReply { replayed: true, ..r })
                    .map_err(|e| e.to_string()),
                None => run.await,
            }
        }
        .await;
        let done = {
            let mut list = self.in_flight.borrow_mut();
            list.iter().position(|f| f.slot == slot).map(|i| list.swap_remove(i))
        };
        if let Some(f) = done {
            for w in f.waiting {
                let _ = w.send(answer.clone());
            }
        }
        answer
    }

    /// Gives the lead to the first waiting spend (it writes the next batch), or ends the flush.
    fn hand_over(&self) {
        loop {
            let next = self.queue.borrow_mut().next_leader();
            match next {
                Some(w) => {
                    // a spend whose request went away cannot lead; try the next
                    if w.reply.send(Wake::Lead).is_ok() {
                        return;
                    }
                }
                None => return,
            }
        }
    }

    /// Decides and writes one batch (a prefix of `batch`); returns the spends it left for the next.
    async fn flush(&self, balance: &Balance, mut batch: Vec<Waiting>) -> Vec<Waiting> {
        let answer = |batch: Vec<Waiting>, reply: &dyn Fn(usize) -> Result<UsageReply, String>| {
            for (i, w) in batch.into_iter().enumerate() {
                let _ = w.reply.send(Wake::Answer(reply(i)));
            }
        };
        // a mismatch between the cache and storage (a write we were not told about) reloads and
        // retries
        for attempt in 0..3 {
            match self.try_flush(balance, &batch, attempt > 0).await {
                Ok(Some((outcomes, taken))) => {
                    let rest = batch.split_off(taken);
                    answer(batch, &|i| Ok(outcomes.get(i).copied().unwrap_or(UsageReply::MISSING)));
                    return rest;
                }
                Ok(None) => self.cache.replace(None),
                Err(e) => {
                    self.cache.replace(None);
                    let message = e.to_string();
                    answer(batch, &|_| Err(message.clone()));
                    return Vec::new();
                }
            };
        }
        let id = balance.object_name().to_string();
        answer(batch, &|_| Err(format!("balance {id} kept changing during a deduction")));
        Vec::new()
    }

    /// One attempt: `None` when storage disagreed with the cache (nothing was deducted).
    async fn try_flush(
        &self,
        balance: &Balance,
        batch: &[Waiting],
        fresh: bool,
    ) -> StoreResult<Option<(Vec<UsageReply>, usize)>> {
        let state = match self.load(balance, fresh).await? {
            Stored::Missing => return Ok(Some((vec![UsageReply::MISSING; batch.len()], batch.len()))),
            Stored::Unlimited => return Ok(Some((vec![UsageReply::UNLIMITED; batch.len()], batch.len()))),
            Stored::Limited(state) => state,
        };
        let spends: Vec<(i64, i64)> = batch.iter().map(|w| (w.cost, w.now)).collect();
        let plan = state.plan_batch(&spends);
        let replies: Vec<UsageReply> = plan.outcomes.iter().copied().map(spend_reply).collect();
        let taken = replies.len();
        let (first_now, last_now) = (spends[0].1, spends[taken.max(1) - 1].1);
        let kept: Vec<serde_json::Value> = batch[..taken]
            .iter()
            .zip(&replies)
            .filter_map(|(w, r)| w.idempotency.as_ref().map(|idem| record(idem, r)))
            .collect();
        let records =
            (!kept.is_empty()).then(|| (serde_json::Value::from(kept).to_string(), last_now + TTL_MS));
        let written = balances::write_spends(
            &self.store()?,
            balance,
            plan.refill.as_ref(),
            first_now,
            plan.deducted,
            last_now,
            records,
        )
        .await?;
        let remaining = match written {
            Written::Nothing => return Ok(Some((replies, taken))),
            Written::Mismatch => return Ok(None),
            Written::Balance(remaining) => remaining,
        };
        // a balance changed behind our back by a compatible amount is taken as it is now
        let after = crate::domain::credits::BalanceState { remaining, ..plan.after };
        self.cache.replace(Some((balance.clone(), Stored::Limited(after))));
        Ok(Some((replies, taken)))
    }

    async fn adjust(
        &self,
        balance: &Balance,
        adjustment: Adjustment,
        now: i64,
        idempotency: Option<&Idempotency>,
        then: Vec<Stmt>,
    ) -> StoreResult<UsageReply> {
        let state = match self.load(balance, true).await? {
            // the rest of the change is still written (its statements that depend on the
            // balance's change see none)
            Stored::Missing if then.is_empty() => return Ok(UsageReply::MISSING),
            Stored::Missing | Stored::Unlimited => None,
            Stored::Limited(state) => Some(state),
        };
        // a refill that was due before the change happens first
        let due = state.and_then(|s| s.due_refill(now));
        let claim = idempotency.map(|i| {
            let claim = Claim { workspace_id: &i.workspace_id, key: &i.key, fingerprint: &i.fingerprint };
            (claim, now + TTL_MS)
        });
        let written =
            balances::adjust(&self.store()?, balance, due.as_ref(), adjustment, now, claim, then).await;
        self.cache.replace(None);
        Ok(match written? {
            Adjusted::Missing => UsageReply::MISSING,
            Adjusted::Written(remaining) => UsageReply::new(true, true, remaining),
            // refused: the result would leave ±(2^53 − 1)
            Adjusted::OutOfRange(remaining) => UsageReply::new(true, false, Some(remaining)),
        })
    }
}
