//! The wire layers: one module per API version, each a route table over the service layer.
//! The tables compile natively too (without their handlers) so that `cargo test` can generate
//! the OpenAPI documents the worker serves and validates with.

#[cfg(target_arch = "wasm32")]
pub mod edge;
pub mod table;
pub mod v1;
pub mod v2;

pub(crate) use table::route_table;
