//! The scheduled (cron) refill: sets every due balance to its refill amount if below it, so that
//! reads show refilled balances. Verification applies due refills on its own (the usage limiter),
//! and both use conditional SQL on the last refill time, so a balance is never refilled twice for
//! one boundary, and a balance at or above the amount still counts as refilled for that boundary.

use super::{results, Store, StoreResult};
use crate::domain::refill::cron_window;
use crate::stmt;

/// Refills the balances whose boundary is today and which were not refilled since it began.
/// Returns the number of credits rows and legacy keys refilled.
pub async fn run(store: &Store, now: i64) -> StoreResult<(i64, i64)> {
    let w = cron_window(now);
    let due = "(refill_day IS NULL OR refill_day = ?3 OR (?4 <> 0 AND refill_day > ?3))";
    let credits = stmt!(
        format!(
            "UPDATE credits SET remaining = CASE WHEN remaining >= refill_amount THEN remaining ELSE refill_amount END,
                                refilled_at = ?1, updated_at = ?1
             WHERE refill_amount IS NOT NULL AND refill_amount > 0
               AND COALESCE(refilled_at, created_at) < ?2 AND {due}
               AND (key_id IS NULL OR key_id IN (SELECT id FROM keys WHERE deleted_at_m IS NULL))"
        ),
        now,
        w.today_start,
        w.day_of_month as i64,
        w.is_last_day_of_month
    );
    let legacy = stmt!(
        format!(
            "UPDATE keys SET remaining_requests = CASE WHEN remaining_requests >= refill_amount THEN remaining_requests
                                                  ELSE refill_amount END, last_refill_at = ?1,
                             updated_at_m = ?1
             WHERE refill_amount IS NOT NULL AND refill_amount > 0 AND remaining_requests IS NOT NULL
               AND deleted_at_m IS NULL AND COALESCE(last_refill_at, created_at_m) < ?2 AND {due}
               AND id NOT IN (SELECT key_id FROM credits WHERE key_id IS NOT NULL)"
        ),
        now,
        w.today_start,
        w.day_of_month as i64,
        w.is_last_day_of_month
    );
    let [credits, legacy] = results(store.batch(vec![credits, legacy]).await?)?;
    Ok((credits.changes(), legacy.changes()))
}
