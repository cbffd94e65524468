//! The wire layers: one module per API version, each a route table over the service layer.

pub mod v1;
pub mod v2;
