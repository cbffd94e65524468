//! Latency percentiles of the requests as they happened (nothing added for coordinated omission).

#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// Sorts `us` (microseconds) and summarises it; all zeros when empty.
    pub fn of(us: &mut [u64]) -> Summary {
        if us.is_empty() {
            return Summary::default();
        }
        us.sort_unstable();
        let ms = |v: u64| v as f64 / 1000.0;
        // nearest rank: the smallest value with at least `permille` ‰ of the samples at or below it
        let rank = |permille: usize| ms(us[(permille * us.len()).div_ceil(1000).clamp(1, us.len()) - 1]);
        Summary {
            mean_ms: us.iter().sum::<u64>() as f64 / us.len() as f64 / 1000.0,
            p50_ms: rank(500),
            p90_ms: rank(900),
            p99_ms: rank(990),
            p999_ms: rank(999),
            max_ms: ms(us[us.len() - 1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut us: Vec<u64> = (1..=1000).rev().map(|i| i * 1000).collect();
        let s = Summary::of(&mut us);
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms), (500.0, 900.0, 990.0, 999.0, 1000.0));
        assert_eq!(s.mean_ms, 500.5);
    }

    #[test]
    fn one_slow_request_is_one_sample() {
        let mut us = vec![500; 999];
        us.push(200_000);
        let s = Summary::of(&mut us);
        assert_eq!((s.p99_ms, s.p999_ms, s.max_ms), (0.5, 0.5, 200.0));
    }

    #[test]
    fn nothing_measured() {
        assert_eq!(Summary::of(&mut []), Summary::default());
    }
}
