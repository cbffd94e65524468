//! D1 through the binding's own JavaScript API: statements are prepared and bound as worker-rs
//! does, and each call's results cross into Rust as one JSON text (`JSON.stringify` of the
//! runtime's answer, parsed by serde_json) rather than value by value. worker-rs converts every
//! row and its `meta` through serde_wasm_bindgen, a few calls across the JS boundary per column:
//! profiled, reading the one row a deduction returns cost a verification with credits more than
//! the deduction's own Durable Object call did (issue 9).
//!
//! D1 answers numbers, strings and NULLs (keygate stores no BLOBs), so JSON carries every value
//! unchanged — except an integer beyond ±(2^53 − 1), which reached JavaScript as the nearest
//! double: such a row is refused (as worker-rs's conversion refused it), never read rounded.

use serde::Deserialize;
use serde_json::Value;
use worker::js_sys::{Array, Promise, JSON};
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement};

use super::{Rows, StoreError, StoreResult};

#[wasm_bindgen]
extern "C" {
    /// The `DB` binding as the runtime hands it out.
    type RawDatabase;

    #[wasm_bindgen(method, catch)]
    fn batch(this: &RawDatabase, statements: &Array) -> Result<Promise, JsValue>;

    /// A bound statement.
    type RawStatement;

    #[wasm_bindgen(method, catch)]
    fn all(this: &RawStatement) -> Result<Promise, JsValue>;
}

/// What D1 answers for one statement (only what keygate reads).
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<Value>,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize, Default)]
struct Meta {
    changes: Option<f64>,
}

/// The largest integer a double holds exactly (JavaScript's `Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// Whether every number in `value` is exact: an integer beyond ±(2^53 − 1) was rounded on its
/// way through JavaScript.
fn exact(value: &Value) -> bool {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u <= MAX_SAFE,
            (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE,
            // a double: 2^53 and beyond print without a fraction but parse as u64 (above)
            (None, None) => true,
        },
        Value::Array(items) => items.iter().all(exact),
        Value::Object(fields) => fields.values().all(exact),
        _ => true,
    }
}

impl TryFrom<Answer> for Rows {
    type Error = StoreError;

    fn try_from(answer: Answer) -> StoreResult<Rows> {
        if !answer.results.iter().all(exact) {
            return Err(StoreError::Decode(
                "a D1 row holds an integer beyond ±(2^53 − 1), which JavaScript cannot carry exactly".into(),
            ));
        }
        Ok(Rows { rows: answer.results, changes: answer.meta.changes.map_or(0, |c| c as i64) })
    }
}

/// Runs one statement: its rows and how many rows it changed.
pub async fn all(statement: D1PreparedStatement) -> StoreResult<Rows> {
    let raw: &RawStatement = statement.inner().unchecked_ref();
    let answer: Answer = answer(raw.all()).await?;
    answer.try_into()
}

/// Runs statements as one transaction; one result each.
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> StoreResult<Vec<Rows>> {
    let list: Array = statements.iter().map(|s| JsValue::from(s.inner())).collect();
    let raw: &RawDatabase = db.as_ref().unchecked_ref();
    let answers: Vec<Answer> = answer(raw.batch(&list)).await?;
    answers.into_iter().map(Rows::try_from).collect()
}

/// Awaits a D1 call and reads its answer from one JSON text.
async fn answer<T: for<'de> Deserialize<'de>>(call: Result<Promise, JsValue>) -> StoreResult<T> {
    let value = JsFuture::from(call.map_err(failed)?).await.map_err(failed)?;
    let text = JSON::stringify(&value).map_err(failed)?;
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| StoreError::Decode(format!("a D1 answer: {e}")))
}

/// A D1 call that threw or rejected, as worker-rs reports it (`D1_ERROR: …`, with its cause):
/// [`StoreError`]'s conversion recognises a refused UNIQUE constraint in that text.
fn failed(error: JsValue) -> StoreError {
    let text = match error.dyn_ref::<worker::js_sys::Error>() {
        Some(e) => {
            let cause = e.cause();
            let cause = cause.dyn_ref::<worker::js_sys::Error>().map(|c| String::from(c.message()));
            match cause {
                Some(cause) => format!("{} (cause: {cause})", String::from(e.message())),
                None => String::from(e.message()),
            }
        }
        None => error.as_string().unwrap_or_else(|| format!("{error:?}")),
    };
    StoreError::from(worker::Error::RustError(text))
}
