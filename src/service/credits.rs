//! The credits service: the one place that writes a balance and keeps its usage limiter in step.
//! A change plans its credit writes and limiter steps in `domain::credits` (pure) and stages the
//! writes into the route's batch. A change with limiter steps is written by the usage limiter of
//! its first balance: the whole batch (the change and its audit rows) in one transaction with the
//! `Set` (a due refill first), or followed by a reload, while the object lets nothing else run; so
//! no failure can leave the change without its audit rows or the limiter with a stale balance.
//! Further steps (a second balance) run after, before the route answers, so the very next
//! verification sees the change.

use super::{Ctx, Error, Result};
use crate::domain::credits::{Adjustment, Balance, CreditsPlan, KeyCredits, LimiterStep};
use crate::domain::validate::MAX_SAFE_INTEGER;
use crate::limiter::protocol::{Idempotency, UsageReply};
use crate::store::{self, Batch, Scope, Stmt, StoreResult};

/// Adds the plan's writes to `batch`.
pub fn stage(batch: &mut Batch, plan: &CreditsPlan, workspace_id: &str, now: i64) -> StoreResult<()> {
    for write in &plan.writes {
        store::credits::stage(batch, write, workspace_id, now)?;
    }
    Ok(())
}

/// Commits `batch` (which holds the plan's writes, see [`stage`]) through the limiter of the
/// plan's first balance (see the module documentation), then runs the other limiter steps.
pub async fn commit(ctx: &Ctx, batch: Batch, plan: &CreditsPlan) -> Result<()> {
    let Some((first, rest)) = plan.limiter.split_first() else {
        ctx.store.commit(batch).await?;
        return Ok(());
    };
    let scope = batch.scope();
    let stmts = batch.into_statements()?;
    let written = match first {
        LimiterStep::Set(balance, value) => {
            adjust(ctx, balance, Adjustment::Set(*value), None, stmts, &scope).await.map(|_| ())
        }
        LimiterStep::Reload(balance) => ctx.limiters.commit(balance, stmts).await.map_err(Error::from),
    };
    // this isolate's cached reads may be stale now (even after a failure: it may have been applied)
    store::changed(&scope);
    written?;
    ctx.injected_failure("after-commit")?;
    sync(ctx, rest, &scope).await
}

/// Runs limiter steps in order (of a change of `scope`).
pub async fn sync(ctx: &Ctx, steps: &[LimiterStep], scope: &Scope) -> Result<()> {
    for step in steps {
        match step {
            LimiterStep::Set(balance, value) => {
                adjust(ctx, balance, Adjustment::Set(*value), None, Vec::new(), scope).await?;
            }
            LimiterStep::Reload(balance) => ctx.limiters.reload(balance).await?,
        }
    }
    Ok(())
}

/// Changes a balance through its limiter (a due refill first), with `then` (the rest of the
/// change, its audit rows) in the same transaction; the balance as stored after. A change whose
/// result would leave ±(2^53 − 1) is refused (400 naming `value`) with nothing of it written: the
/// limiter's SQL only writes results within the range. With `idempotency`, a change already made
/// for the key is answered again (nothing changed now). `scope`: what the change may make stale.
pub async fn adjust(
    ctx: &Ctx,
    balance: &Balance,
    adjustment: Adjustment,
    idempotency: Option<Idempotency>,
    then: Vec<Stmt>,
    scope: &Scope,
) -> Result<UsageReply> {
    let reply = ctx.limiters.adjust(balance, adjustment, ctx.now, idempotency, then).await?;
    store::changed(scope);
    if reply.reused {
        return Err(super::idempotency::reused());
    }
    super::idempotency::replayed(ctx, reply.replayed);
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
