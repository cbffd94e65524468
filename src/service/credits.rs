//! The credits service: the one place that writes a balance and keeps its usage limiter in step.
//! A change plans its credit writes and limiter steps in `domain::credits` (pure), stages the
//! writes into the route's batch, commits, then tells the limiters (a `Set` goes through the
//! limiter, a removed or reconfigured balance makes it reload) before the route answers, so the
//! very next verification sees the change.

use super::{Ctx, Error, Result};
use crate::domain::credits::{Adjustment, Balance, CreditsPlan, KeyCredits, LimiterStep};
use crate::domain::validate::MAX_SAFE_INTEGER;
use crate::limiter::protocol::UsageReply;
use crate::store::{self, Batch, StoreResult};

/// Adds the plan's writes to `batch`.
pub fn stage(batch: &mut Batch, plan: &CreditsPlan, workspace_id: &str, now: i64) -> StoreResult<()> {
    for write in &plan.writes {
        store::credits::stage(batch, write, workspace_id, now)?;
    }
    Ok(())
}

/// Commits `batch` (which holds the plan's writes, see [`stage`]) and then runs the plan's
/// limiter steps.
pub async fn commit(ctx: &Ctx, batch: Batch, plan: &CreditsPlan) -> Result<()> {
    ctx.store.commit(batch).await?;
    sync(ctx, &plan.limiter).await
}

/// Runs limiter steps in order.
pub async fn sync(ctx: &Ctx, steps: &[LimiterStep]) -> Result<()> {
    for step in steps {
        match step {
            LimiterStep::Set(balance, value) => {
                adjust(ctx, balance, Adjustment::Set(*value)).await?;
            }
            LimiterStep::Reload(balance) => ctx.limiters.reload(balance).await?,
        }
    }
    Ok(())
}

/// Changes a balance through its limiter (a due refill first); the balance as stored after. A
/// change whose result would leave ±(2^53 − 1) is refused (400 naming `value`) with nothing
/// written: the limiter's SQL only writes results within the range.
pub async fn adjust(ctx: &Ctx, balance: &Balance, adjustment: Adjustment) -> Result<UsageReply> {
    let reply = ctx.limiters.adjust(balance, adjustment, ctx.now).await?;
    if reply.exists && !reply.valid {
        return Err(Error::bad_request(format!(
            "value: the balance would leave the range ±{MAX_SAFE_INTEGER} (the largest integer JavaScript carries exactly); nothing was changed"
        )));
    }
    Ok(reply)
}

/// The limiter steps after a key is deleted: its balances are gone.
pub fn key_removed(key: &KeyCredits) -> Vec<LimiterStep> {
    let mut steps = Vec::new();
    if let Some(credit_id) = &key.credit_id {
        steps.push(LimiterStep::Reload(Balance::KeyCredits(credit_id.clone())));
    }
    if key.legacy {
        steps.push(LimiterStep::Reload(Balance::LegacyKey(key.key_id.clone())));
    }
    steps
}

/// The scheduled refill of every due balance (the cron, at `ctx.now`); returns the credits rows
/// and legacy keys refilled. Their limiters notice through their conditional writes.
pub async fn refill_due(ctx: &Ctx) -> StoreResult<(i64, i64)> {
    store::refill::run(&ctx.store, ctx.now).await
}
