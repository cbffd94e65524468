//! Cryptographically secure random bytes (Web Crypto in the worker, the OS elsewhere).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the random number generator failed")
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| RandomError)?;
    Ok(buf)
}

pub fn random_vec(len: usize) -> Result<Vec<u8>, RandomError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|_| RandomError)?;
    Ok(buf)
}
