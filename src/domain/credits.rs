//! The credit decision of a usage limiter: apply a due refill, then accept or reject a cost.
//!
//! Rule (upstream PR head, with keygate's refill-at-verification): a due refill first sets the
//! balance to `refill amount` if it is below it; then cost 0 is valid without a write and returns
//! the current balance; a cost above the balance is USAGE_EXCEEDED with nothing deducted and
//! `max(0, balance)` returned; otherwise the cost is deducted.

use serde::{Deserialize, Serialize};

use super::patch::Patch;
use super::refill::{due_boundary, Interval, Refill};

/// Which balance a verification charges. Keys of an identity with credits spend the identity's
/// balance; otherwise a key's credits row wins over the legacy `keys.remaining_requests` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "camelCase")]
pub enum Balance {
    /// The `credits` row (by id) of an identity, shared by all its keys.
    IdentityCredits(String),
    /// The `credits` row (by id) of a key.
    KeyCredits(String),
    /// The legacy `keys.remaining_requests` column of a key (by key id) that has no credits row.
    LegacyKey(String),
}

impl Balance {
    /// Precedence identity credits > key credits row > legacy column; `None` = unlimited.
    pub fn choose(
        identity_credit_id: Option<&str>,
        key_credit_id: Option<&str>,
        key_id: &str,
        legacy_remaining: Option<i64>,
    ) -> Option<Balance> {
        if let Some(id) = identity_credit_id {
            Some(Balance::IdentityCredits(id.to_string()))
        } else if let Some(id) = key_credit_id {
            Some(Balance::KeyCredits(id.to_string()))
        } else {
            legacy_remaining.map(|_| Balance::LegacyKey(key_id.to_string()))
        }
    }

    /// The name of the usage-limiter object that serialises this balance.
    pub fn object_name(&self) -> &str {
        match self {
            Balance::IdentityCredits(id) | Balance::KeyCredits(id) | Balance::LegacyKey(id) => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefillConfig {
    pub amount: i64,
    pub interval: Interval,
}

/// A balance as the limiter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceState {
    pub remaining: i64,
    pub refill: Option<RefillConfig>,
    /// Last refill (ms), or the creation time when it never refilled.
    pub last_refill: i64,
}

/// A due refill: at `boundary`, the balance becomes `max(balance, amount)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefillStep {
    pub boundary: i64,
    pub amount: i64,
    pub remaining_after: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendOutcome {
    /// Accepted; `deducted` credits leave the balance, which becomes `remaining`.
    Valid { remaining: i64, deducted: i64 },
    /// Rejected; nothing deducted. `remaining` is `max(0, balance)`.
    Exceeded { remaining: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendPlan {
    pub refill: Option<RefillStep>,
    pub outcome: SpendOutcome,
}

impl BalanceState {
    /// The refill to apply before anything else happens at `now`, if one is due.
    pub fn due_refill(&self, now_ms: i64) -> Option<RefillStep> {
        let cfg = self.refill?;
        let boundary = due_boundary(cfg.interval, self.last_refill, now_ms)?;
        Some(RefillStep { boundary, amount: cfg.amount, remaining_after: self.remaining.max(cfg.amount) })
    }

    /// Decides a verification costing `cost` (>= 0) at `now`.
    pub fn plan_spend(&self, cost: i64, now_ms: i64) -> SpendPlan {
        let refill = self.due_refill(now_ms);
        let balance = refill.map(|r| r.remaining_after).unwrap_or(self.remaining);
        let outcome = if cost <= 0 {
            SpendOutcome::Valid { remaining: balance, deducted: 0 }
        } else if cost > balance {
            SpendOutcome::Exceeded { remaining: balance.max(0) }
        } else {
            SpendOutcome::Valid { remaining: balance - cost, deducted: cost }
        };
        SpendPlan { refill, outcome }
    }
}

/// Spends decided together, in arrival order (the usage limiter's group commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// A refill to write before the deductions (only ever for the first spend).
    pub refill: Option<RefillStep>,
    /// Total credits to deduct, in one conditional write.
    pub deducted: i64,
    /// One outcome per decided spend, in order.
    pub outcomes: Vec<SpendOutcome>,
    /// The balance after the decided spends.
    pub after: BalanceState,
}

impl BalanceState {
    /// Decides `(cost, now)` spends in order, each exactly as [`BalanceState::plan_spend`] would
    /// one after another. Stops before a spend other than the first that needs a refill, so a plan
    /// writes at most one refill, before its deductions; `outcomes.len()` tells how many it took.
    pub fn plan_batch(&self, spends: &[(i64, i64)]) -> BatchPlan {
        let mut state = *self;
        let mut plan =
            BatchPlan { refill: None, deducted: 0, outcomes: Vec::with_capacity(spends.len()), after: state };
        for (i, &(cost, now)) in spends.iter().enumerate() {
            let step = state.plan_spend(cost, now);
            if let Some(refill) = step.refill {
                if i > 0 {
                    break;
                }
                plan.refill = Some(refill);
                state.remaining = refill.remaining_after;
                state.last_refill = now;
            }
            if let SpendOutcome::Valid { remaining, deducted } = step.outcome {
                state.remaining = remaining;
                plan.deducted += deducted;
            }
            plan.outcomes.push(step.outcome);
        }
        plan.after = state;
        plan
    }
}

/// A change of a balance requested through `keys.updateRemaining` / `keys.updateKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "value", rename_all = "camelCase")]
pub enum Adjustment {
    Increment(i64),
    Decrement(i64),
    /// v2's decrement: the balance stops at 0.
    DecrementToZero(i64),
    Set(i64),
}

impl Adjustment {
    /// The balance after the change (no floor: a decrement may go negative, as upstream).
    pub fn apply(self, balance: i64) -> i64 {
        match self {
            Adjustment::Increment(v) => balance.saturating_add(v),
            Adjustment::Decrement(v) => balance.saturating_sub(v),
            Adjustment::DecrementToZero(v) => balance.saturating_sub(v).max(0),
            Adjustment::Set(v) => v,
        }
    }
}

/// Whose balance a credits row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditsOwner {
    Key(String),
    Identity(String),
}

/// Where a key's own credits live (identity credits are never written through a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCredits {
    pub key_id: String,
    /// The key's credits row, if it has one.
    pub credit_id: Option<String>,
    /// The legacy `keys.remaining_requests` column is set (not NULL).
    pub legacy: bool,
    /// The legacy column's value (what `updateRemaining set null` answers after removing a row).
    pub legacy_remaining: Option<i64>,
}

impl KeyCredits {
    /// The key's own balance: its credits row, else the legacy column if set.
    pub fn balance(&self) -> Option<Balance> {
        Balance::choose(None, self.credit_id.as_deref(), &self.key_id, self.legacy.then_some(0))
    }
}

/// One write to a balance's stored settings, executed in the route's D1 batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditWrite {
    /// Delete the credits row (the balance becomes unlimited, or the legacy column effective).
    DeleteRow(String),
    /// `keys.remaining_requests = NULL` (unlimited).
    ClearLegacy(String),
    /// A new credits row. Its refill schedule starts now when `stamp_now` (updateKey's rule),
    /// else only when it has a refill (createKey's and identities' rule).
    InsertRow { owner: CreditsOwner, remaining: i64, refill: Option<Refill>, stamp_now: bool },
    /// New refill settings of a credits row; a new schedule starts now (none: no refill time).
    SetRowRefill { credit_id: String, refill: Option<Refill> },
    /// New refill settings of the legacy columns of a key.
    SetLegacyRefill { key_id: String, refill: Option<Refill> },
    /// Set the key's credits row to `remaining`, creating it if missing (updateRemaining `set`
    /// on a key without credits).
    UpsertKeyRow { key_id: String, remaining: i64 },
    /// A copy of one key's credits row (balance and refill schedule) for another key
    /// (rerollKey); none when it has no row.
    CopyKeyRow { from_key: String, to_key: String },
}

/// What the usage limiter of a balance must learn once the writes are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimiterStep {
    /// The limiter sets the balance (applying a due refill first).
    Set(Balance, i64),
    /// The limiter forgets its cached balance and reads storage again.
    Reload(Balance),
}

/// Writes to store together with the route's other changes, then limiter steps to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditsPlan {
    pub writes: Vec<CreditWrite>,
    pub limiter: Vec<LimiterStep>,
}

impl CreditsPlan {
    fn reload_unless_set(&mut self, balance: Balance) {
        if !matches!(self.limiter.last(), Some(LimiterStep::Set(..))) {
            self.limiter.push(LimiterStep::Reload(balance));
        }
    }
}

/// A change of credits that the rules refuse (the message is v1's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditsRefusal {
    /// A refill on a key that has no credits and gets none.
    RefillOnUnlimited,
    /// increment/decrement of an unlimited key.
    AdjustUnlimited(&'static str),
    /// increment/decrement by null.
    AdjustByNull(&'static str),
}

impl std::fmt::Display for CreditsRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreditsRefusal::RefillOnUnlimited => {
                write!(f, "Cannot set refill on a key with unlimited requests")
            }
            CreditsRefusal::AdjustUnlimited(op) => write!(
                f,
                "cannot {op} a key with unlimited remaining requests, please 'set' a value instead."
            ),
            CreditsRefusal::AdjustByNull(op) => write!(f, "cannot {op} a key by null."),
        }
    }
}

/// Plans updateKey's `remaining` and `refill` (upstream §2.5 #5): writes go to the key's credits
/// row if it has one, else to the legacy column if that is set, else a new credits row is
/// created; a refill change is written to the credits row (if kept) and to the legacy columns
/// (if set).
pub fn plan_key_update(
    key: &KeyCredits,
    remaining: &Patch<i64>,
    refill: &Patch<Refill>,
) -> Result<CreditsPlan, CreditsRefusal> {
    let has_row = key.credit_id.is_some();
    if refill.value().is_some()
        && (*remaining == Patch::Null || (!has_row && !key.legacy && remaining.value().is_none()))
    {
        return Err(CreditsRefusal::RefillOnUnlimited);
    }
    let mut plan = CreditsPlan::default();
    let legacy = || Balance::LegacyKey(key.key_id.clone());
    let mut row_kept = has_row;
    match (remaining, &key.credit_id, key.legacy) {
        (Patch::Absent, _, _) => {}
        (Patch::Null, Some(credit_id), _) => {
            plan.writes.push(CreditWrite::DeleteRow(credit_id.clone()));
            plan.limiter.push(LimiterStep::Reload(Balance::KeyCredits(credit_id.clone())));
            row_kept = false;
        }
        (Patch::Value(v), Some(credit_id), _) => {
            plan.limiter.push(LimiterStep::Set(Balance::KeyCredits(credit_id.clone()), *v))
        }
        (Patch::Null, None, true) => {
            plan.writes.push(CreditWrite::ClearLegacy(key.key_id.clone()));
            plan.limiter.push(LimiterStep::Reload(legacy()));
        }
        (Patch::Value(v), None, true) => plan.limiter.push(LimiterStep::Set(legacy(), *v)),
        // no credits anywhere: null is a no-op (upstream answered 500), a number creates a row
        (Patch::Null, None, false) => {}
        (Patch::Value(v), None, false) => plan.writes.push(CreditWrite::InsertRow {
            owner: CreditsOwner::Key(key.key_id.clone()),
            remaining: *v,
            refill: refill.value().copied(),
            stamp_now: true,
        }),
    }
    if !refill.is_absent() {
        let new = refill.value().copied();
        if let (true, Some(credit_id)) = (row_kept, &key.credit_id) {
            plan.writes.push(CreditWrite::SetRowRefill { credit_id: credit_id.clone(), refill: new });
            plan.reload_unless_set(Balance::KeyCredits(credit_id.clone()));
        }
        if key.legacy {
            plan.writes.push(CreditWrite::SetLegacyRefill { key_id: key.key_id.clone(), refill: new });
            if !has_row {
                plan.reload_unless_set(legacy());
            }
        }
    }
    Ok(plan)
}

/// updateRemaining's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemainingOp {
    Increment,
    Decrement,
    /// v2's decrement: the balance stops at 0.
    DecrementToZero,
    Set,
}

/// How updateRemaining changes a key's own balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemainingPlan {
    /// Through the balance's limiter (a due refill first); answers what it stored.
    Adjust(Balance, Adjustment),
    /// `set null`: remove the balance, make its limiter reload, answer `answer` (a legacy column
    /// that becomes effective again, or unlimited).
    Remove { write: CreditWrite, reload: Balance, answer: Option<i64> },
    /// `set` on a key without credits: a new credits row.
    Create(CreditWrite, i64),
    /// `set null` on an unlimited key.
    Nothing,
}

/// Plans updateRemaining (upstream §2.5 #6) on the key's own balance.
pub fn plan_remaining(
    key: &KeyCredits,
    op: RemainingOp,
    value: Option<i64>,
) -> Result<RemainingPlan, CreditsRefusal> {
    let balance = key.balance();
    let adjust = |name: &'static str, make: fn(i64) -> Adjustment| {
        let balance = balance.clone().ok_or(CreditsRefusal::AdjustUnlimited(name))?;
        let v = value.ok_or(CreditsRefusal::AdjustByNull(name))?;
        Ok(RemainingPlan::Adjust(balance, make(v)))
    };
    match (op, value, &balance) {
        (RemainingOp::Increment, ..) => adjust("increment", Adjustment::Increment),
        (RemainingOp::Decrement, ..) => adjust("decrement", Adjustment::Decrement),
        (RemainingOp::DecrementToZero, ..) => adjust("decrement", Adjustment::DecrementToZero),
        (RemainingOp::Set, Some(v), Some(b)) => Ok(RemainingPlan::Adjust(b.clone(), Adjustment::Set(v))),
        // the legacy column, if set, becomes effective again
        (RemainingOp::Set, None, Some(b @ Balance::KeyCredits(credit_id))) => Ok(RemainingPlan::Remove {
            write: CreditWrite::DeleteRow(credit_id.clone()),
            reload: b.clone(),
            answer: key.legacy_remaining,
        }),
        (RemainingOp::Set, None, Some(b)) => Ok(RemainingPlan::Remove {
            write: CreditWrite::ClearLegacy(key.key_id.clone()),
            reload: b.clone(),
            answer: None,
        }),
        (RemainingOp::Set, Some(v), None) => Ok(RemainingPlan::Create(
            CreditWrite::UpsertKeyRow { key_id: key.key_id.clone(), remaining: v },
            v,
        )),
        (RemainingOp::Set, None, None) => Ok(RemainingPlan::Nothing),
    }
}

/// An identity's credits row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredits {
    pub id: String,
    pub refill_amount: Option<i64>,
    pub refill_day: Option<i64>,
}

/// The requested credits of an identity: a balance and its refill (absent keeps the schedule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditsInput {
    pub remaining: i64,
    pub refill: Patch<Refill>,
}

/// Plans updateIdentity's `credits` (decisions.md §3): null removes the balance, a value on an
/// existing row sets the balance through its limiter (and restarts a changed refill schedule), a
/// value without a row creates one.
pub fn plan_identity_credits(
    identity_id: &str,
    existing: Option<&StoredCredits>,
    credits: &Patch<CreditsInput>,
) -> CreditsPlan {
    let mut plan = CreditsPlan::default();
    match (credits, existing) {
        (Patch::Absent, _) | (Patch::Null, None) => {}
        (Patch::Null, Some(row)) => {
            plan.writes.push(CreditWrite::DeleteRow(row.id.clone()));
            plan.limiter.push(LimiterStep::Reload(Balance::IdentityCredits(row.id.clone())));
        }
        (Patch::Value(c), None) => plan.writes.push(CreditWrite::InsertRow {
            owner: CreditsOwner::Identity(identity_id.to_string()),
            remaining: c.remaining,
            refill: c.refill.value().copied(),
            stamp_now: false,
        }),
        (Patch::Value(c), Some(row)) => {
            if !c.refill.is_absent() {
                let refill = c.refill.value().copied();
                let new = (refill.map(|r| r.amount), refill.and_then(|r| r.stored_day()));
                if refill_changed((row.refill_amount, row.refill_day), new) {
                    plan.writes.push(CreditWrite::SetRowRefill { credit_id: row.id.clone(), refill });
                }
            }
            plan.limiter.push(LimiterStep::Set(Balance::IdentityCredits(row.id.clone()), c.remaining));
        }
    }
    plan
}

/// The stored refill columns (`refill_amount`, `refill_day`).
pub type RefillColumns = (Option<i64>, Option<i64>);

/// Whether writing `new` over `old` changes the refill schedule (then it restarts now).
pub fn refill_changed(old: RefillColumns, new: RefillColumns) -> bool {
    let norm = |(amount, day): RefillColumns| {
        let amount = amount.filter(|a| *a != 0);
        (amount, amount.and(day.filter(|d| *d != 0)))
    };
    norm(old) != norm(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::refill::DAY_MS;

    fn plain(remaining: i64) -> BalanceState {
        BalanceState { remaining, refill: None, last_refill: 0 }
    }

    fn valid(remaining: i64, deducted: i64) -> SpendOutcome {
        SpendOutcome::Valid { remaining, deducted }
    }

    #[test]
    fn spec_edge_cases() {
        assert_eq!(plain(100).plan_spend(1, 0).outcome, valid(99, 1));
        assert_eq!(plain(50).plan_spend(5, 0).outcome, valid(45, 5));
        assert_eq!(plain(0).plan_spend(0, 0).outcome, valid(0, 0));
        assert_eq!(plain(1).plan_spend(1, 0).outcome, valid(0, 1));
        assert_eq!(plain(0).plan_spend(1, 0).outcome, SpendOutcome::Exceeded { remaining: 0 });
        assert_eq!(plain(99).plan_spend(101, 0).outcome, SpendOutcome::Exceeded { remaining: 99 });
        assert_eq!(plain(50).plan_spend(100, 0).outcome, SpendOutcome::Exceeded { remaining: 50 });
        assert_eq!(plain(-5).plan_spend(1, 0).outcome, SpendOutcome::Exceeded { remaining: 0 });
        assert_eq!(plain(-5).plan_spend(0, 0).outcome, valid(-5, 0));
        assert_eq!(plain(10).plan_spend(10, 0).outcome, valid(0, 10));
    }

    #[test]
    fn no_refill_without_config_or_before_boundary() {
        assert_eq!(plain(0).plan_spend(1, 10 * DAY_MS).refill, None);
        let s = BalanceState {
            remaining: 3,
            refill: Some(RefillConfig { amount: 100, interval: Interval::Daily }),
            last_refill: 5 * DAY_MS + 10,
        };
        assert_eq!(s.plan_spend(1, 5 * DAY_MS + 20).refill, None);
        assert_eq!(s.plan_spend(1, 5 * DAY_MS + 20).outcome, valid(2, 1));
    }

    #[test]
    fn due_refill_sets_balance_then_deducts() {
        let s = BalanceState {
            remaining: 3,
            refill: Some(RefillConfig { amount: 100, interval: Interval::Daily }),
            last_refill: 5 * DAY_MS + 10,
        };
        let plan = s.plan_spend(1, 6 * DAY_MS + 1);
        assert_eq!(plan.refill, Some(RefillStep { boundary: 6 * DAY_MS, amount: 100, remaining_after: 100 }));
        assert_eq!(plan.outcome, valid(99, 1));
        // cost 0 still applies the due refill
        assert_eq!(s.plan_spend(0, 6 * DAY_MS + 1).outcome, valid(100, 0));
    }

    #[test]
    fn refill_never_lowers_a_balance() {
        let s = BalanceState {
            remaining: 250,
            refill: Some(RefillConfig { amount: 100, interval: Interval::Daily }),
            last_refill: 0,
        };
        let plan = s.plan_spend(1, DAY_MS);
        assert_eq!(plan.refill.map(|r| r.remaining_after), Some(250));
        assert_eq!(plan.outcome, valid(249, 1));
    }

    #[test]
    fn batch_equals_one_spend_after_another() {
        let s = BalanceState { remaining: 5, refill: None, last_refill: 0 };
        let plan = s.plan_batch(&[(3, 1), (3, 2), (0, 3), (2, 4), (1, 5)]);
        assert_eq!(plan.refill, None);
        assert_eq!(plan.deducted, 5);
        assert_eq!(
            plan.outcomes,
            vec![
                valid(2, 3),
                SpendOutcome::Exceeded { remaining: 2 },
                valid(2, 0),
                valid(0, 2),
                SpendOutcome::Exceeded { remaining: 0 }
            ]
        );
        assert_eq!(plan.after.remaining, 0);
        // the same as deciding them one by one
        let mut one_by_one = s;
        for (cost, now) in [(3, 1), (3, 2), (0, 3), (2, 4), (1, 5)] {
            if let SpendOutcome::Valid { remaining, .. } = one_by_one.plan_spend(cost, now).outcome {
                one_by_one.remaining = remaining;
            }
        }
        assert_eq!(one_by_one, plan.after);
    }

    #[test]
    fn batch_refills_first_and_stops_at_the_next_refill() {
        let s = BalanceState {
            remaining: 0,
            refill: Some(RefillConfig { amount: 3, interval: Interval::Daily }),
            last_refill: 0,
        };
        // the first spend is past a boundary: refill, then deduct
        let plan = s.plan_batch(&[(1, DAY_MS + 1), (1, DAY_MS + 2), (5, DAY_MS + 3)]);
        assert_eq!(plan.refill.map(|r| r.remaining_after), Some(3));
        assert_eq!(plan.deducted, 2);
        assert_eq!(plan.outcomes.len(), 3);
        assert_eq!(plan.outcomes[2], SpendOutcome::Exceeded { remaining: 1 });
        assert_eq!(plan.after.last_refill, DAY_MS + 1);
        // a later spend crossing the next boundary is left for the next batch
        let plan = s.plan_batch(&[(1, DAY_MS + 1), (1, 2 * DAY_MS + 1)]);
        assert_eq!(plan.outcomes.len(), 1);
        assert_eq!(plan.deducted, 1);
        // a negative balance stays as is when a spend is rejected
        let neg = BalanceState { remaining: -5, refill: None, last_refill: 0 };
        let plan = neg.plan_batch(&[(1, 1), (0, 2)]);
        assert_eq!(plan.outcomes, vec![SpendOutcome::Exceeded { remaining: 0 }, valid(-5, 0)]);
        assert_eq!(plan.after.remaining, -5);
    }

    #[test]
    fn balance_precedence() {
        assert_eq!(
            Balance::choose(Some("cr_i"), Some("cr_k"), "key_1", Some(5)),
            Some(Balance::IdentityCredits("cr_i".into()))
        );
        assert_eq!(
            Balance::choose(None, Some("cr_k"), "key_1", Some(5)),
            Some(Balance::KeyCredits("cr_k".into()))
        );
        assert_eq!(Balance::choose(None, None, "key_1", Some(0)), Some(Balance::LegacyKey("key_1".into())));
        assert_eq!(Balance::choose(None, None, "key_1", None), None);
        assert_eq!(Balance::LegacyKey("key_1".into()).object_name(), "key_1");
    }

    #[test]
    fn adjustments() {
        assert_eq!(Adjustment::Increment(10).apply(100), 110);
        assert_eq!(Adjustment::Decrement(10).apply(5), -5);
        assert_eq!(Adjustment::Set(7).apply(100), 7);
        assert_eq!(Adjustment::Increment(1).apply(i64::MAX), i64::MAX);
    }

    fn key(credit: Option<&str>, legacy: Option<i64>) -> KeyCredits {
        KeyCredits {
            key_id: "key_1".into(),
            credit_id: credit.map(String::from),
            legacy: legacy.is_some(),
            legacy_remaining: legacy,
        }
    }

    fn monthly(amount: i64, day: i64) -> Refill {
        Refill { amount, monthly: true, day: Some(day) }
    }

    #[test]
    fn key_update_targets_row_then_legacy_then_new_row() {
        let set = Patch::Value(50);
        let none = Patch::Absent;
        // credits row: the limiter sets it; nothing written in the batch
        let p = plan_key_update(&key(Some("cr_1"), Some(9)), &set, &none).expect("plan");
        assert_eq!(p.writes, vec![]);
        assert_eq!(p.limiter, vec![LimiterStep::Set(Balance::KeyCredits("cr_1".into()), 50)]);
        // legacy only: the legacy limiter sets it
        let p = plan_key_update(&key(None, Some(9)), &set, &none).expect("plan");
        assert_eq!(p.limiter, vec![LimiterStep::Set(Balance::LegacyKey("key_1".into()), 50)]);
        // nothing: a new credits row whose schedule starts now
        let p = plan_key_update(&key(None, None), &set, &Patch::Value(monthly(10, 3))).expect("plan");
        assert_eq!(
            p.writes,
            vec![CreditWrite::InsertRow {
                owner: CreditsOwner::Key("key_1".into()),
                remaining: 50,
                refill: Some(monthly(10, 3)),
                stamp_now: true
            }]
        );
        assert!(p.limiter.is_empty());
    }

    #[test]
    fn key_update_null_removes_the_effective_balance() {
        let p = plan_key_update(&key(Some("cr_1"), Some(9)), &Patch::Null, &Patch::Absent).expect("plan");
        assert_eq!(p.writes, vec![CreditWrite::DeleteRow("cr_1".into())]);
        assert_eq!(p.limiter, vec![LimiterStep::Reload(Balance::KeyCredits("cr_1".into()))]);
        let p = plan_key_update(&key(None, Some(9)), &Patch::Null, &Patch::Absent).expect("plan");
        assert_eq!(p.writes, vec![CreditWrite::ClearLegacy("key_1".into())]);
        assert_eq!(p.limiter, vec![LimiterStep::Reload(Balance::LegacyKey("key_1".into()))]);
        // null on an unlimited key is a no-op (upstream answered 500)
        assert_eq!(
            plan_key_update(&key(None, None), &Patch::Null, &Patch::Absent),
            Ok(CreditsPlan::default())
        );
    }

    #[test]
    fn key_update_refill_goes_to_row_and_legacy() {
        let refill = Patch::Value(monthly(500, 15));
        // row and legacy: both get the refill; the row's limiter reloads
        let p = plan_key_update(&key(Some("cr_1"), Some(9)), &Patch::Absent, &refill).expect("plan");
        assert_eq!(
            p.writes,
            vec![
                CreditWrite::SetRowRefill { credit_id: "cr_1".into(), refill: Some(monthly(500, 15)) },
                CreditWrite::SetLegacyRefill { key_id: "key_1".into(), refill: Some(monthly(500, 15)) },
            ]
        );
        assert_eq!(p.limiter, vec![LimiterStep::Reload(Balance::KeyCredits("cr_1".into()))]);
        // a set balance makes a reload redundant
        let p = plan_key_update(&key(Some("cr_1"), None), &Patch::Value(7), &refill).expect("plan");
        assert_eq!(p.limiter, vec![LimiterStep::Set(Balance::KeyCredits("cr_1".into()), 7)]);
        // legacy only: the legacy limiter reloads
        let p = plan_key_update(&key(None, Some(9)), &Patch::Absent, &Patch::Null).expect("plan");
        assert_eq!(p.writes, vec![CreditWrite::SetLegacyRefill { key_id: "key_1".into(), refill: None }]);
        assert_eq!(p.limiter, vec![LimiterStep::Reload(Balance::LegacyKey("key_1".into()))]);
        // a removed row gets no refill
        let p = plan_key_update(&key(Some("cr_1"), None), &Patch::Null, &Patch::Null).expect("plan");
        assert_eq!(p.writes, vec![CreditWrite::DeleteRow("cr_1".into())]);
    }

    #[test]
    fn refill_needs_credits() {
        let refill = Patch::Value(monthly(1, 1));
        assert_eq!(
            plan_key_update(&key(None, None), &Patch::Absent, &refill),
            Err(CreditsRefusal::RefillOnUnlimited)
        );
        assert_eq!(
            plan_key_update(&key(Some("cr_1"), None), &Patch::Null, &refill),
            Err(CreditsRefusal::RefillOnUnlimited)
        );
        assert!(plan_key_update(&key(Some("cr_1"), None), &Patch::Absent, &refill).is_ok());
        assert_eq!(
            CreditsRefusal::RefillOnUnlimited.to_string(),
            "Cannot set refill on a key with unlimited requests"
        );
    }

    #[test]
    fn remaining_plans() {
        let row = key(Some("cr_1"), Some(999));
        assert_eq!(
            plan_remaining(&row, RemainingOp::Increment, Some(5)),
            Ok(RemainingPlan::Adjust(Balance::KeyCredits("cr_1".into()), Adjustment::Increment(5)))
        );
        assert_eq!(
            plan_remaining(&key(None, Some(1)), RemainingOp::Set, Some(5)),
            Ok(RemainingPlan::Adjust(Balance::LegacyKey("key_1".into()), Adjustment::Set(5)))
        );
        assert_eq!(
            plan_remaining(&row, RemainingOp::Set, None),
            Ok(RemainingPlan::Remove {
                write: CreditWrite::DeleteRow("cr_1".into()),
                reload: Balance::KeyCredits("cr_1".into()),
                answer: Some(999)
            })
        );
        assert_eq!(
            plan_remaining(&key(None, Some(1)), RemainingOp::Set, None),
            Ok(RemainingPlan::Remove {
                write: CreditWrite::ClearLegacy("key_1".into()),
                reload: Balance::LegacyKey("key_1".into()),
                answer: None
            })
        );
        assert_eq!(
            plan_remaining(&key(None, None), RemainingOp::Set, Some(50)),
            Ok(RemainingPlan::Create(
                CreditWrite::UpsertKeyRow { key_id: "key_1".into(), remaining: 50 },
                50
            ))
        );
        assert_eq!(plan_remaining(&key(None, None), RemainingOp::Set, None), Ok(RemainingPlan::Nothing));
        let e = plan_remaining(&key(None, None), RemainingOp::Decrement, Some(1)).expect_err("unlimited");
        assert_eq!(
            e.to_string(),
            "cannot decrement a key with unlimited remaining requests, please 'set' a value instead."
        );
        let e = plan_remaining(&row, RemainingOp::Increment, None).expect_err("null");
        assert_eq!(e.to_string(), "cannot increment a key by null.");
    }

    #[test]
    fn identity_credit_plans() {
        let stored = StoredCredits { id: "cr_i".into(), refill_amount: Some(10), refill_day: None };
        let daily10 = Refill { amount: 10, monthly: false, day: None };
        let input = |refill| Patch::Value(CreditsInput { remaining: 5, refill });
        // same refill: only the balance is set
        let p = plan_identity_credits("id_1", Some(&stored), &input(Patch::Value(daily10)));
        assert_eq!(p.writes, vec![]);
        assert_eq!(p.limiter, vec![LimiterStep::Set(Balance::IdentityCredits("cr_i".into()), 5)]);
        // a changed refill restarts the schedule
        let p = plan_identity_credits("id_1", Some(&stored), &input(Patch::Null));
        assert_eq!(p.writes, vec![CreditWrite::SetRowRefill { credit_id: "cr_i".into(), refill: None }]);
        // null removes, absent keeps, a value without a row creates one
        let p = plan_identity_credits("id_1", Some(&stored), &Patch::Null);
        assert_eq!(p.writes, vec![CreditWrite::DeleteRow("cr_i".into())]);
        assert_eq!(p.limiter, vec![LimiterStep::Reload(Balance::IdentityCredits("cr_i".into()))]);
        assert_eq!(plan_identity_credits("id_1", Some(&stored), &Patch::Absent), CreditsPlan::default());
        assert_eq!(plan_identity_credits("id_1", None, &Patch::Null), CreditsPlan::default());
        let p = plan_identity_credits("id_1", None, &input(Patch::Absent));
        assert_eq!(
            p.writes,
            vec![CreditWrite::InsertRow {
                owner: CreditsOwner::Identity("id_1".into()),
                remaining: 5,
                refill: None,
                stamp_now: false
            }]
        );
    }

    #[test]
    fn refill_changes() {
        assert!(!refill_changed((Some(10), None), (Some(10), None)));
        assert!(!refill_changed((None, None), (None, None)));
        assert!(!refill_changed((None, Some(1)), (None, None)));
        assert!(!refill_changed((Some(0), None), (None, None)));
        assert!(refill_changed((Some(10), None), (Some(11), None)));
        assert!(refill_changed((Some(10), None), (Some(10), Some(1))));
        assert!(refill_changed((Some(10), Some(1)), (None, None)));
        assert!(refill_changed((None, None), (Some(10), Some(5))));
    }
}
