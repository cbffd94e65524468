//! The usage limiter's SQL: loading one balance and writing its deductions, refills and
//! adjustments with conditional statements (a write the limiter was not told about makes the
//! condition fail instead of being overwritten). A balance is a credits row (by id) or the legacy
//! `keys.remaining_requests` column of a key (by key id).

use serde::Deserialize;

use super::audit::{self, AuditEvent};
use super::idempotency::{self, Claim};
use super::{Stmt, Store, StoreResult};
use crate::domain::credits::{Adjustment, Balance, BalanceState, RefillConfig, RefillStep};
use crate::domain::refill::Interval;
use crate::stmt;

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
    decrement_to_zero: &'static str,
    set: &'static str,
}

/// Every balance stays within ±(2^53 − 1), the integers JavaScript (and D1) carry exactly: an
/// increment or decrement that would leave the range changes nothing (and a trigger of migration
/// 0002 refuses any other write that would).
const CREDITS: Statements = Statements {
    load: "SELECT remaining, refill_amount, refill_day, COALESCE(refilled_at, created_at) AS last_refill
           FROM credits WHERE id = ?1",
    refill: "UPDATE credits SET remaining = CASE WHEN remaining >= ?2 THEN remaining ELSE ?2 END,
               refilled_at = ?3, updated_at = ?3
             WHERE id = ?1 AND refill_amount = ?2 AND COALESCE(refilled_at, created_at) < ?4
             RETURNING remaining",
    deduct: "UPDATE credits SET remaining = remaining - ?2, updated_at = ?3
             WHERE id = ?1 AND remaining >= ?2 RETURNING remaining",
    increment: "UPDATE credits SET remaining = remaining + ?2, updated_at = ?3
                WHERE id = ?1 AND remaining + ?2 BETWEEN -9007199254740991 AND 9007199254740991
                RETURNING remaining",
    decrement: "UPDATE credits SET remaining = remaining - ?2, updated_at = ?3
                WHERE id = ?1 AND remaining - ?2 BETWEEN -9007199254740991 AND 9007199254740991
                RETURNING remaining",
    decrement_to_zero:
        "UPDATE credits SET remaining = CASE WHEN remaining < ?2 THEN 0 ELSE remaining - ?2 END,
                          updated_at = ?3 WHERE id = ?1
                        RETURNING remaining",
    set: "UPDATE credits SET remaining = ?2, updated_at = ?3 WHERE id = ?1 RETURNING remaining",
};

const LEGACY: Statements = Statements {
    load: "SELECT remaining_requests AS remaining, refill_amount, refill_day,
                  COALESCE(last_refill_at, created_at_m) AS last_refill
           FROM keys WHERE id = ?1 AND deleted_at_m IS NULL",
    refill: "UPDATE keys SET remaining_requests = CASE WHEN remaining_requests >= ?2 THEN remaining_requests ELSE ?2 END,
                    last_refill_at = ?3, updated_at_m = ?3
             WHERE id = ?1 AND remaining_requests IS NOT NULL AND refill_amount = ?2
               AND COALESCE(last_refill_at, created_at_m) < ?4
             RETURNING remaining_requests AS remaining",
    deduct: "UPDATE keys SET remaining_requests = remaining_requests - ?2, updated_at_m = ?3
             WHERE id = ?1 AND remaining_requests >= ?2 RETURNING remaining_requests AS remaining",
    increment: "UPDATE keys SET remaining_requests = remaining_requests + ?2, updated_at_m = ?3
                WHERE id = ?1 AND remaining_requests + ?2 BETWEEN -9007199254740991 AND 9007199254740991
                RETURNING remaining_requests AS remaining",
    decrement: "UPDATE keys SET remaining_requests = remaining_requests - ?2, updated_at_m = ?3
                WHERE id = ?1 AND remaining_requests - ?2 BETWEEN -9007199254740991 AND 9007199254740991
                RETURNING remaining_requests AS remaining",
    decrement_to_zero: "UPDATE keys SET remaining_requests = CASE WHEN remaining_requests < ?2 THEN 0 ELSE remaining_requests - ?2 END,
                                           updated_at_m = ?3
                        WHERE id = ?1 RETURNING remaining_requests AS remaining",
    set: "UPDATE keys SET remaining_requests = ?2, updated_at_m = ?3 WHERE id = ?1
          RETURNING remaining_requests AS remaining",
};

/// A scalar query of the balance's value, its id bound at `?n`.
fn current(balance: &Balance, n: usize) -> String {
    match balance {
        Balance::IdentityCredits(_) | Balance::KeyCredits(_) => {
            format!("SELECT remaining FROM credits WHERE id = ?{n}")
        }
        Balance::LegacyKey(_) => format!("SELECT remaining_requests FROM keys WHERE id = ?{n}"),
    }
}

/// The audit rows of a change of `balance` made by the statement just before them in the batch,
/// written only if it changed the balance; `{remaining}` in the display reads the balance after.
pub fn audit_of_change(balance: &Balance, event: &AuditEvent) -> StoreResult<Vec<Stmt>> {
    audit::after_change(event, &current(balance, 11), balance.object_name())
}

fn statements(balance: &Balance) -> &'static Statements {
    match balance {
        Balance::IdentityCredits(_) | Balance::KeyCredits(_) => &CREDITS,
        Balance::LegacyKey(_) => &LEGACY,
    }
}

/// A balance as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// No such credits row (or key).
    Missing,
    /// A legacy key whose `remaining_requests` is NULL.
    Unlimited,
    Limited(BalanceState),
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

pub async fn load(store: &Store, balance: &Balance) -> StoreResult<Stored> {
    let row: Option<Row> = store.first(stmt!(statements(balance).load, balance.object_name())).await?;
    Ok(match row {
        None => Stored::Missing,
        Some(Row { remaining: None, .. }) => Stored::Unlimited,
        Some(Row { remaining: Some(remaining), refill_amount, refill_day, last_refill }) => {
            Stored::Limited(BalanceState {
                remaining,
                refill: refill_amount
                    .filter(|a| *a > 0)
                    .map(|amount| RefillConfig { amount, interval: Interval::from_refill_day(refill_day) }),
                last_refill,
            })
        }
    })
}

fn refill_stmt(balance: &Balance, refill: &RefillStep, now: i64) -> Stmt {
    stmt!(statements(balance).refill, balance.object_name(), refill.amount, now, refill.boundary)
}

/// The first `remaining` a `… RETURNING remaining` statement gave, if it changed a row.
fn returned(rows: &super::Rows) -> StoreResult<Option<Option<i64>>> {
    Ok(rows.first::<Remaining>()?.map(|r| r.remaining))
}

/// What [`write_spends`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// There was nothing to write.
    Nothing,
    /// The balance as written.
    Balance(i64),
    /// Storage disagreed with the decision (a write the limiter was not told about): nothing
    /// was deducted.
    Mismatch,
}

/// Writes a group of decided spends: an optional refill (at `first_now`), then `deducted`
/// credits in one conditional statement (at `last_now`), in one transaction.
pub async fn write_spends(
    store: &Store,
    balance: &Balance,
    refill: Option<&RefillStep>,
    first_now: i64,
    deducted: i64,
    last_now: i64,
    records: Option<(String, i64)>,
) -> StoreResult<Written> {
    let mut stmts = Vec::with_capacity(3);
    if let Some(refill) = refill {
        stmts.push(refill_stmt(balance, refill, first_now));
    }
    if deducted > 0 {
        stmts.push(stmt!(statements(balance).deduct, balance.object_name(), deducted, last_now));
    }
    let nothing = stmts.is_empty();
    // the answers of spends with an Idempotency-Key, in the same transaction as the deduction
    // (or the refill) they answer: only if it was written
    if let Some((json, expires_at)) = records {
        stmts.push(idempotency::save(json, expires_at, last_now, !nothing));
    }
    if nothing {
        if !stmts.is_empty() {
            store.batch(stmts).await?;
        }
        return Ok(Written::Nothing);
    }
    let results = store.batch(stmts).await?;
    // with a deduction, its own RETURNING is the truth (a refill the cron already made does not
    // match, which is fine: it set the same balance); without one, the refill must match
    let deduction = results.get(usize::from(refill.is_some()));
    let written = match (deducted > 0, results.first(), deduction) {
        (true, _, Some(deduction)) => returned(deduction)?,
        (false, Some(first), _) => returned(first)?,
        _ => None,
    };
    Ok(match written {
        Some(Some(remaining)) => Written::Balance(remaining),
        _ => Written::Mismatch,
    })
}

/// What [`adjust`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjusted {
    /// The balance does not exist.
    Missing,
    /// The balance as written (`None`: unlimited).
    Written(Option<i64>),
    /// Nothing was changed: the result would leave ±(2^53 − 1). The balance as it is.
    OutOfRange(i64),
}

/// Changes a balance (a due refill first), in one transaction with its idempotency record
/// (`claim`, kept until `expires_at`) and `then` (the rest of the change, its audit rows), which
/// come right after the change.
#[allow(clippy::too_many_arguments)]
pub async fn adjust(
    store: &Store,
    balance: &Balance,
    due_refill: Option<&RefillStep>,
    adjustment: Adjustment,
    now: i64,
    claim: Option<(Claim<'_>, i64)>,
    then: Vec<Stmt>,
) -> StoreResult<Adjusted> {
    let sql = statements(balance);
    let mut stmts = Vec::with_capacity(3);
    if let Some(refill) = due_refill {
        stmts.push(refill_stmt(balance, refill, now));
    }
    let (statement, value) = match adjustment {
        Adjustment::Increment(v) => (sql.increment, v),
        Adjustment::Decrement(v) => (sql.decrement, v),
        Adjustment::DecrementToZero(v) => (sql.decrement_to_zero, v),
        Adjustment::Set(v) => (sql.set, v),
    };
    stmts.push(stmt!(statement, balance.object_name(), value, now));
    if let Some((claim, expires_at)) = claim {
        stmts.push(idempotency::save_change(
            claim,
            &current(balance, 8),
            balance.object_name(),
            expires_at,
            now,
        ));
    }
    stmts.extend(then);
    // the balance after the change tells a refused change from a missing balance
    stmts.push(stmt!(sql.load, balance.object_name()));
    let results = store.batch(stmts).await?;
    let (Some(changed), Some(after)) = (results.get(usize::from(due_refill.is_some())), results.last())
    else {
        return Ok(Adjusted::Missing);
    };
    Ok(match (returned(changed)?, after.first::<Row>()?) {
        (Some(remaining), _) => Adjusted::Written(remaining),
        // an unlimited legacy column stays unlimited (NULL ± n is NULL, as before)
        (None, Some(Row { remaining: None, .. })) => Adjusted::Written(None),
        (None, Some(Row { remaining: Some(remaining), .. })) => Adjusted::OutOfRange(remaining),
        (None, None) => Adjusted::Missing,
    })
}
