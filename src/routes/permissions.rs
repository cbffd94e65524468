//! `permissions` routes.
