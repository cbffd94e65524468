//! Verification analytics: recording off the hot path, and the reads (keys.getVerifications,
//! analytics.getVerifications).
//!
//! **Recording.** [`record`] adds a verification to the isolate's in-memory hourly rollups
//! (`domain::analytics::Rollups`): no I/O, no allocation for a rollup already held. The rollups
//! are written by [`flush`] with one upsert statement, after the response (`wait_until`): at most
//! [`FLUSH_AFTER_MS`] after the first verification recorded since the last flush, or at once when
//! [`FLUSH_EVERY`] verifications were recorded. A flush that fails puts its rollups back (they go
//! with the next one). What an isolate holds when it dies is lost: at most one flush interval, or
//! [`FLUSH_EVERY`] verifications (docs/decisions.md).
//!
//! **Reads** flush this isolate's rollups and wait for its flushes in flight first, so a read
//! after a verification on the same isolate sees it.

use std::cell::RefCell;
use std::time::Duration;

use super::auth::{Credentials, Principal};
use super::{apis, Ctx, Error, Resource, Result};
use crate::domain::analytics::{hour_of, Event, Grouping, Measure, Rollups, TimeBucket, DAY_MS};
use crate::domain::permissions::require;
use crate::store::analytics::{self, Datapoint, Query};
use crate::store::{identities, keys, Store};

/// A flush happens at most this long after the first verification recorded since the last one.
pub const FLUSH_AFTER_MS: u64 = 5_000;
/// ... or as soon as this many verifications were recorded.
pub const FLUSH_EVERY: u32 = 1_000;
/// While flushes fail, at most this many distinct rollups are kept (the rest are dropped).
const MAX_PENDING: usize = 50_000;
/// analytics.getVerifications without `limit` answers at most this many datapoints (more is a 400).
pub const MAX_DATAPOINTS: i64 = 10_000;

#[derive(Default)]
struct Recorder {
    rollups: Rollups,
    /// Verifications recorded since the last flush was started.
    recorded: u32,
    /// When (real unix ms) the delayed flush now pending was scheduled.
    timer: Option<u64>,
    /// Flushes writing right now.
    in_flight: u32,
}

thread_local! {
    static RECORDER: RefCell<Recorder> = RefCell::new(Recorder::default());
}

/// Records a verification (after its outcome is known); the write happens later, off the
/// request's path.
pub fn record(ctx: &Ctx, event: &Event<'_>) {
    let (delayed, now) = RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        r.rollups.add(event);
        r.recorded += 1;
        // a pending flush that did not come (its `wait_until` was cut short) is replaced
        let clock = crate::clock::now_ms().max(0) as u64;
        let delayed = r.timer.is_none_or(|at| clock.saturating_sub(at) > 3 * FLUSH_AFTER_MS);
        if delayed {
            r.timer = Some(clock);
        }
        let now = r.recorded >= FLUSH_EVERY;
        if now {
            r.recorded = 0;
        }
        (delayed, now)
    });
    if delayed {
        ctx.defer(flush_after(ctx.store.clone(), FLUSH_AFTER_MS));
    }
    if now {
        ctx.defer(flush_after(ctx.store.clone(), 0));
    }
}

/// A flush after `ms` (0: at once); the delayed one ends the timer.
async fn flush_after(store: Store, ms: u64) {
    if ms > 0 {
        worker::Delay::from(Duration::from_millis(ms)).await;
        RECORDER.with(|r| r.borrow_mut().timer = None);
    }
    flush(&store).await;
}

/// Writes the isolate's rollups (one statement); on failure they are kept for the next flush.
pub async fn flush(store: &Store) {
    let rows = RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        r.recorded = 0;
        let rows = r.rollups.take();
        if !rows.is_empty() {
            r.in_flight += 1;
        }
        rows
    });
    if rows.is_empty() {
        return;
    }
    let result = analytics::add(store, &rows).await;
    RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        if let Err(e) = result {
            let n = rows.len();
            let dropped = r.rollups.merge(rows, MAX_PENDING);
            worker::console_error!(
                "analytics: flushing {n} rollups failed ({e}); kept for the next flush, {dropped} dropped"
            );
        }
        r.in_flight -= 1;
    });
}

/// Flushes this isolate's rollups and waits (up to a few seconds) for its other flushes in
/// flight: a read that follows sees every verification this isolate recorded before it.
///
/// The wait polls with a timer of this request instead of being woken by the flush: a future
/// woken from another request's handler would run its I/O in that request's context, which the
/// Workers runtime refuses.
pub async fn settle(store: &Store) {
    flush(store).await;
    for _ in 0..1_000 {
        if RECORDER.with(|r| r.borrow().in_flight) == 0 {
            return;
        }
        worker::Delay::from(Duration::from_millis(3)).await;
    }
}

/// The hours a `[start, end)` range selects: every hour it overlaps.
fn hours(start: i64, end: i64) -> (i64, i64) {
    (hour_of(start), end)
}

/// Which keys keys.getVerifications sums.
pub enum KeySelector {
    Key(String),
    /// Keys whose owner id, or whose identity's external id, is this (in the caller's workspace).
    Owner(String),
}

/// keys.getVerifications: daily sums of a key, or of every key of an owner. An unknown key id is
/// a 404 before authentication (upstream's order).
pub async fn key_verifications(
    ctx: &Ctx,
    creds: &Credentials,
    selector: KeySelector,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<Vec<Datapoint>> {
    let (workspace_id, key_ids) = match selector {
        KeySelector::Key(key_id) => {
            let key = keys::state(&ctx.store, &key_id)
                .await?
                .ok_or_else(|| Error::not_found(Resource::Key, format!("key {key_id} not found")))?;
            let api_ids = [key.api_id.unwrap_or_default()];
            let p = creds.authenticate(ctx, Some(&require::each_api(&api_ids, "read_key"))).await?;
            if key.workspace_id != p.workspace_id {
                return Err(Error::unauthorized("you are not allowed to access this workspace"));
            }
            (p.workspace_id, vec![key_id])
        }
        KeySelector::Owner(owner) => {
            let p = creds.authenticate(ctx, None).await?;
            let owned = keys::of_owner(&ctx.store, &p.workspace_id, &owner).await?;
            if owned.is_empty() {
                return Err(Error::not_found(Resource::Key, "No keys were found to match your query"));
            }
            let mut api_ids: Vec<String> = owned.iter().map(|(_, api)| api.clone()).collect();
            api_ids.sort();
            api_ids.dedup();
            p.require(&require::each_api(&api_ids, "read_key"))?;
            (p.workspace_id, owned.into_iter().map(|(id, _)| id).collect())
        }
    };
    let end = end.unwrap_or(ctx.now);
    let (from, to) = hours(start.unwrap_or(end - DAY_MS), end);
    settle(&ctx.store).await;
    let grouping = Grouping { time: Some(TimeBucket::Day), ..Grouping::default() };
    Ok(analytics::query(
        &ctx.store,
        &Query {
            workspace_id: &workspace_id,
            key_space_id: None,
            key_ids: Some(&key_ids),
            identity_id: None,
            any_tag: None,
            from,
            to,
            grouping,
            order_by: None,
            descending: false,
            limit: MAX_DATAPOINTS,
        },
    )
    .await?)
}

/// What analytics.getVerifications asks.
pub struct VerificationsQuery {
    pub api_id: String,
    /// Only these keys (empty: every key of the api).
    pub key_ids: Vec<String>,
    /// Only the verifications of this identity.
    pub external_id: Option<String>,
    /// Only verifications carrying any of these tags (empty: all).
    pub tags: Vec<String>,
    pub start: i64,
    /// Default: now.
    pub end: Option<i64>,
    pub grouping: Grouping,
    pub order_by: Option<Measure>,
    pub descending: bool,
    pub limit: Option<i64>,
}

/// analytics.getVerifications: the sums of the api's verifications per group.
pub async fn verifications(ctx: &Ctx, p: &Principal, q: &VerificationsQuery) -> Result<Vec<Datapoint>> {
    let end = q.end.unwrap_or(ctx.now);
    if q.start >= end {
        return Err(Error::bad_request(format!("start must be before end (start {}, end {end})", q.start)));
    }
    let api = apis::find(ctx, &p.workspace_id, &q.api_id).await?;
    let key_space_id = apis::keyspace(&api)?;
    let identity_id = match &q.external_id {
        None => None,
        Some(external_id) => {
            match identities::id_of_external(&ctx.store, &p.workspace_id, external_id).await? {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            }
        }
    };
    let (from, to) = hours(q.start, end);
    settle(&ctx.store).await;
    let rows = analytics::query(
        &ctx.store,
        &Query {
            workspace_id: &p.workspace_id,
            key_space_id: Some(key_space_id),
            key_ids: (!q.key_ids.is_empty()).then_some(&q.key_ids[..]),
            identity_id: identity_id.as_deref(),
            any_tag: (!q.tags.is_empty()).then_some(&q.tags[..]),
            from,
            to,
            grouping: q.grouping,
            order_by: q.order_by,
            descending: q.descending,
            limit: q.limit.unwrap_or(MAX_DATAPOINTS + 1),
        },
    )
    .await?;
    if q.limit.is_none() && rows.len() as i64 > MAX_DATAPOINTS {
        return Err(Error::bad_request(format!(
            "more than {MAX_DATAPOINTS} datapoints match: narrow start and end, group less or set limit"
        )));
    }
    Ok(rows)
}
