//! `keys` routes.
