//! The isolate's cache of what a verification reads about a key (the key, its api, workspaces,
//! credits ids, identity, permissions, roles and rate limits: `store::verification::LoadedKey`),
//! by key hash, unknown keys included. A warm key verifies without a storage round trip.
//!
//! Freshness:
//! - a change this isolate commits makes stale what it may have changed (`store::Scope`): the
//!   entries of its workspaces (their keys and the root keys for them), or of one key when it
//!   changed only that key's own rows, or every entry (keygate's own bookkeeping); an unknown
//!   key's entry, after any change. So a change made through keygate — to the key, a role's
//!   permissions, an identity, an api, a workspace — is seen by the next verification this
//!   isolate serves (every local setup has one isolate), while the other workspaces' keys, and
//!   the other keys of a workspace after a change of one key, stay cached;
//! - other isolates (on the edge) drop an entry `VERIFY_CACHE_TTL_MS` after they read it
//!   (`0` reads storage on every verification);
//! - nothing here is a verdict: expiry, the caller's api and IP, permissions, rate limits and
//!   credits are decided on every verification.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{Ctx, Result};
use crate::store::verification::{load_by_hash, LoadedKey};
use crate::store::{self, Read, Store};

/// At most this many keys are kept (about 1 KB each).
const CAPACITY: usize = 10_000;

struct Entry {
    key: Option<Rc<LoadedKey>>,
    /// Wall-clock ms when it was read.
    read_at: i64,
    /// The isolate's [`store::generation`] when it was read.
    generation: u64,
}

impl Entry {
    /// Whether a change this isolate committed since may be missing from it: one of the key
    /// alone, or in its workspaces (and the workspace a root key is for), or any if no key was
    /// found.
    fn changed(&self) -> bool {
        let read = match &self.key {
            None => Read::Nothing,
            Some(loaded) => Read::Key {
                key_id: &loaded.key.id,
                workspace: &loaded.key.workspace_id,
                for_workspace: loaded.key.for_workspace_id.as_deref(),
            },
        };
        store::changed_since(self.generation, read)
    }
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
}

fn wall_clock() -> i64 {
    crate::clock::now_ms()
}

fn cached(hash: &str, ttl_ms: i64, now: i64) -> Option<Option<Rc<LoadedKey>>> {
    CACHE.with(|c| {
        let cache = c.borrow();
        let e = cache.get(hash)?;
        let fresh = (0..ttl_ms).contains(&(now - e.read_at)) && !e.changed();
        fresh.then(|| e.key.clone())
    })
}

fn remember(hash: &str, key: Option<Rc<LoadedKey>>, read_at: i64, generation: u64, ttl_ms: i64) {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CAPACITY {
            cache.retain(|_, e| read_at - e.read_at < ttl_ms && !e.changed());
            if cache.len() >= CAPACITY {
                cache.clear();
            }
        }
        cache.insert(hash.to_string(), Entry { key, read_at, generation });
    });
}

/// The key with this hash (`None`: no such live key), from the cache when it is fresh.
pub async fn load(ctx: &Ctx, hash: &str) -> Result<Option<Rc<LoadedKey>>> {
    let ttl_ms = ctx.config.verify_cache_ttl_ms;
    let now = wall_clock();
    if ttl_ms > 0 {
        if let Some(hit) = cached(hash, ttl_ms, now) {
            return Ok(hit);
        }
    }
    let generation = store::generation();
    let key = load_by_hash(&ctx.store, hash).await?.map(Rc::new);
    // a change committed while we read may not be in what we read: then it is not kept
    if ttl_ms > 0 && store::generation() == generation {
        remember(hash, key.clone(), now, generation, ttl_ms);
    }
    Ok(key)
}

/// Reads the key from storage, bypassing the cache (whoami shows balances, which change
/// without a commit).
pub async fn load_fresh(store: &Store, hash: &str) -> Result<Option<LoadedKey>> {
    Ok(load_by_hash(store, hash).await?)
}
