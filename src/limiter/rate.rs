//! The rate limiter: one Durable Object per identifier (an identity id, a key id, or a
//! namespace+identifier of `ratelimits.limit`), holding fixed-window counters per
//! (limit name, duration, window) in its own storage (the current and the previous window, for
//! the sliding answer of v2). A request checks all its limits at once
//! and counts only when every one passes, with no await in between, so it is exact under any
//! concurrency and all-or-nothing across limits.
//!
//! Its storage stays bounded: requests carry at most 50 limits with names of at most 255
//! characters and windows of at most 30 days (checked by the wire layer), ended windows are
//! dropped on every request (an indexed delete), and an alarm at the next window end drops them
//! when no request comes; once nothing is left the object deletes its storage altogether.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, State};

use super::client::BATCH_PATH;
use super::protocol::{RateReply, RateRequest};
use super::Answer;
use crate::domain::batch;
use crate::domain::idempotency::TTL_MS;
use crate::domain::rate_text;
use crate::domain::ratelimit::{decide, reset_of, window, Algorithm, Counts};
use crate::store::{counters, StoreError, StoreResult};

/// When the requests just answered want the alarm: the earliest time (`at`), and whether one found
/// the set alarm already due on its clock (`now`: the last request's clock).
#[derive(Default)]
struct Alarm {
    at: Option<i64>,
    due: bool,
    now: i64,
}

#[durable_object]
pub struct RateLimiter {
    state: State,
    sql: SqlStorage,
    /// The counters table exists (it is gone after the storage was deleted).
    ready: Cell<bool>,
    /// The last request's clock and the real time it arrived at: the object's clock is that
    /// clock moved on by the real time since (requests carry the worker's clock, which tests move).
    clock: Cell<Option<(i64, i64)>>,
    /// When (on the object's clock) the alarm is set to fire.
    alarm_at: Cell<Option<i64>>,
    /// No stored counter ends before this time (`None`: not known), so a request before it has
    /// nothing to expire and skips the delete (`i64::MAX`: no counters).
    gone_at: Cell<Option<i64>>,
    /// The counts this object has read or written, by (name, duration, window): what its storage
    /// holds (0 for a window without a row; the object is the storage's only writer), so a
    /// request reads memory after the first. Dropped with the windows they belong to.
    counts: RefCell<HashMap<(String, i64, i64), i64>>,
    /// The windows whose counts in `counts` the message being answered changed: written once
    /// each when it has been decided (`write_counts`), so a batch of calls on one identifier
    /// makes one write per window, not one per call.
    unwritten: RefCell<HashSet<(String, i64, i64)>>,
}

fn real_now() -> i64 {
    crate::clock::now_ms()
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let limiter = RateLimiter {
            state,
            sql,
            ready: Cell::new(false),
            clock: Cell::new(None),
            alarm_at: Cell::new(None),
            gone_at: Cell::new(None),
            counts: RefCell::new(HashMap::new()),
            unwritten: RefCell::new(HashSet::new()),
        };
        limiter.init();
        limiter
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        self.handle(&req.path(), &text).await.into_response()
    }

    /// Drops the counters of ended windows; deletes the storage once none are left.
    async fn alarm(&self) -> worker::Result<Response> {
        let now = self.now();
        self.alarm_at.set(None);
        if !self.ready.get() {
            return Response::ok("idle");
        }
        let next = self.expire_now(now).and_then(|counter| {
            let record = counters::expire_records(&self.sql, now)?;
            Ok(counter.into_iter().chain(record).min())
        });
        match next.map_err(|e| worker::Error::RustError(e.to_string()))? {
            Some(reset) => self.schedule(reset, now).await?,
            None => {
                self.state.storage().delete_all().await?;
                self.ready.set(false);
                self.gone_at.set(None);
                self.counts.borrow_mut().clear();
            }
        }
        Response::ok("expired")
    }
}

/// A message in either form: the short text of a check (`true`), or JSON.
fn read_request(text: &str) -> Result<(bool, RateRequest), String> {
    match rate_text::parse_request(text) {
        Some(check) => check.map(|rate_text::Check { limits, now, algorithm }| {
            let request =
                RateRequest { limits, now, algorithm, refund: false, idempotency: None, report_size: false };
            (true, request)
        }),
        None => crate::domain::json::from_str::<RateRequest>(text)
            .map(|request| (false, request))
            .map_err(|e| format!("bad rate-limiter request: {e}")),
    }
}

impl RateLimiter {
    /// One message (`path`: a batch of checks or one) and its answer.
    async fn handle(&self, path: &str, text: &str) -> Answer {
        let mut alarm = Alarm::default();
        let answer = if path == BATCH_PATH {
            // the requests of a batch message from one isolate (a line each, see `lane`), decided
            // in order with no await in between: their counts are written together
            let answers = text
                .lines()
                .map(|line| {
                    let (short, request) = read_request(line)?;
                    let reply = self.answer_one(&request, &mut alarm).map_err(|(_, message)| message)?;
                    reply.text(short)
                })
                .collect();
            Answer::ok(batch::answer_lines(answers))
        } else {
            let (short, request) = match read_request(text) {
                Ok(r) => r,
                Err(message) => return Answer::error(400, message),
            };
            match self.answer_one(&request, &mut alarm) {
                Ok(reply) => Answer::text(reply.text(short)),
                Err((status, message)) => Answer::error(status, message),
            }
        };
        if let Err(e) = self.write_counts() {
            return Answer::error(500, e.to_string());
        }
        match self.set_alarm(alarm).await {
            Ok(()) => answer,
            Err(e) => Answer::error(500, e.to_string()),
        }
    }

    /// Writes the counts the message changed (see `unwritten`), before it is answered. A failed
    /// write fails the whole message and makes the object read its counts from storage again.
    fn write_counts(&self) -> StoreResult<()> {
        let unwritten = std::mem::take(&mut *self.unwritten.borrow_mut());
        let written = unwritten.into_iter().try_for_each(|key| {
            // a window that ended meanwhile was dropped from memory (and storage): nothing to write
            let count = self.counts.borrow().get(&key).copied();
            let (name, duration, window) = key;
            match count {
                Some(count) => {
                    counters::put(&self.sql, &name, duration, window, count, reset_of(window, duration))
                }
                None => Ok(()),
            }
        });
        if written.is_err() {
            self.counts.borrow_mut().clear();
            self.gone_at.set(None);
        }
        written
    }

    fn init(&self) {
        match counters::init(&self.sql) {
            Ok(()) => self.ready.set(true),
            Err(e) => worker::console_error!("rate limiter storage: {e}"),
        }
    }

    /// Checks and counts one request (failed: a status, 400 or 500, and the message why); notes
    /// in `alarm` when the alarm should fire for it.
    fn answer_one(&self, request: &RateRequest, alarm: &mut Alarm) -> Result<RateReply, (u16, String)> {
        // integers only (the message decodes as i64); a negative cost would give tokens back
        if request.limits.iter().any(|c| c.cost < 0 || c.limit < 0 || c.duration < 1) {
            return Err((400, "bad rate-limiter request: negative cost or limit, or empty window".into()));
        }
        self.clock.set(Some((request.now, real_now())));
        let reply = self.limit(request).map_err(|e| (500, e.to_string()))?;
        // a new Idempotency-Key record expires after 24 h
        let record_expiry =
            request.idempotency.as_ref().filter(|_| !reply.replayed).map(|_| request.now + TTL_MS);
        let next_reset = reply.results.iter().filter(|_| reply.passed).map(|r| r.reset).min();
        // an alarm that the request's clock shows due (a clock moved on) fires now
        let due = self.alarm_at.get().filter(|at| *at <= request.now).map(|_| request.now);
        alarm.now = request.now;
        alarm.due |= due.is_some();
        alarm.at = next_reset.into_iter().chain(record_expiry).chain(due).chain(alarm.at).min();
        Ok(reply)
    }

    /// Sets the alarm the answered requests asked for, unless an earlier one is set.
    async fn set_alarm(&self, alarm: Alarm) -> worker::Result<()> {
        if let Some(at) = alarm.at {
            if alarm.due || self.alarm_at.get().is_none_or(|set| set > at) {
                self.schedule(at, alarm.now).await?;
            }
        }
        Ok(())
    }

    /// The object's clock (see `clock`).
    fn now(&self) -> i64 {
        match self.clock.get() {
            Some((clock, at)) => clock + (real_now() - at),
            None => real_now(),
        }
    }

    /// Sets the alarm to `at` on the object's clock (`now` is that clock now).
    async fn schedule(&self, at: i64, now: i64) -> worker::Result<()> {
        self.state.storage().set_alarm((at - now).max(1)).await?;
        self.alarm_at.set(Some(at));
        Ok(())
    }

    /// Drops the counters of ended windows (see [`counters::expire`]), unless none can have ended
    /// since the object last looked; then learns when the next one will.
    fn expire(&self, now: i64) -> StoreResult<()> {
        if self.gone_at.get().is_some_and(|at| now < at) {
            return Ok(());
        }
        self.expire_now(now).map(|_| ())
    }

    /// Drops the ended windows from storage and memory; when the next stored one ends, if any.
    fn expire_now(&self, now: i64) -> StoreResult<Option<i64>> {
        counters::expire(&self.sql, now)?;
        let stored = counters::next_reset(&self.sql)?;
        let mut counts = self.counts.borrow_mut();
        counts.retain(|(_, duration, window), _| gone(*duration, *window) > now);
        let remembered = counts.keys().map(|(_, duration, window)| gone(*duration, *window)).min();
        self.gone_at.set(Some(stored.into_iter().chain(remembered).min().unwrap_or(i64::MAX)));
        Ok(stored)
    }

    /// The count of one window, from memory once read.
    fn read_count(&self, name: &str, duration: i64, window: i64) -> StoreResult<i64> {
        let key = (name.to_string(), duration, window);
        if let Some(n) = self.counts.borrow().get(&key) {
            return Ok(*n);
        }
        let n = counters::count(&self.sql, name, duration, window)?;
        self.remember(key, n);
        Ok(n)
    }

    fn remember(&self, key: (String, i64, i64), count: i64) {
        let ends = gone(key.1, key.2);
        self.counts.borrow_mut().insert(key, count);
        self.gone_at.set(self.gone_at.get().map(|at| at.min(ends)));
    }

    /// The size of the storage (its counts written first), when the request asks for it.
    fn size(&self, request: &RateRequest) -> StoreResult<i64> {
        if !request.report_size {
            return Ok(0);
        }
        self.write_counts()?;
        Ok(self.sql.database_size() as i64)
    }

    /// Checks and counts synchronously: nothing else runs in this object meanwhile. A request
    /// with an `Idempotency-Key` this object answered is answered again without counting; its
    /// first answer is stored with the counts it made.
    fn limit(&self, request: &RateRequest) -> StoreResult<RateReply> {
        if !self.ready.get() {
            self.init();
        }
        let now = request.now;
        self.expire(now)?;
        let decode = |e: serde_json::Error| StoreError::Decode(e.to_string());
        let idempotency = request.idempotency.as_ref().filter(|_| !request.refund);
        if let Some(idem) = idempotency {
            if let Some((fingerprint, reply)) = counters::record(&self.sql, &idem.key, now)? {
                let stored_bytes = self.size(request)?;
                if fingerprint != idem.fingerprint {
                    let reused = RateReply {
                        passed: false,
                        results: Vec::new(),
                        stored_bytes,
                        replayed: false,
                        reused: true,
                    };
                    return Ok(reused);
                }
                let first: RateReply = crate::domain::json::from_str(&reply).map_err(decode)?;
                return Ok(RateReply { replayed: true, stored_bytes, ..first });
            }
        }
        let reply = self.count(request)?;
        if let Some(idem) = idempotency {
            // the record of the answer is stored with the counts it made
            self.write_counts()?;
            let text = serde_json::to_string(&reply).map_err(decode)?;
            counters::put_record(&self.sql, &idem.key, &idem.fingerprint, &text, now + TTL_MS)?;
            return Ok(RateReply { stored_bytes: self.size(request)?, ..reply });
        }
        Ok(reply)
    }

    fn count(&self, request: &RateRequest) -> StoreResult<RateReply> {
        let now = request.now;
        if request.refund {
            for c in &request.limits {
                let index = window(now, c.duration).index;
                counters::refund(&self.sql, &c.name, c.duration, index, c.cost)?;
                if let Some(n) = self.counts.borrow_mut().get_mut(&(c.name.clone(), c.duration, index)) {
                    *n = (*n - c.cost).max(0);
                }
            }
            return Ok(RateReply {
                passed: true,
                results: Vec::new(),
                stored_bytes: self.size(request)?,
                replayed: false,
                reused: false,
            });
        }
        let mut counts = Vec::with_capacity(request.limits.len());
        for c in &request.limits {
            let index = window(now, c.duration).index;
            let previous = match request.algorithm {
                Algorithm::Fixed => 0,
                Algorithm::Sliding => self.read_count(&c.name, c.duration, index - 1)?,
            };
            counts.push(Counts { current: self.read_count(&c.name, c.duration, index)?, previous });
        }
        let (passed, results) = decide(&request.limits, &counts, now, request.algorithm);
        if passed {
            for (c, r) in request.limits.iter().zip(&results) {
                let key = (c.name.clone(), c.duration, window(now, c.duration).index);
                self.unwritten.borrow_mut().insert(key.clone());
                self.remember(key, r.next_count);
            }
        }
        Ok(RateReply { passed, results, stored_bytes: self.size(request)?, replayed: false, reused: false })
    }
}

/// When the counter of `window` (of limits of `duration`) may go: the end of the window after it
/// (the sliding answer still weighs the previous window), as [`counters::expire`] decides.
fn gone(duration: i64, window: i64) -> i64 {
    (window + 2).saturating_mul(duration.max(1))
}
