//! `identities.*` routes (v1 §2.5 #28–32) with keygate's identity credits (decisions.md §3), one
//! module per operation; the shared wire mappings are here.

mod create;
mod delete;
mod get;
mod list;
mod update;

pub use create::create;
pub use delete::delete;
pub use get::get;
pub use list::list;
pub use update::update;

use crate::api::v1::common::{Patch, RefillResponse};
use crate::api::v1::identities::{CreditsRequest, CreditsResponse, IdentityRatelimit, IdentityResponse};
use crate::domain::credits::CreditsInput;
use crate::domain::parse_meta;
use crate::service::identities::{CreditsRow, IdentityLimitRow, IdentityView, LimitSpec};

/// v1's identity limits apply to every verification of the identity's keys.
fn limit_spec(r: IdentityRatelimit) -> LimitSpec {
    LimitSpec { name: r.name, limit: r.limit, duration: r.duration, auto_apply: true }
}

fn wire_limit(r: &IdentityLimitRow) -> IdentityRatelimit {
    IdentityRatelimit { name: r.name.clone(), limit: r.limit, duration: r.duration }
}

fn credits_input(c: CreditsRequest) -> CreditsInput {
    CreditsInput { remaining: c.remaining, refill: c.refill.map(|r| r.refill()) }
}

fn credits_patch(c: Patch<CreditsRequest>) -> Patch<CreditsInput> {
    c.map(credits_input)
}

/// Credits from their stored columns.
fn credits(
    remaining: i64,
    amount: Option<i64>,
    day: Option<i64>,
    refilled_at: Option<i64>,
) -> CreditsResponse {
    CreditsResponse { remaining, refill: RefillResponse::from_columns(amount, day, refilled_at) }
}

fn wire_credits(row: &CreditsRow) -> CreditsResponse {
    credits(row.remaining, row.refill_amount, row.refill_day, row.refilled_at)
}

/// The identity as getIdentity and updateIdentity return it.
fn wire_identity(v: IdentityView) -> IdentityResponse {
    IdentityResponse {
        meta: parse_meta(v.identity.meta.as_deref()).unwrap_or_default(),
        id: v.identity.id,
        external_id: v.identity.external_id,
        ratelimits: v.ratelimits.iter().map(wire_limit).collect(),
        credits: v.credits.as_ref().map(wire_credits),
    }
}
