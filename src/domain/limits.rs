//! keygate's documented bounds on input (README "Limits", docs/decisions.md "Limits"): every
//! list, name and window a request can make keygate store or count has a maximum. The wire types
//! state them in their schemas (so `/openapi.json` publishes them); rules a schema cannot state
//! live beside them (meta size: `identities::encode_meta`).

/// Names, ids, external ids, owner ids, rate-limit names and identifiers (characters).
pub const MAX_NAME: i64 = 255;
/// Roles or permissions named by one request.
pub const MAX_LIST: i64 = 1000;
/// Rate limits in one verification request, or configured on one identity.
pub const MAX_RATELIMITS: i64 = 50;
/// The largest `limit` of a rate limit (requests or tokens per window).
pub const MAX_RATE_LIMIT: i64 = 1_000_000_000;
/// The longest rate-limit window: 30 days, in ms (upstream v2's maximum).
pub const MAX_RATE_DURATION_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Plaintexts and hashes of imported keys (characters).
pub const MAX_SECRET: i64 = 512;
