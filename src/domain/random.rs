//! Cryptographically secure random bytes (Web Crypto in the worker, the OS elsewhere).

use std::cell::RefCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the random number generator failed")
    }
}

/// Random bytes are drawn this many at a time and handed out in order, each once: one call to the
/// generator (Web Crypto: a call into the runtime, with a typed array made for it) per few
/// dozen ids instead of one per id, and every request makes at least one (its request id).
const POOL_BYTES: usize = 256;

thread_local! {
    /// Bytes drawn and not handed out yet (from the end).
    static POOL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `N` bytes from the generator (ids, nonces); `N` up to [`POOL_BYTES`] come from the pool.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    if N > POOL_BYTES {
        getrandom::fill(&mut buf).map_err(|_| RandomError)?;
        return Ok(buf);
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < N {
            let mut fresh = vec![0u8; POOL_BYTES];
            getrandom::fill(&mut fresh).map_err(|_| RandomError)?;
            *pool = fresh;
        }
        let rest = pool.len() - N;
        buf.copy_from_slice(&pool[rest..]);
        // handed out once: gone from the pool
        pool.truncate(rest);
        Ok(buf)
    })
}

/// `len` bytes straight from the generator (key secrets).
pub fn random_vec(len: usize) -> Result<Vec<u8>, RandomError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|_| RandomError)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_bytes_are_never_handed_out_twice() {
        // over several refills, consecutive draws differ (2^-64 odds of a false failure)
        let draws: Vec<[u8; 8]> = (0..200).map(|_| random_bytes::<8>().expect("random")).collect();
        for pair in draws.windows(2) {
            assert_ne!(pair[0], pair[1]);
        }
        let mut sorted = draws.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), draws.len());
    }

    #[test]
    fn larger_draws_bypass_the_pool() {
        let a = random_bytes::<300>().expect("random");
        let b = random_bytes::<300>().expect("random");
        assert_ne!(a[..], b[..]);
    }
}
