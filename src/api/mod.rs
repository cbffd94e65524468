//! Wire types, one module per wire version: serde for the JSON, schemars for validation and the
//! OpenAPI documents. Pure data (no `worker` types), so validation is unit-tested natively.

pub mod openapi;
pub mod v1;
pub mod v2;

/// Cross-field rules of a request that its schema cannot state (upstream's zod refinements),
/// checked right after the schema, before authentication. The message is the whole error.
pub trait Refine {
    /// Fields of which at least one must be given (`/openapi.json` states them as an `anyOf` of
    /// required sets; `refine` or the service checks them with upstream's message).
    const ONE_OF: &'static [&'static str] = &[];

    fn refine(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Requests without cross-field rules.
macro_rules! no_refinement {
    ($($t:ty),* $(,)?) => { $(impl $crate::api::Refine for $t {})* };
}
pub(crate) use no_refinement;

/// Requests that name a resource by either of two fields (checked after authentication, as
/// upstream did).
macro_rules! one_of {
    ($($t:ty: $a:literal | $b:literal),* $(,)?) => {
        $(impl $crate::api::Refine for $t { const ONE_OF: &'static [&'static str] = &[$a, $b]; })*
    };
}
pub(crate) use one_of;

no_refinement!(serde_json::Value);
