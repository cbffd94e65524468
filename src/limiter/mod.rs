//! The Durable Objects that make credits and rate limits exact, their message protocol, and the
//! worker's client.

pub mod client;
mod gate;
pub mod protocol;
pub mod rate;
pub mod usage;

pub use client::{LimiterError, Limiters};
