//! The rate limiter: one Durable Object per identifier (an identity id, a key id, or a
//! namespace+identifier of `ratelimits.limit`), holding fixed-window counters per
//! (limit name, duration, window) in its SQLite storage. A request checks all its limits at once
//! and counts only when every one passes, with no await in between, so it is exact under any
//! concurrency and all-or-nothing across limits.

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, SqlStorage, SqlStorageValue,
    State,
};

use crate::domain::ratelimit::{decide, window, LimitCheck, LimitResult};
use crate::http::{ApiError, ApiResult};

#[derive(Debug, Serialize, Deserialize)]
pub struct LimitRequest {
    pub limits: Vec<WireLimit>,
    /// The request's time (unix ms).
    pub now: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireLimit {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireResult {
    pub name: String,
    pub passed: bool,
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitReply {
    pub passed: bool,
    pub results: Vec<WireResult>,
}

impl From<&LimitCheck> for WireLimit {
    fn from(c: &LimitCheck) -> Self {
        WireLimit { name: c.name.clone(), limit: c.limit, duration: c.duration, cost: c.cost }
    }
}

impl LimitReply {
    /// The verify response's `ratelimit`: remaining and reset of the first failing limit (else of
    /// the first one), and the limit of the `default` limit when one was checked.
    pub fn summary(&self) -> Option<crate::api::keys::VerifyRatelimitResult> {
        let decisive = self.results.iter().find(|r| !r.passed).or_else(|| self.results.first())?;
        Some(crate::api::keys::VerifyRatelimitResult {
            limit: self.results.iter().find(|r| r.name == "default").map(|r| r.limit),
            remaining: decisive.remaining,
            reset: decisive.reset,
        })
    }
}

#[durable_object]
pub struct RateLimiter {
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

fn int(v: i64) -> SqlStorageValue {
    SqlStorageValue::Integer(v)
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(
            "CREATE TABLE IF NOT EXISTS counters (
               name TEXT NOT NULL, duration INTEGER NOT NULL, window INTEGER NOT NULL,
               count INTEGER NOT NULL, reset INTEGER NOT NULL,
               PRIMARY KEY (name, duration, window))",
            None,
        ) {
            worker::console_error!("rate limiter storage: {e}");
        }
        RateLimiter { sql }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let request: LimitRequest = req.json().await?;
        Response::from_json(&self.limit(&request)?)
    }
}

impl RateLimiter {
    /// Checks and counts synchronously: nothing else runs in this object meanwhile.
    fn limit(&self, request: &LimitRequest) -> worker::Result<LimitReply> {
        let now = request.now;
        self.sql.exec("DELETE FROM counters WHERE reset <= ?", vec![int(now)])?;
        let checks: Vec<LimitCheck> = request
            .limits
            .iter()
            .map(|l| LimitCheck { name: l.name.clone(), limit: l.limit, duration: l.duration, cost: l.cost })
            .collect();
        let mut current = Vec::with_capacity(checks.len());
        for c in &checks {
            let w = window(now, c.duration);
            let rows: Vec<Count> = self
                .sql
                .exec(
                    "SELECT count FROM counters WHERE name = ? AND duration = ? AND window = ?",
                    vec![SqlStorageValue::String(c.name.clone()), int(c.duration), int(w.index)],
                )?
                .to_array()?;
            current.push(rows.first().map(|r| r.count).unwrap_or(0));
        }
        let (passed, results) = decide(&checks, &current, now);
        if passed {
            for (c, r) in checks.iter().zip(&results) {
                let w = window(now, c.duration);
                self.sql.exec(
                    "INSERT INTO counters (name, duration, window, count, reset) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (name, duration, window) DO UPDATE SET count = excluded.count",
                    vec![
                        SqlStorageValue::String(c.name.clone()),
                        int(c.duration),
                        int(w.index),
                        int(r.next_count),
                        int(w.reset),
                    ],
                )?;
            }
        }
        Ok(LimitReply { passed, results: results.into_iter().map(to_wire).collect() })
    }
}

fn to_wire(r: LimitResult) -> WireResult {
    WireResult { name: r.name, passed: r.passed, limit: r.limit, remaining: r.remaining, reset: r.reset }
}

/// Checks `limits` for `identifier` at `now` (all-or-nothing).
pub async fn limit(env: &Env, identifier: &str, limits: Vec<WireLimit>, now: i64) -> ApiResult<LimitReply> {
    let stub = env.durable_object("RATE_LIMITER")?.id_from_name(identifier)?.get_stub()?;
    let mut init = RequestInit::new();
    let body = serde_json::to_string(&LimitRequest { limits, now })?;
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let mut resp = stub.fetch_with_request(Request::new_with_init("https://rate-limiter/", &init)?).await?;
    if resp.status_code() != 200 {
        return Err(ApiError::internal(format!("rate limiter: {}", resp.text().await?)));
    }
    Ok(resp.json().await?)
}
