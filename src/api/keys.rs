//! Wire types of the `keys` routes.
