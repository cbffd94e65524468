//! `ratelimits` routes.
