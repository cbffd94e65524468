//! Wire types of the `ratelimits` routes.
