//! Wire types of the v2 `identities.*` routes (v2-api.md §4.15), with keygate's identity credits
//! (decisions.md §3: an extension the stock SDK neither sends nor reads).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    duplicate_ratelimits, CreditsResponse, Meta, Patch, RatelimitRequest, RatelimitResponse, RefillRequest,
    EXTERNAL_ID_PATTERN,
};
use crate::api::Refine;

/// Credits shared by every key of the identity (keygate extension), charged before a key's own.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct IdentityCredits {
    #[schemars(range(min = 0))]
    pub remaining: i64,
    /// On update, absent keeps the schedule and `null` removes it.
    #[serde(default)]
    pub refill: Patch<RefillRequest>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct CreateIdentityRequest {
    /// Your id for this user or organisation; unique in the workspace.
    #[schemars(length(min = 1, max = 255), pattern(EXTERNAL_ID_PATTERN))]
    pub external_id: String,
    /// Returned with every verification of the identity's keys (JSON up to 1 MiB).
    pub meta: Option<Meta>,
    /// Rate limits shared by every key of the identity.
    #[schemars(length(max = 50))]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    pub credits: Option<IdentityCredits>,
}

fn check_credits(credits: Option<&IdentityCredits>) -> Result<(), String> {
    match credits.and_then(|c| c.refill.value()) {
        Some(refill) => refill.check("credits.refill"),
        None => Ok(()),
    }
}

impl Refine for CreateIdentityRequest {
    fn refine(&self) -> Result<(), String> {
        check_credits(self.credits.as_ref())?;
        duplicate_ratelimits("ratelimits", self.ratelimits.as_ref())
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityResponse {
    pub identity_id: String,
}

/// An identity: by its id or its external id.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GetIdentityRequest {
    /// The identity's id or external id.
    #[schemars(length(min = 1, max = 255))]
    pub identity: String,
}

pub type DeleteIdentityRequest = GetIdentityRequest;

/// An identity as returned.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub external_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
    /// keygate extension: the identity's shared credits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsResponse>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ListIdentitiesRequest {
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    #[schemars(length(max = 1024))]
    pub cursor: Option<String>,
    /// Case-insensitive part of the id or external id.
    #[schemars(length(max = 256))]
    pub search: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UpdateIdentityRequest {
    #[schemars(length(min = 1, max = 255))]
    pub identity: String,
    /// Replaces the identity's metadata.
    pub meta: Option<Meta>,
    /// Replaces the identity's rate limits by name (kept names keep their ids).
    #[schemars(length(max = 50))]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    /// `null` removes the identity's credits.
    #[serde(default)]
    pub credits: Patch<IdentityCredits>,
}

impl Refine for UpdateIdentityRequest {
    fn refine(&self) -> Result<(), String> {
        check_credits(self.credits.value())?;
        duplicate_ratelimits("ratelimits", self.ratelimits.as_ref())
    }
}
