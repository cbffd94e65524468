//! D1 access: argument binding, row mapping, batches. Every multi-statement write is one
//! `db.batch` (D1 runs a batch as one transaction).

pub mod analytics;
pub mod audit;
pub mod credits;
pub mod key_view;
pub mod keys;
pub mod links;
pub mod refill;
pub mod rows;
pub mod vault;
pub mod verification;

use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

/// A bound SQL argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Null,
    Int(i64),
    Text(String),
}

impl Arg {
    fn to_js(&self) -> JsValue {
        match self {
            Arg::Null => JsValue::NULL,
            Arg::Int(i) => JsValue::from_f64(*i as f64),
            Arg::Text(s) => JsValue::from_str(s),
        }
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Int(v as i64)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Arg::Null)
    }
}

/// Prepares `sql` with positional arguments (`?1`, `?2`, ...).
pub fn prepare(db: &D1Database, sql: &str, args: Vec<Arg>) -> worker::Result<D1PreparedStatement> {
    let values: Vec<JsValue> = args.iter().map(Arg::to_js).collect();
    db.prepare(sql).bind(&values)
}

/// `stmt!(db, "SELECT … WHERE id = ?1", id)` → a prepared statement.
#[macro_export]
macro_rules! stmt {
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::store::prepare($db, $sql, vec![$($crate::store::Arg::from($arg)),*])
    };
}

pub async fn first<T: DeserializeOwned>(stmt: D1PreparedStatement) -> worker::Result<Option<T>> {
    stmt.first::<T>(None).await
}

pub async fn all<T: DeserializeOwned>(stmt: D1PreparedStatement) -> worker::Result<Vec<T>> {
    stmt.all().await?.results::<T>()
}

pub fn changes(result: &D1Result) -> i64 {
    result.meta().ok().flatten().and_then(|m| m.changes).map(|c| c as i64).unwrap_or(0)
}

/// Runs statements as one transaction.
pub async fn batch(db: &D1Database, stmts: Vec<D1PreparedStatement>) -> worker::Result<Vec<D1Result>> {
    if stmts.is_empty() {
        return Ok(Vec::new());
    }
    db.batch(stmts).await
}

/// A list of strings as one JSON array argument, for `… IN (SELECT value FROM json_each(?))`.
pub fn json_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    serde_json::Value::from(items.into_iter().cloned().collect::<Vec<_>>()).to_string()
}

/// True when D1 refused a write because of a UNIQUE constraint.
pub fn is_unique_violation(e: &worker::Error) -> bool {
    e.to_string().contains("UNIQUE constraint failed")
}
