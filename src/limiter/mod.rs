//! The Durable Objects that make credits and rate limits exact, their message protocol, and the
//! worker's client.

pub mod client;
mod gate;
pub mod lane;
pub mod protocol;
pub mod rate;
pub mod usage;

pub use client::{LimiterError, Limiters};

/// The JSON message a limiter object was sent (decoded by `domain::json`, like every other
/// message, rather than through the runtime's `Request.json()` and a second decoder per type).
async fn message<T: serde::de::DeserializeOwned>(req: &mut worker::Request) -> worker::Result<T> {
    let text = req.text().await?;
    crate::domain::json::from_str(&text).map_err(|e| worker::Error::RustError(e.to_string()))
}
