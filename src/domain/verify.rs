//! The ordered checks of a key verification that need no I/O (v1 §3.2 steps 4–8): disabled key,
//! api mismatch, expiry, IP whitelist, permission query. Not-found and the workspace check come
//! before them, rate limits and credits after them.

use super::permissions::PermissionQuery;

/// Why a verification failed. `code()` is the v1 wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Disabled,
    /// The key belongs to another api, or the caller's IP is not whitelisted.
    Forbidden,
    Expired,
    InsufficientPermissions,
    RateLimited,
    UsageExceeded,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::Disabled => "DISABLED",
            Denial::Forbidden => "FORBIDDEN",
            Denial::Expired => "EXPIRED",
            Denial::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Denial::RateLimited => "RATE_LIMITED",
            Denial::UsageExceeded => "USAGE_EXCEEDED",
        }
    }
}

/// What the checks need to know about a key.
#[derive(Debug, Clone, Copy)]
pub struct KeyFacts<'a> {
    pub enabled: bool,
    pub api_id: &'a str,
    pub expires: Option<i64>,
    /// The api's comma-separated IP whitelist, if any.
    pub ip_whitelist: Option<&'a str>,
    /// Permission slugs, direct and through roles.
    pub permissions: &'a [String],
}

/// What the caller asked and who the caller is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub api_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub permissions: Option<&'a PermissionQuery>,
}

/// Runs checks 4–8 in order; the first failing one decides.
pub fn precheck(key: &KeyFacts<'_>, caller: &Caller<'_>, now_ms: i64) -> Result<(), Denial> {
    if !key.enabled {
        return Err(Denial::Disabled);
    }
    if caller.api_id.is_some_and(|api| api != key.api_id) {
        return Err(Denial::Forbidden);
    }
    if key.expires.is_some_and(|e| e < now_ms) {
        return Err(Denial::Expired);
    }
    if let Some(list) = key.ip_whitelist.filter(|l| !l.trim().is_empty()) {
        let allowed =
            caller.ip.is_some_and(|ip| list.split(',').map(str::trim).any(|entry| entry == ip.trim()));
        if !allowed {
            return Err(Denial::Forbidden);
        }
    }
    if let Some(query) = caller.permissions {
        if !query.is_satisfied_by(key.permissions) {
            return Err(Denial::InsufficientPermissions);
        }
    }
    Ok(())
}

/// The IP whitelist as stored: comma-separated, each entry trimmed, empty entries dropped.
pub fn normalise_ip_whitelist(s: &str) -> Option<String> {
    let entries: Vec<&str> = s.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    (!entries.is_empty()).then(|| entries.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(perms: &'a [String]) -> KeyFacts<'a> {
        KeyFacts { enabled: true, api_id: "api_1", expires: None, ip_whitelist: None, permissions: perms }
    }

    #[test]
    fn valid_key_passes() {
        assert_eq!(precheck(&key(&[]), &Caller::default(), 0), Ok(()));
        let c = Caller { api_id: Some("api_1"), ..Default::default() };
        assert_eq!(precheck(&key(&[]), &c, 0), Ok(()));
    }

    #[test]
    fn disabled_comes_before_api_mismatch() {
        let k = KeyFacts { enabled: false, ..key(&[]) };
        let c = Caller { api_id: Some("api_other"), ..Default::default() };
        assert_eq!(precheck(&k, &c, 0), Err(Denial::Disabled));
        assert_eq!(precheck(&key(&[]), &c, 0), Err(Denial::Forbidden));
    }

    #[test]
    fn expiry_is_strict() {
        let k = KeyFacts { expires: Some(1000), ..key(&[]) };
        assert_eq!(precheck(&k, &Caller::default(), 1000), Ok(()));
        assert_eq!(precheck(&k, &Caller::default(), 1001), Err(Denial::Expired));
    }

    #[test]
    fn ip_whitelist() {
        let k = KeyFacts { ip_whitelist: Some("100.100.100.100, 1.2.3.4"), ..key(&[]) };
        let ok = Caller { ip: Some("1.2.3.4"), ..Default::default() };
        let bad = Caller { ip: Some("9.9.9.9"), ..Default::default() };
        assert_eq!(precheck(&k, &ok, 0), Ok(()));
        assert_eq!(precheck(&k, &bad, 0), Err(Denial::Forbidden));
        assert_eq!(precheck(&k, &Caller::default(), 0), Err(Denial::Forbidden));
    }

    #[test]
    fn permissions_checked_last() {
        let perms = vec!["p1".to_string()];
        let q = PermissionQuery::has("p2");
        let c = Caller { permissions: Some(&q), ..Default::default() };
        assert_eq!(precheck(&key(&perms), &c, 0), Err(Denial::InsufficientPermissions));
        let k = KeyFacts { expires: Some(0), ..key(&perms) };
        assert_eq!(precheck(&k, &c, 10), Err(Denial::Expired));
        let q = PermissionQuery::has("p1");
        let c = Caller { permissions: Some(&q), ..Default::default() };
        assert_eq!(precheck(&key(&perms), &c, 0), Ok(()));
    }

    #[test]
    fn ip_whitelist_is_trimmed() {
        assert_eq!(normalise_ip_whitelist(" 1.1.1.1 , 2.2.2.2,"), Some("1.1.1.1,2.2.2.2".into()));
        assert_eq!(normalise_ip_whitelist(" , "), None);
    }
}
