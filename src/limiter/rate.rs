//! The rate limiter: one Durable Object per identifier (an identity id, a key id, or a
//! namespace+identifier of `ratelimits.limit`), holding fixed-window counters per
//! (limit name, duration, window) in its own storage (the current and the previous window, for
//! the sliding answer of v2). A request checks all its limits at once
//! and counts only when every one passes, with no await in between, so it is exact under any
//! concurrency and all-or-nothing across limits.

use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, State};

use super::protocol::{RateReply, RateRequest};
use crate::domain::ratelimit::{decide, window, Algorithm, Counts};
use crate::store::{counters, StoreResult};

#[durable_object]
pub struct RateLimiter {
    sql: SqlStorage,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = counters::init(&sql) {
            worker::console_error!("rate limiter storage: {e}");
        }
        RateLimiter { sql }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let request: RateRequest = match req.json().await {
            Ok(r) => r,
            Err(e) => return Response::error(format!("bad rate-limiter request: {e}"), 400),
        };
        match self.limit(&request) {
            Ok(reply) => Response::from_json(&reply),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}

impl RateLimiter {
    /// Checks and counts synchronously: nothing else runs in this object meanwhile.
    fn limit(&self, request: &RateRequest) -> StoreResult<RateReply> {
        let now = request.now;
        counters::expire(&self.sql, now)?;
        if request.refund {
            for c in &request.limits {
                counters::refund(&self.sql, &c.name, c.duration, window(now, c.duration).index, c.cost)?;
            }
            return Ok(RateReply { passed: true, results: Vec::new() });
        }
        let mut counts = Vec::with_capacity(request.limits.len());
        for c in &request.limits {
            let index = window(now, c.duration).index;
            let previous = match request.algorithm {
                Algorithm::Fixed => 0,
                Algorithm::Sliding => counters::count(&self.sql, &c.name, c.duration, index - 1)?,
            };
            counts
                .push(Counts { current: counters::count(&self.sql, &c.name, c.duration, index)?, previous });
        }
        let (passed, results) = decide(&request.limits, &counts, now, request.algorithm);
        if passed {
            for (c, r) in request.limits.iter().zip(&results) {
                let w = window(now, c.duration);
                counters::put(&self.sql, &c.name, c.duration, w.index, r.next_count, w.reset)?;
            }
        }
        Ok(RateReply { passed, results })
    }
}
