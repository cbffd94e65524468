//! The credit decision of a usage limiter: apply a due refill, then accept or reject a cost.
//!
//! Rule (upstream PR head, with keygate's refill-at-verification): a due refill first sets the
//! balance to `refill amount` if it is below it; then cost 0 is valid without a write and returns
//! the current balance; a cost above the balance is USAGE_EXCEEDED with nothing deducted and
//! `max(0, balance)` returned; otherwise the cost is deducted.

use serde::{Deserialize, Serialize};

use super::refill::{due_boundary, Interval};

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
    Set(i64),
}

impl Adjustment {
    /// The balance after the change (no floor: a decrement may go negative, as upstream).
    pub fn apply(self, balance: i64) -> i64 {
        match self {
            Adjustment::Increment(v) => balance.saturating_add(v),
            Adjustment::Decrement(v) => balance.saturating_sub(v),
            Adjustment::Set(v) => v,
        }
    }
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
}
