//! Rate-limit overrides of `ratelimits.limit`: an override whose identifier equals the request's
//! wins; otherwise the first override whose identifier is a `*` glob matching it (e.g. `user_*`).

/// True when `text` matches `pattern`, where `*` stands for any run of characters (also none)
/// and every other character matches itself (case-sensitive). The whole text must match.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // where the last `*` was seen, and the text position it currently absorbs up to
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // let the last `*` absorb one more character and retry from there
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether an override identifier is a wildcard rule.
pub fn is_wildcard(identifier: &str) -> bool {
    identifier.contains('*')
}

/// The override that applies to `identifier`: the exact one, else the first wildcard rule (in
/// the order given) that matches.
pub fn pick<'a, T>(identifier: &str, overrides: &'a [T], rule: impl Fn(&T) -> &str) -> Option<&'a T> {
    overrides.iter().find(|o| rule(o) == identifier).or_else(|| {
        overrides.iter().find(|o| {
            let r = rule(o);
            is_wildcard(r) && glob_match(r, identifier)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_patterns_match_only_themselves() {
        assert!(glob_match("user_1", "user_1"));
        assert!(!glob_match("user_1", "user_12"));
        assert!(!glob_match("user_12", "user_1"));
        assert!(!glob_match("User_1", "user_1"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
    }

    #[test]
    fn star_matches_any_run() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything at all"));
        assert!(glob_match("user_*", "user_"));
        assert!(glob_match("user_*", "user_123"));
        assert!(!glob_match("user_*", "admin_user_1"));
        assert!(glob_match("*@example.com", "a@example.com"));
        assert!(!glob_match("*@example.com", "a@example.com.evil"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(glob_match("a*b*c", "aXXbYYbZZc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("**", "x"));
        assert!(glob_match("*a*", "bab"));
        assert!(!glob_match("*a*", "bbb"));
        // backtracking: the first candidate for the literal tail is not the right one
        assert!(glob_match("*ab", "aab"));
        assert!(glob_match("*aab", "aaab"));
        assert!(!glob_match("*ab", "aba"));
    }

    #[test]
    fn other_characters_are_literal() {
        // regex metacharacters have no special meaning
        assert!(glob_match("a.b", "a.b"));
        assert!(!glob_match("a.b", "axb"));
        assert!(!glob_match("a?", "ab"));
        assert!(glob_match("ü*ß", "üxyzß"));
    }

    #[test]
    fn exact_override_wins_over_wildcards() {
        let rules = ["user_*", "*", "user_1", "user_1*"];
        assert_eq!(pick("user_1", &rules, |r| r), Some(&"user_1"));
        assert_eq!(pick("user_2", &rules, |r| r), Some(&"user_*"));
        assert_eq!(pick("admin", &rules, |r| r), Some(&"*"));
        // wildcards are tried in order: the first match wins
        let ordered = ["*", "user_*"];
        assert_eq!(pick("user_2", &ordered, |r| r), Some(&"*"));
        // a literal rule never matches another identifier
        assert_eq!(pick("user_3", &["user_1", "other_*"], |r| r), None);
        assert_eq!(pick::<&str>("x", &[], |r| r), None);
    }
}
