//! Wire types of the `identities` routes.
