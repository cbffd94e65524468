//! The usage limiter: one Durable Object per balance (a key's credits row, an identity's credits
//! row, or a legacy key column), named by the balance. It loads the balance from D1 on first use,
//! applies a due refill, decides, and makes the deduction durable in D1 (a conditional
//! `UPDATE … WHERE remaining >= cost`) before it answers. Requests to one object run one at a
//! time (see [`Gate`]), so concurrent verifications can neither over- nor under-spend.
//!
//! Every balance write outside the object goes through it (`adjust`) or makes it reload
//! (`reload`) before the write returns, so the next verification sees the change. The SQL is
//! conditional anyway, so a write the object was not told about (the refill cron) cannot be lost:
//! a mismatch makes the object reload and decide again.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use futures_channel::oneshot;

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{durable_object, D1Database, DurableObject, Env, Method, Request, RequestInit, Response, State};

use super::gate::Gate;
use crate::domain::credits::{Adjustment, Balance, BalanceState, RefillConfig, SpendOutcome};
use crate::domain::refill::Interval;
use crate::http::{ApiError, ApiResult};
use crate::stmt;

/// A request to a usage limiter.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum UsageOp {
    /// Charge `cost` (>= 0) for a verification at `now` (unix ms).
    Spend { balance: Balance, cost: i64, now: i64 },
    /// Change the balance (keys.updateRemaining, keys.updateKey).
    Adjust { balance: Balance, adjustment: Adjustment, now: i64 },
    /// Forget the cached balance; the next request reads D1 again.
    Reload,
}

/// The limiter's answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsageReply {
    /// The balance exists (a deleted credits row or key does not).
    pub exists: bool,
    pub valid: bool,
    /// The balance after the operation (`max(0, balance)` when rejected); `None` = unlimited.
    pub remaining: Option<i64>,
}

impl UsageReply {
    const MISSING: UsageReply = UsageReply { exists: false, valid: true, remaining: None };
    const UNLIMITED: UsageReply = UsageReply { exists: true, valid: true, remaining: None };
}

/// The SQL of one storage kind. `?1` is the row id everywhere.
struct Statements {
    load: &'static str,
    /// `?2` amount, `?3` now, `?4` boundary.
    refill: &'static str,
    /// `?2` cost, `?3` now.
    deduct: &'static str,
    /// `?2` value, `?3` now.
    increment: &'static str,
    decrement: &'static str,
    set: &'static str,
}

const CREDITS: Statements = Statements {
    load: "SELECT remaining, refill_amount, refill_day, COALESCE(refilled_at, created_at) AS last_refill
           FROM credits WHERE id = ?1",
    refill: "UPDATE credits SET remaining = MAX(remaining, ?2), refilled_at = ?3, updated_at = ?3
             WHERE id = ?1 AND refill_amount = ?2 AND COALESCE(refilled_at, created_at) < ?4
             RETURNING remaining",
    deduct: "UPDATE credits SET remaining = remaining - ?2, updated_at = ?3
             WHERE id = ?1 AND remaining >= ?2 RETURNING remaining",
    increment:
        "UPDATE credits SET remaining = remaining + ?2, updated_at = ?3 WHERE id = ?1 RETURNING remaining",
    decrement:
        "UPDATE credits SET remaining = remaining - ?2, updated_at = ?3 WHERE id = ?1 RETURNING remaining",
    set: "UPDATE credits SET remaining = ?2, updated_at = ?3 WHERE id = ?1 RETURNING remaining",
};

const LEGACY: Statements = Statements {
    load: "SELECT remaining_requests AS remaining, refill_amount, refill_day,
                  COALESCE(last_refill_at, created_at_m) AS last_refill
           FROM keys WHERE id = ?1 AND deleted_at_m IS NULL",
    refill: "UPDATE keys SET remaining_requests = MAX(remaining_requests, ?2), last_refill_at = ?3, updated_at_m = ?3
             WHERE id = ?1 AND remaining_requests IS NOT NULL AND refill_amount = ?2
               AND COALESCE(last_refill_at, created_at_m) < ?4
             RETURNING remaining_requests AS remaining",
    deduct: "UPDATE keys SET remaining_requests = remaining_requests - ?2, updated_at_m = ?3
             WHERE id = ?1 AND remaining_requests >= ?2 RETURNING remaining_requests AS remaining",
    increment: "UPDATE keys SET remaining_requests = remaining_requests + ?2, updated_at_m = ?3
                WHERE id = ?1 RETURNING remaining_requests AS remaining",
    decrement: "UPDATE keys SET remaining_requests = remaining_requests - ?2, updated_at_m = ?3
                WHERE id = ?1 RETURNING remaining_requests AS remaining",
    set: "UPDATE keys SET remaining_requests = ?2, updated_at_m = ?3 WHERE id = ?1
          RETURNING remaining_requests AS remaining",
};

fn statements(balance: &Balance) -> &'static Statements {
    match balance {
        Balance::IdentityCredits(_) | Balance::KeyCredits(_) => &CREDITS,
        Balance::LegacyKey(_) => &LEGACY,
    }
}

#[derive(Deserialize)]
struct Row {
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_day: Option<i64>,
    last_refill: i64,
}

#[derive(Deserialize)]
struct Remaining {
    remaining: Option<i64>,
}

/// A balance as last read from D1.
#[derive(Debug, Clone, Copy)]
enum Loaded {
    Missing,
    /// A legacy key whose `remaining_requests` is NULL.
    Unlimited,
    Limited(BalanceState),
}

/// A verification waiting for the next group commit.
struct Waiting {
    cost: i64,
    now: i64,
    reply: oneshot::Sender<Result<UsageReply, String>>,
}

#[durable_object]
pub struct UsageLimiter {
    env: Env,
    gate: Gate,
    cache: RefCell<Option<(Balance, Loaded)>>,
    /// Spends that arrived while a write was in flight; the next write decides them all.
    waiting: RefCell<VecDeque<Waiting>>,
    flushing: Cell<bool>,
}

impl DurableObject for UsageLimiter {
    fn new(_state: State, env: Env) -> Self {
        UsageLimiter {
            env,
            gate: Gate::default(),
            cache: RefCell::new(None),
            waiting: RefCell::new(VecDeque::new()),
            flushing: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let op: UsageOp = req.json().await?;
        let result = match op {
            UsageOp::Spend { balance, cost, now } => self.spend(balance, cost, now).await,
            UsageOp::Adjust { balance, adjustment, now } => {
                let _pass = self.gate.enter().await;
                self.adjust(&balance, adjustment, now).await
            }
            UsageOp::Reload => {
                let _pass = self.gate.enter().await;
                self.cache.replace(None);
                Ok(UsageReply::MISSING)
            }
        };
        match result {
            Ok(reply) => Response::from_json(&reply),
            Err(e) => {
                self.cache.replace(None);
                Response::error(e.to_string(), 500)
            }
        }
    }
}

/// The first `remaining` a `… RETURNING remaining` statement gave, if it changed a row.
fn returned(result: &worker::D1Result) -> worker::Result<Option<Option<i64>>> {
    Ok(result.results::<Remaining>()?.into_iter().next().map(|r| r.remaining))
}

impl UsageLimiter {
    fn db(&self) -> worker::Result<D1Database> {
        self.env.d1("DB")
    }

    async fn load(&self, balance: &Balance, fresh: bool) -> worker::Result<Loaded> {
        if !fresh {
            if let Some((cached, loaded)) = self.cache.borrow().as_ref() {
                if cached == balance {
                    return Ok(*loaded);
                }
            }
        }
        let db = self.db()?;
        let row: Option<Row> =
            stmt!(&db, statements(balance).load, balance.object_name())?.first(None).await?;
        let loaded = match row {
            None => Loaded::Missing,
            Some(Row { remaining: None, .. }) => Loaded::Unlimited,
            Some(Row { remaining: Some(remaining), refill_amount, refill_day, last_refill }) => {
                Loaded::Limited(BalanceState {
                    remaining,
                    refill: refill_amount.filter(|a| *a > 0).map(|amount| RefillConfig {
                        amount,
                        interval: Interval::from_refill_day(refill_day),
                    }),
                    last_refill,
                })
            }
        };
        self.cache.replace(match loaded {
            Loaded::Missing => None,
            other => Some((balance.clone(), other)),
        });
        Ok(loaded)
    }

    /// Group commit: a spend joins the queue; whoever finds no flush running flushes the queue,
    /// batch after batch, each decided in memory in arrival order and written to D1 in one
    /// conditional statement before any of its requests is answered.
    async fn spend(&self, balance: Balance, cost: i64, now: i64) -> worker::Result<UsageReply> {
        let (tx, rx) = oneshot::channel();
        self.waiting.borrow_mut().push_back(Waiting { cost, now, reply: tx });
        if !self.flushing.replace(true) {
            loop {
                let _pass = self.gate.enter().await;
                let batch: Vec<Waiting> = self.waiting.borrow_mut().drain(..).collect();
                if batch.is_empty() {
                    break;
                }
                let rest = self.flush(&balance, batch).await;
                let mut waiting = self.waiting.borrow_mut();
                for w in rest.into_iter().rev() {
                    waiting.push_front(w);
                }
            }
            self.flushing.set(false);
        }
        match rx.await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(message)) => Err(worker::Error::RustError(message)),
            Err(_) => Err(worker::Error::RustError("the deduction was abandoned".into())),
        }
    }

    /// Decides and writes one batch (a prefix of `batch`); returns the spends it left for the next.
    async fn flush(&self, balance: &Balance, mut batch: Vec<Waiting>) -> Vec<Waiting> {
        let answer = |batch: Vec<Waiting>, reply: &dyn Fn(usize) -> Result<UsageReply, String>| {
            for (i, w) in batch.into_iter().enumerate() {
                let _ = w.reply.send(reply(i));
            }
        };
        // a mismatch between the cache and D1 (a write we were not told about) reloads and retries
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

    /// One attempt: `None` when D1 disagreed with the cache (nothing was deducted).
    async fn try_flush(
        &self,
        balance: &Balance,
        batch: &[Waiting],
        fresh: bool,
    ) -> worker::Result<Option<(Vec<UsageReply>, usize)>> {
        let state = match self.load(balance, fresh).await? {
            Loaded::Missing => return Ok(Some((vec![UsageReply::MISSING; batch.len()], batch.len()))),
            Loaded::Unlimited => return Ok(Some((vec![UsageReply::UNLIMITED; batch.len()], batch.len()))),
            Loaded::Limited(state) => state,
        };
        let spends: Vec<(i64, i64)> = batch.iter().map(|w| (w.cost, w.now)).collect();
        let plan = state.plan_batch(&spends);
        let replies: Vec<UsageReply> = plan.outcomes.iter().copied().map(reply).collect();
        let taken = replies.len();
        let (first_now, last_now) = (spends[0].1, spends[taken.max(1) - 1].1);
        let sql = statements(balance);
        let id = balance.object_name();
        let db = self.db()?;
        let mut stmts = Vec::with_capacity(2);
        if let Some(refill) = plan.refill {
            stmts.push(stmt!(&db, sql.refill, id, refill.amount, first_now, refill.boundary)?);
        }
        if plan.deducted > 0 {
            stmts.push(stmt!(&db, sql.deduct, id, plan.deducted, last_now)?);
        }
        if stmts.is_empty() {
            return Ok(Some((replies, taken)));
        }
        let results = db.batch(stmts).await?;
        // with a deduction, its own RETURNING is the truth (a refill the cron already made does
        // not match, which is fine: it set the same balance); without one, the refill must match
        let written = match (plan.deducted > 0, results.first(), results.last()) {
            (true, _, Some(last)) => returned(last)?,
            (false, Some(first), _) => returned(first)?,
            _ => None,
        };
        let Some(Some(remaining)) = written else {
            return Ok(None);
        };
        // a balance changed behind our back by a compatible amount is taken as it is now
        self.cache
            .replace(Some((balance.clone(), Loaded::Limited(BalanceState { remaining, ..plan.after }))));
        Ok(Some((replies, taken)))
    }

    async fn adjust(
        &self,
        balance: &Balance,
        adjustment: Adjustment,
        now: i64,
    ) -> worker::Result<UsageReply> {
        let sql = statements(balance);
        let id = balance.object_name();
        let state = match self.load(balance, true).await? {
            Loaded::Missing => return Ok(UsageReply::MISSING),
            Loaded::Unlimited => None,
            Loaded::Limited(state) => Some(state),
        };
        let db = self.db()?;
        let mut stmts = Vec::with_capacity(2);
        // a refill that was due before the change happens first
        if let Some(refill) = state.and_then(|s| s.due_refill(now)) {
            stmts.push(stmt!(&db, sql.refill, id, refill.amount, now, refill.boundary)?);
        }
        let (statement, value) = match adjustment {
            Adjustment::Increment(v) => (sql.increment, v),
            Adjustment::Decrement(v) => (sql.decrement, v),
            Adjustment::Set(v) => (sql.set, v),
        };
        stmts.push(stmt!(&db, statement, id, value, now)?);
        let results = db.batch(stmts).await?;
        self.cache.replace(None);
        let Some(written) = results.last().map(returned).transpose()?.flatten() else {
            return Ok(UsageReply::MISSING);
        };
        Ok(UsageReply { exists: true, valid: true, remaining: written })
    }
}

fn reply(outcome: SpendOutcome) -> UsageReply {
    match outcome {
        SpendOutcome::Valid { remaining, .. } => {
            UsageReply { exists: true, valid: true, remaining: Some(remaining) }
        }
        SpendOutcome::Exceeded { remaining } => {
            UsageReply { exists: true, valid: false, remaining: Some(remaining) }
        }
    }
}

/// Sends `op` to the limiter of `balance`.
async fn call(env: &Env, balance: &Balance, op: &UsageOp) -> ApiResult<UsageReply> {
    let stub = env.durable_object("USAGE_LIMITER")?.id_from_name(balance.object_name())?.get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&serde_json::to_string(op)?)));
    let mut resp = stub.fetch_with_request(Request::new_with_init("https://usage-limiter/", &init)?).await?;
    if resp.status_code() != 200 {
        return Err(ApiError::internal(format!("usage limiter: {}", resp.text().await?)));
    }
    Ok(resp.json().await?)
}

/// Charges `cost` to `balance` at `now`.
pub async fn spend(env: &Env, balance: &Balance, cost: i64, now: i64) -> ApiResult<UsageReply> {
    call(env, balance, &UsageOp::Spend { balance: balance.clone(), cost, now }).await
}

/// Changes `balance` through its limiter (a refill due at `now` is applied first).
pub async fn adjust(env: &Env, balance: &Balance, adjustment: Adjustment, now: i64) -> ApiResult<UsageReply> {
    call(env, balance, &UsageOp::Adjust { balance: balance.clone(), adjustment, now }).await
}

/// Makes the limiter of `balance` read D1 again on its next request.
pub async fn reload(env: &Env, balance: &Balance) -> ApiResult<()> {
    call(env, balance, &UsageOp::Reload).await.map(|_| ())
}
