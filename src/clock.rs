//! The wall clock (a leaf, like `background`).

/// Unix ms now: `Date.now()`, one call into JavaScript. worker-rs's `Date::now()` constructs a
/// `Date` object and reads it back (two calls and an object), and a verification reads the
/// clock three times.
pub fn now_ms() -> i64 {
    worker::js_sys::Date::now() as i64
}
