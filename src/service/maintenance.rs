//! The hourly cron: refills due credit balances, then deletes what is older than the retention
//! periods — verification rollups (`ANALYTICS_RETENTION_DAYS`), audit logs and keys soft-deleted
//! before it (`AUDIT_RETENTION_DAYS`) — in bounded batches: a run stops after its time budget and
//! the next run continues. Each run writes one `system` audit event naming how many balances it
//! refilled, and one more when retention deleted anything (keygate's own workspace, `ws_keygate`).
//! It also deletes `Idempotency-Key` answers past their 24 h.

use std::future::Future;

use super::workspaces::INTERNAL_WORKSPACE;
use super::{analytics, credits, Ctx};
use crate::domain::analytics::retention_cutoff;
use crate::store::audit::Actor;
use crate::store::{self, audit, keys, StoreResult};

/// Rows deleted per statement.
pub const RETENTION_BATCH: i64 = 1_000;
/// Wall time a run spends on retention before it leaves the rest to the next run.
const RETENTION_BUDGET_MS: f64 = 20_000.0;

const ACTOR: Actor = Actor::System("cron");

/// Runs `step` (one bounded delete) until it deletes less than a batch or the deadline passes.
async fn drain<F, Fut>(deadline: f64, mut step: F) -> StoreResult<i64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<i64>>,
{
    let mut total = 0;
    loop {
        let n = step().await?;
        total += n;
        if n < RETENTION_BATCH || crate::clock::now_ms() as f64 > deadline {
            return Ok(total);
        }
    }
}

fn describe(what: &str, result: &StoreResult<i64>) -> String {
    match result {
        Ok(n) => format!("{n} {what}"),
        Err(e) => format!("{what}: failed ({e})"),
    }
}

/// One cron run at `ctx.now` (the scheduled time).
pub async fn run(ctx: &Ctx) {
    // this isolate's pending rollups first, so that retention sees them
    analytics::settle(&ctx.store).await;
    let refilled = credits::refill_due(ctx).await;
    let display = match &refilled {
        Ok((rows, legacy)) => {
            format!("balances refilled: {} ({rows} credits rows, {legacy} legacy keys)", rows + legacy)
        }
        Err(e) => format!("refill failed ({e})"),
    };
    worker::console_log!("cron: {display}");
    write(ctx, "credits.refill", &display).await;

    let deadline = crate::clock::now_ms() as f64 + RETENTION_BUDGET_MS;
    let store = &ctx.store;
    let analytics_cutoff = retention_cutoff(ctx.now, ctx.config.analytics_retention_days);
    let audit_cutoff = retention_cutoff(ctx.now, ctx.config.audit_retention_days);
    let rollups =
        drain(deadline, || store::analytics::delete_before(store, analytics_cutoff, RETENTION_BATCH)).await;
    let logs = drain(deadline, || audit::delete_before(store, audit_cutoff, RETENTION_BATCH)).await;
    let purged = drain(deadline, || keys::purge_deleted(store, audit_cutoff, RETENTION_BATCH)).await;
    // Idempotency-Key answers older than 24 h (bookkeeping: logged, not audited)
    let answers =
        drain(deadline, || store::idempotency::delete_expired(store, ctx.now, RETENTION_BATCH)).await;
    if !matches!(answers, Ok(0)) {
        worker::console_log!("cron: deleted {}", describe("expired idempotency records", &answers));
    }
    if [&rollups, &logs, &purged].iter().any(|r| !matches!(r, Ok(0))) {
        let display = format!(
            "retention deleted {} (older than {} days), {} and {} (older than {} days)",
            describe("analytics rollups", &rollups),
            ctx.config.analytics_retention_days,
            describe("audit logs", &logs),
            describe("soft-deleted keys", &purged),
            ctx.config.audit_retention_days
        );
        worker::console_log!("cron: {display}");
        write(ctx, "retention.delete", &display).await;
    }
}

async fn write(ctx: &Ctx, event: &str, display: &str) {
    let batch = ctx.batch(&ACTOR, INTERNAL_WORKSPACE, event, display, Vec::new());
    if let Err(e) = ctx.store.commit(batch).await {
        worker::console_error!("cron: writing the audit event {event} failed: {e}");
    }
}
