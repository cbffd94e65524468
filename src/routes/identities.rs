//! `identities` routes.
