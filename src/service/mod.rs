//! The operations of keygate, one module per resource. Each takes wire-neutral input (domain
//! types) and the request's [`Ctx`] (store, limiters, clock, request id, origin) and returns
//! domain results or an [`Error`]. Every rule that is not wire shape lives here or in `domain/`;
//! the wire layers (`routes::v1`, later v2) only translate.

pub mod analytics;
pub mod apis;
pub mod audit;
pub mod auth;
pub mod credits;
mod error;
pub mod idempotency;
pub mod identities;
pub mod keycache;
pub mod keys;
pub mod maintenance;
pub mod migrations;
pub mod ratelimits;
pub mod rbac;
pub mod vault;
pub mod verification;
pub mod workspaces;

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

pub use error::{AuthFailure, Error, Resource, Result};

use crate::background::Background;
use crate::domain::verify::KeyFacts;
use crate::limiter::Limiters;
use crate::store::Store;

/// Where a request came from: the caller's IP (a key's ipWhitelist, audit rows) and user agent
/// (audit rows). Read from the request only when an operation asks (a warm verification of a key
/// without an ipWhitelist reads neither); none for the cron.
#[derive(Clone, Default)]
pub struct Origin(Option<Rc<dyn OriginSource>>);

/// What an [`Origin`] reads from (the wire layer's request).
pub trait OriginSource {
    fn ip(&self) -> Option<&str>;
    fn user_agent(&self) -> Option<&str>;
}

impl Origin {
    pub fn new(source: Rc<dyn OriginSource>) -> Origin {
        Origin(Some(source))
    }

    pub fn ip(&self) -> Option<&str> {
        self.0.as_deref().and_then(|s| s.ip())
    }

    /// The caller's IP as a check of `key` needs it: read only for a key with an ipWhitelist
    /// (a key without one never looks at the IP).
    pub fn ip_for(&self, key: &KeyFacts) -> Option<&str> {
        key.ip_whitelist.and_then(|_| self.ip())
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.0.as_deref().and_then(|s| s.user_agent())
    }
}

/// The deployment's settings that operations need.
#[derive(Debug, Clone)]
pub struct Config {
    /// The master keys of recoverable keys, newest first (base64): `ENCRYPTION_KEYS`
    /// (comma-separated), then `ENCRYPTION_KEY`. New copies use the first.
    pub encryption_keys: Vec<String>,
    /// The operator token (`ADMIN_TOKEN`); the operator API is off without it.
    pub admin_token: Option<String>,
    /// Days verification rollups are kept (`ANALYTICS_RETENTION_DAYS`, default 90).
    pub analytics_retention_days: i64,
    /// Days audit logs are kept, and soft-deleted keys before they are purged
    /// (`AUDIT_RETENTION_DAYS`, default 365).
    pub audit_retention_days: i64,
    /// How long another isolate may serve a verification from its cache after a change
    /// (`VERIFY_CACHE_TTL_MS`; 0 reads storage on every verification).
    pub verify_cache_ttl_ms: i64,
    /// `TRUST_TRUE_CLIENT_IP`: the caller IP is `True-Client-IP` when present (only for zones
    /// where Cloudflare sets it; elsewhere a client can send any value).
    pub trust_true_client_ip: bool,
    /// `UNSAFE_TEST_CLOCK=1` (the Miniflare tests; never wrangler.toml): requests may carry
    /// `X-Test-Now` and `X-Test-Panic`.
    pub test_hooks: bool,
}

/// `VERIFY_CACHE_TTL_MS` when unset.
pub const DEFAULT_VERIFY_CACHE_TTL_MS: i64 = 5_000;

thread_local! {
    /// The deployment's variables do not change while an isolate lives: read them once.
    static CONFIG: std::cell::OnceCell<Config> = const { std::cell::OnceCell::new() };
}

impl Config {
    /// The configuration of this isolate's deployment (read once per isolate).
    pub fn of(env: &worker::Env) -> Config {
        CONFIG.with(|c| c.get_or_init(|| Config::from_env(env)).clone())
    }

    fn from_env(env: &worker::Env) -> Config {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string()).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| var(name).is_some_and(|v| matches!(v.trim(), "1" | "true"));
        // a missing, malformed or non-positive number of days is the default
        let days = |name: &str, default: i64| {
            var(name)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|d| (1..=36_500).contains(d))
                .unwrap_or(default)
        };
        let mut encryption_keys: Vec<String> = var("ENCRYPTION_KEYS")
            .iter()
            .flat_map(|list| list.split(','))
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        if let Some(key) = var("ENCRYPTION_KEY").map(|k| k.trim().to_string()) {
            if !encryption_keys.contains(&key) {
                encryption_keys.push(key);
            }
        }
        Config {
            encryption_keys,
            admin_token: var("ADMIN_TOKEN"),
            analytics_retention_days: days("ANALYTICS_RETENTION_DAYS", 90),
            audit_retention_days: days("AUDIT_RETENTION_DAYS", 365),
            verify_cache_ttl_ms: var("VERIFY_CACHE_TTL_MS")
                .and_then(|v| v.trim().parse().ok())
                .filter(|ms: &i64| *ms >= 0)
                .unwrap_or(DEFAULT_VERIFY_CACHE_TTL_MS),
            trust_true_client_ip: flag("TRUST_TRUE_CLIENT_IP"),
            test_hooks: var("UNSAFE_TEST_CLOCK").as_deref() == Some("1"),
        }
    }
}

/// What an operation knows about the request it serves.
pub struct Ctx {
    pub store: Store,
    pub limiters: Limiters,
    /// Unix ms at the start of the request (one clock per request).
    pub now: i64,
    pub request_id: String,
    pub origin: Origin,
    pub config: Config,
    /// The request's `Idempotency-Key` header, unchecked (see `service::idempotency`).
    pub idempotency_key: Option<String>,
    /// Set when the answer is an earlier request's (`Idempotent-Replayed: true`).
    pub replayed: Cell<bool>,
    /// Test hook (`X-Test-Fail`, only with `UNSAFE_TEST_CLOCK=1`): the point where the request
    /// fails on purpose, after what it changed is written (`after-commit`).
    pub test_fail: Option<String>,
    background: Background,
}

impl Ctx {
    pub fn new(
        env: &worker::Env,
        config: Config,
        background: Option<worker::Context>,
        now: i64,
        request_id: String,
        origin: Origin,
    ) -> Result<Ctx> {
        let background = Background::new(background);
        Ok(Ctx {
            store: Store::from_env(env)?,
            limiters: Limiters::new(env.clone(), background.clone()),
            now,
            request_id,
            origin,
            config,
            idempotency_key: None,
            replayed: Cell::new(false),
            test_fail: None,
            background,
        })
    }

    /// Fails the request on purpose at `point` when a test asked for it (`X-Test-Fail`).
    pub fn injected_failure(&self, point: &str) -> Result<()> {
        match &self.test_fail {
            Some(p) if p == point => Err(Error::Internal(format!("X-Test-Fail: failing at {point}"))),
            _ => Ok(()),
        }
    }

    /// Runs `work` after the response (or now, when there is no request to outlive).
    pub fn defer(&self, work: impl Future<Output = ()> + 'static) {
        self.background.defer(work);
    }
}
