//! Wire types of the `permissions` routes.
