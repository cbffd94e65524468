//! keys.getVerifications and analytics.getVerifications.

use crate::api::v1::analytics::*;
use crate::domain::analytics::{Grouping, Measure, TimeBucket};
use crate::service::analytics::{self, KeySelector, VerificationsQuery};
use crate::service::auth::{Credentials, Principal};
use crate::service::{Ctx, Result};
use crate::store::analytics::Datapoint as Sums;

pub async fn key_verifications(
    ctx: &Ctx,
    creds: &Credentials,
    req: KeyVerificationsQuery,
) -> Result<KeyVerificationsResponse> {
    // the refinement made sure one of them is there
    let selector = match req.key_id {
        Some(key_id) => KeySelector::Key(key_id),
        None => KeySelector::Owner(req.owner_id.unwrap_or_default()),
    };
    let days = analytics::key_verifications(ctx, creds, selector, req.start, req.end).await?;
    Ok(KeyVerificationsResponse {
        verifications: days
            .into_iter()
            .map(|d| DailyVerifications {
                time: d.time.unwrap_or_default(),
                success: d.valid,
                rate_limited: d.rate_limited,
                usage_exceeded: d.usage_exceeded,
            })
            .collect(),
    })
}

fn measure(o: OrderBy) -> Measure {
    match o {
        OrderBy::Time => Measure::Time,
        OrderBy::Valid => Measure::Outcome(0),
        OrderBy::RateLimited => Measure::Outcome(1),
        OrderBy::UsageExceeded => Measure::Outcome(2),
        OrderBy::Disabled => Measure::Outcome(3),
        OrderBy::Expired => Measure::Outcome(4),
        OrderBy::Forbidden => Measure::Outcome(5),
        OrderBy::InsufficientPermissions => Measure::Outcome(6),
        OrderBy::Total => Measure::Total,
        OrderBy::SpentCredits => Measure::SpentCredits,
        OrderBy::NotFound | OrderBy::Unauthorized => Measure::Zero,
    }
}

fn grouping(groups: &[GroupBy]) -> Grouping {
    let mut g = Grouping::default();
    for group in groups {
        match group {
            GroupBy::Key => g.key = true,
            GroupBy::Identity => g.identity = true,
            GroupBy::Tags => g.tags = true,
            GroupBy::Tag => g.tag = true,
            GroupBy::Hour => g.by_time(TimeBucket::Hour),
            GroupBy::Day => g.by_time(TimeBucket::Day),
            GroupBy::Month => g.by_time(TimeBucket::Month),
        }
    }
    g
}

fn datapoint(s: Sums) -> Datapoint {
    Datapoint {
        time: s.time,
        valid: s.valid,
        not_found: 0,
        forbidden: s.forbidden,
        usage_exceeded: s.usage_exceeded,
        rate_limited: s.rate_limited,
        unauthorized: 0,
        disabled: s.disabled,
        insufficient_permissions: s.insufficient_permissions,
        expired: s.expired,
        total: s.total,
        spent_credits: s.spent_credits,
        tag: s.tag,
        tags: s.tags.map(|t| serde_json::from_str(&t).unwrap_or_default()),
        key_id: s.key_id,
        identity: s
            .identity_id
            .filter(|id| !id.is_empty())
            .map(|id| DatapointIdentity { id, external_id: s.external_id.unwrap_or_default() }),
    }
}

pub async fn verifications(ctx: &Ctx, p: &Principal, req: AnalyticsQuery) -> Result<Vec<Datapoint>> {
    let query = VerificationsQuery {
        // key ids never contain commas: the v1 SDK sends an array as one comma-separated value
        key_ids: req.key_id.iter().flatten().flat_map(|k| k.split(',')).map(str::to_string).collect(),
        external_id: req.external_id,
        tags: req.tag.unwrap_or_default(),
        start: req.start,
        end: req.end,
        grouping: grouping(req.group_by.as_deref().unwrap_or_default()),
        order_by: req.order_by.map(measure),
        descending: req.order == Some(Order::Desc),
        limit: req.limit,
        api_id: req.api_id,
    };
    Ok(analytics::verifications(ctx, p, &query).await?.into_iter().map(datapoint).collect())
}
