//! The Durable Objects that make credits and rate limits exact, and their clients.

mod gate;
pub mod rate;
pub mod usage;
