//! Wire types of `keys.getVerifications` and `analytics.getVerifications`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Day,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyVerificationsQuery {
    /// The key whose verifications to sum; or give `ownerId`.
    #[schemars(length(min = 1))]
    pub key_id: Option<String>,
    /// Sums the verifications of every key with this owner id (or identity external id).
    #[schemars(length(min = 1))]
    pub owner_id: Option<String>,
    /// Unix ms; default 24 hours before `end`. The hour containing it is included whole.
    pub start: Option<i64>,
    /// Unix ms (exclusive); default now.
    pub end: Option<i64>,
    /// Only `day`.
    pub granularity: Option<Granularity>,
}

/// Verifications of one day (UTC).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyVerifications {
    /// Start of the day, unix ms.
    pub time: i64,
    pub success: i64,
    pub rate_limited: i64,
    pub usage_exceeded: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeyVerificationsResponse {
    /// Days with verifications, oldest first.
    pub verifications: Vec<DailyVerifications>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Key,
    Identity,
    Tags,
    Tag,
    Month,
    Day,
    Hour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OrderBy {
    Time,
    Valid,
    NotFound,
    Forbidden,
    UsageExceeded,
    RateLimited,
    Unauthorized,
    Disabled,
    InsufficientPermissions,
    Expired,
    Total,
    SpentCredits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsQuery {
    /// Only keys of this api.
    #[schemars(length(min = 1))]
    pub api_id: String,
    /// Only verifications of the identity with this external id.
    #[schemars(length(min = 1))]
    pub external_id: Option<String>,
    /// Only these keys (repeat the parameter, or separate ids with commas).
    #[schemars(inner(length(min = 1)))]
    pub key_id: Option<Vec<String>>,
    /// Only verifications carrying any of these tags (repeat the parameter for several).
    #[schemars(inner(length(min = 1)))]
    pub tag: Option<Vec<String>>,
    /// Unix ms. The hour containing it is included whole.
    pub start: i64,
    /// Unix ms (exclusive); default now.
    pub end: Option<i64>,
    /// Group by any of these (repeat the parameter, or separate them with commas): `tags` groups
    /// by the whole tag set of each verification, `tag` by each tag on its own (they exclude each
    /// other); of several time slices the coarsest wins. None: one datapoint for the whole range.
    pub group_by: Option<Vec<GroupBy>>,
    /// At most this many datapoints (without it, more than 10000 is a 400).
    #[schemars(range(min = 1))]
    pub limit: Option<i64>,
    /// `spentCredits` is keygate's.
    pub order_by: Option<OrderBy>,
    /// Default `asc`.
    pub order: Option<Order>,
}

/// An identity a datapoint belongs to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatapointIdentity {
    pub id: String,
    pub external_id: String,
}

/// The verifications of one group.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Datapoint {
    /// Start of the time slice (unix ms), when grouping by hour, day or month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    pub valid: i64,
    /// Always 0: verifications of unknown keys are not recorded.
    pub not_found: i64,
    pub forbidden: i64,
    pub usage_exceeded: i64,
    pub rate_limited: i64,
    /// Always 0 (no verification has this outcome).
    pub unauthorized: i64,
    pub disabled: i64,
    pub insufficient_permissions: i64,
    pub expired: i64,
    /// Every verification of the group, whatever its outcome.
    pub total: i64,
    /// keygate: credits the group's verifications spent.
    pub spent_credits: i64,
    /// When grouping by tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// When grouping by tags: the (sorted) tag set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// When grouping by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// When grouping by identity (absent for keys without an identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<DatapointIdentity>,
}

/// `keyId` or `ownerId` (before authentication, as upstream).
impl crate::api::Refine for KeyVerificationsQuery {
    fn refine(&self) -> Result<(), String> {
        match (&self.key_id, &self.owner_id) {
            (None, None) => Err("keyId or ownerId must be provided".into()),
            _ => Ok(()),
        }
    }
}

impl crate::api::Refine for AnalyticsQuery {
    fn refine(&self) -> Result<(), String> {
        let groups = self.group_by.as_deref().unwrap_or_default();
        if groups.contains(&GroupBy::Tag) && groups.contains(&GroupBy::Tags) {
            return Err("groupBy: tag and tags can not be combined".into());
        }
        match self.end {
            Some(end) if self.start >= end => Err("start must be before end".into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Refine;
    use crate::domain::validate::{parse, Source};
    use serde_json::json;

    fn query(v: serde_json::Value) -> Result<AnalyticsQuery, String> {
        let q = parse::<AnalyticsQuery>(v, Source::Query).map_err(|e| e.to_string())?;
        q.refine()?;
        Ok(q)
    }

    #[test]
    fn analytics_query_from_a_query_string() {
        let q = query(json!({"apiId": "api_1", "start": "5", "keyId": "key_1", "groupBy": "key,day"}))
            .expect("valid");
        assert_eq!(q.start, 5);
        assert_eq!(q.key_id, Some(vec!["key_1".to_string()]));
        assert_eq!(q.group_by, Some(vec![GroupBy::Key, GroupBy::Day]));
        let q =
            query(json!({"apiId": "api_1", "start": "5", "groupBy": ["hour", "tag"], "tag": ["a,b", "c"]}))
                .expect("valid");
        assert_eq!(q.group_by, Some(vec![GroupBy::Hour, GroupBy::Tag]));
        assert_eq!(q.tag, Some(vec!["a,b".to_string(), "c".to_string()]));
    }

    #[test]
    fn analytics_query_errors() {
        assert_eq!(query(json!({"apiId": "api_1"})).err().as_deref(), Some("start: Required"));
        assert_eq!(
            query(json!({"apiId": "api_1", "start": "5", "end": "5"})).err().as_deref(),
            Some("start must be before end")
        );
        assert_eq!(
            query(json!({"apiId": "api_1", "start": "1", "groupBy": "tag,tags"})).err().as_deref(),
            Some("groupBy: tag and tags can not be combined")
        );
        assert!(query(json!({"apiId": "api_1", "start": "1", "groupBy": "week"}))
            .err()
            .is_some_and(|e| e.starts_with("groupBy.0: Invalid enum value")));
        assert!(query(json!({"apiId": "api_1", "start": "1", "limit": "0"}))
            .err()
            .is_some_and(|e| e.starts_with("limit: ")));
    }

    #[test]
    fn key_verifications_need_a_key_or_an_owner() {
        let q = parse::<KeyVerificationsQuery>(json!({}), Source::Query).expect("schema");
        assert_eq!(q.refine().err().as_deref(), Some("keyId or ownerId must be provided"));
        let q = parse::<KeyVerificationsQuery>(json!({"ownerId": "u", "granularity": "day"}), Source::Query)
            .expect("schema");
        assert!(q.refine().is_ok());
    }
}
