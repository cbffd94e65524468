//! All SQL of keygate, one module per table family. Services call these functions and never see a
//! database type: a statement is SQL text plus arguments ([`Stmt`]), executed by [`Store`], and
//! every multi-statement write is one [`Batch`] — one transaction — that carries the audit rows of
//! the change it makes.
//!
//! Two backends run the same statements: D1 (the `DB` binding, the default) and, in a build with
//! the `postgres` feature, Postgres through Hyperdrive (chosen when a `HYPERDRIVE` binding exists;
//! see [`postgres`]). SQL is written once in SQLite's dialect; [`dialect`] lists what the Postgres
//! side rewrites and the portable forms used everywhere else.
//!
//! Nothing here knows HTTP or the wire types; errors are [`StoreError`].

pub mod analytics;
pub mod apis;
pub mod audit;
pub mod balances;
pub mod counters;
pub mod credits;
mod d1;
pub mod dialect;
pub mod idempotency;
pub mod identities;
pub mod key_view;
pub mod keys;
pub mod migrations;
pub mod namespaces;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod ratelimits;
pub mod rbac;
pub mod refill;
pub mod vault;
pub mod verification;
pub mod workspaces;

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

pub use audit::AuditEvent;
pub use dialect::Dialect;

/// Why a store call failed; `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A UNIQUE constraint refused a write (the text names the table and columns).
    Conflict(String),
    /// The database failed or refused the statement.
    Backend(String),
    /// A row did not have the expected shape, or a value could not be produced.
    Decode(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict(_) => "store.conflict",
            StoreError::Backend(_) => "store.backend",
            StoreError::Decode(_) => "store.decode",
        }
    }

    /// A unique constraint of `table` refused the write.
    pub fn is_conflict_on(&self, table: &str) -> bool {
        matches!(self, StoreError::Conflict(m) if m.contains(&format!("{table}.")))
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict(m) | StoreError::Backend(m) | StoreError::Decode(m) => {
                write!(f, "{}: {m}", self.code())
            }
        }
    }
}

impl From<worker::Error> for StoreError {
    fn from(e: worker::Error) -> Self {
        let text = e.to_string();
        if text.contains("UNIQUE constraint failed") {
            StoreError::Conflict(text)
        } else {
            StoreError::Backend(text)
        }
    }
}

impl From<crate::domain::random::RandomError> for StoreError {
    fn from(e: crate::domain::random::RandomError) -> Self {
        StoreError::Decode(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A bound SQL argument. A NULL carries its type (Postgres wants it where the statement alone
/// does not tell, e.g. `?3 IS NULL OR col = ?3`).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    NullInt,
    NullText,
    Int(i64),
    Text(String),
}

impl Arg {
    fn to_js(&self) -> JsValue {
        match self {
            Arg::NullInt | Arg::NullText => JsValue::NULL,
            Arg::Int(i) => JsValue::from_f64(*i as f64),
            Arg::Text(s) => JsValue::from_str(s),
        }
    }
}

/// The NULL of an argument type (`None` of an `Option<T>` argument).
pub trait Nullable {
    const NULL: Arg;
}
impl Nullable for i64 {
    const NULL: Arg = Arg::NullInt;
}
impl Nullable for bool {
    const NULL: Arg = Arg::NullInt;
}
impl Nullable for &str {
    const NULL: Arg = Arg::NullText;
}
impl Nullable for String {
    const NULL: Arg = Arg::NullText;
}
impl Nullable for &String {
    const NULL: Arg = Arg::NullText;
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
impl<T: Into<Arg> + Nullable> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(T::NULL)
    }
}

/// One SQL statement with positional arguments (`?1`, `?2`, …), not yet bound to a database. It
/// travels to the usage limiter when the limiter writes a change together with its own
/// ([`Stmt::to_json`]).
#[derive(Debug, Clone)]
pub struct Stmt {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
}

impl Stmt {
    pub fn new(sql: impl Into<Cow<'static, str>>, args: Vec<Arg>) -> Self {
        Stmt { sql: sql.into(), args }
    }

    /// Statements as JSON text: `[[sql, arg, …], …]` (an argument is an integer, a string, `null`
    /// (an integer NULL) or `[]` (a text NULL: Postgres wants a NULL's type)).
    pub fn to_json(stmts: &[Stmt]) -> String {
        let arg = |a: &Arg| match a {
            Arg::NullInt => Value::Null,
            Arg::NullText => Value::Array(Vec::new()),
            Arg::Int(i) => Value::from(*i),
            Arg::Text(t) => Value::from(t.as_str()),
        };
        let list = stmts.iter().map(|s| {
            Value::Array(std::iter::once(Value::from(s.sql.as_ref())).chain(s.args.iter().map(arg)).collect())
        });
        Value::Array(list.collect()).to_string()
    }

    /// Reads [`Stmt::to_json`]'s text.
    pub fn from_json(text: &str) -> StoreResult<Vec<Stmt>> {
        let bad = || StoreError::Decode("statements: expected [[sql, arg, …], …]".into());
        let Value::Array(list) = serde_json::from_str(text).map_err(|e| StoreError::Decode(e.to_string()))?
        else {
            return Err(bad());
        };
        list.into_iter()
            .map(|item| {
                let Value::Array(parts) = item else { return Err(bad()) };
                let mut parts = parts.into_iter();
                let Some(Value::String(sql)) = parts.next() else { return Err(bad()) };
                let args = parts
                    .map(|v| match v {
                        Value::Null => Ok(Arg::NullInt),
                        Value::Array(a) if a.is_empty() => Ok(Arg::NullText),
                        Value::String(t) => Ok(Arg::Text(t)),
                        Value::Number(n) => n.as_i64().map(Arg::Int).ok_or_else(bad),
                        _ => Err(bad()),
                    })
                    .collect::<StoreResult<Vec<Arg>>>()?;
                Ok(Stmt::new(sql, args))
            })
            .collect()
    }
}

/// `stmt!("SELECT … WHERE id = ?1", id)` → a [`Stmt`]. Only `store/` writes SQL.
#[macro_export]
macro_rules! stmt {
    ($sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::store::Stmt::new($sql, vec![$($crate::store::Arg::from($arg)),*])
    };
}

/// One row as `T`. D1 rows arrive as `serde_json::Value`s (one JS→Rust conversion for every row
/// type) and are decoded by `domain::json`, like requests: decoding each row type straight from
/// JS (`serde_wasm_bindgen`) compiled a second, larger deserializer per type (issue 9: size).
pub(crate) fn decode<T: DeserializeOwned>(row: Value) -> StoreResult<T> {
    crate::domain::json::from_value(row).map_err(decode_error)
}

/// Every row as `T` (a plain loop: iterator adapters over `Result` compile a copy each per type).
pub(crate) fn decode_all<T: DeserializeOwned>(rows: Vec<Value>) -> StoreResult<Vec<T>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(decode(row)?);
    }
    Ok(out)
}

#[inline(never)]
fn decode_error(e: serde_json::Error) -> StoreError {
    StoreError::Decode(e.to_string())
}

/// The rows of one statement (JSON objects, the same from both backends) and how many rows it
/// changed.
pub struct Rows {
    rows: Vec<Value>,
    changes: i64,
}

impl Rows {
    pub fn parse<T: DeserializeOwned>(&self) -> StoreResult<Vec<T>> {
        decode_all(self.rows.clone())
    }

    pub fn first<T: DeserializeOwned>(&self) -> StoreResult<Option<T>> {
        self.rows.first().map(|r| decode(r.clone())).transpose()
    }

    /// How many rows the statement changed.
    pub fn changes(&self) -> i64 {
        self.changes
    }

    fn into_values(self) -> Vec<Value> {
        self.rows
    }
}

/// Statements that are written together (one transaction) with the audit events describing them.
/// A change made for a caller starts with [`Batch::audited`], so its audit row cannot be left out;
/// keygate's own bookkeeping (limiters, cron, analytics) uses [`Batch::unaudited`].
#[derive(Debug)]
pub struct Batch {
    stmts: Vec<Stmt>,
    events: Vec<AuditEvent>,
    only_adds_keys: bool,
    /// The keys it changes, when it changes nothing else that a verification reads
    /// ([`Batch::only_changes_keys`]).
    only_keys: Option<Vec<String>>,
}

impl Batch {
    pub fn audited(event: AuditEvent) -> Self {
        Batch { stmts: Vec::new(), events: vec![event], only_adds_keys: false, only_keys: None }
    }

    pub fn unaudited() -> Self {
        Batch { stmts: Vec::new(), events: Vec::new(), only_adds_keys: false, only_keys: None }
    }

    pub fn push(&mut self, stmt: Stmt) -> &mut Self {
        self.stmts.push(stmt);
        self
    }

    /// A further audit event of the same change.
    pub fn audit(&mut self, event: AuditEvent) -> &mut Self {
        self.events.push(event);
        self
    }

    /// Declares that the batch only adds new keys with fresh random values (createKey): nothing
    /// read before can have become stale, so cached verifications stay valid.
    pub fn only_adds_keys(&mut self) -> &mut Self {
        self.only_adds_keys = true;
        self
    }

    /// Declares that of what a verification reads, the batch changes only these keys' own rows
    /// (the key, its credits, its rate limits, its links to roles and permissions; new roles,
    /// permissions and identities are no one else's yet): cached verifications of the
    /// workspace's other keys stay valid.
    pub fn only_changes_keys(&mut self, ids: &[&str]) -> &mut Self {
        self.only_keys = Some(ids.iter().map(|id| id.to_string()).collect());
        self
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty() && self.events.is_empty()
    }

    /// What committing this batch may make stale among the isolate's reads: only its keys, if it
    /// said so ([`Batch::only_changes_keys`]); else the workspaces of its audit events (a change
    /// made for a caller is audited in the workspace whose data it changes); anything, for
    /// keygate's own bookkeeping (no event).
    pub fn scope(&self) -> Scope {
        if self.events.is_empty() {
            return Scope::All;
        }
        if let Some(keys) = &self.only_keys {
            return Scope::Keys(keys.clone());
        }
        let mut workspaces: Vec<String> = Vec::with_capacity(self.events.len());
        for e in &self.events {
            if !workspaces.contains(&e.workspace_id) {
                workspaces.push(e.workspace_id.clone());
            }
        }
        Scope::Workspaces(workspaces)
    }

    /// Moves the statements and events of `other` to the end of this batch (what this batch
    /// declared of its scope stands).
    pub fn append(&mut self, other: Batch) -> &mut Self {
        self.stmts.extend(other.stmts);
        self.events.extend(other.events);
        self.only_adds_keys &= other.only_adds_keys;
        self
    }

    /// The change's statements, then its audit rows.
    pub(crate) fn into_statements(self) -> StoreResult<Vec<Stmt>> {
        let mut stmts = self.stmts;
        for event in &self.events {
            stmts.extend(audit::statements(event)?);
        }
        Ok(stmts)
    }
}

/// What a committed change may have made stale among this isolate's reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Anything.
    All,
    /// What belongs to these workspaces: their keys, apis, identities, roles and permissions,
    /// and the root keys for them.
    Workspaces(Vec<String>),
    /// These keys (by id).
    Keys(Vec<String>),
}

/// This isolate's changes, numbered in the order they were committed: what a read made before a
/// change may have missed (see [`changed`]).
#[derive(Default)]
struct Changes {
    /// The number of the last change, of any scope (an unknown key may have become known by any
    /// change).
    last: u64,
    /// The last change of [`Scope::All`].
    all: u64,
    /// The last change of each workspace changed, and of each key changed alone (see [`note`]).
    workspaces: HashMap<String, u64>,
    keys: HashMap<String, u64>,
}

const MAX_REMEMBERED: usize = 10_000;

/// Notes a change at `at` of each of `ids` in `map` (which starts again, with `all` covering
/// what it forgot, beyond [`MAX_REMEMBERED`]).
fn note(map: &mut HashMap<String, u64>, all: &mut u64, ids: &[String], at: u64) {
    if map.len() + ids.len() > MAX_REMEMBERED {
        map.clear();
        *all = at;
    }
    for id in ids {
        map.insert(id.clone(), at);
    }
}

thread_local! {
    static CHANGES: RefCell<Changes> = RefCell::new(Changes::default());
    /// The `DB` binding, looked up once per isolate (a binding lookup checks the object's type
    /// through JavaScript: a few percent of a warm verification).
    static DB: RefCell<Option<Rc<D1Database>>> = const { RefCell::new(None) };
}

/// The number of this isolate's last committed change: a read that starts now has seen every
/// change up to it.
pub fn generation() -> u64 {
    CHANGES.with(|c| c.borrow().last)
}

/// What a read found, for [`changed_since`]: nothing, or the key `key_id` of `workspace` (and,
/// a root key, the workspace it is `for_workspace`).
pub enum Read<'a> {
    Nothing,
    Key { key_id: &'a str, workspace: &'a str, for_workspace: Option<&'a str> },
}

/// Whether something read when [`generation`] was `read_at` may be stale now: nothing, if no
/// change was committed since (a warm verification's case: no map is looked at); a read that
/// found nothing, after any change since; a key, after a change since of all, of one of its
/// workspaces, or of the key alone.
pub fn changed_since(read_at: u64, read: Read) -> bool {
    CHANGES.with(|c| {
        let c = c.borrow();
        if c.last <= read_at {
            return false;
        }
        let after = |map: &HashMap<String, u64>, id: &str| map.get(id).is_some_and(|at| *at > read_at);
        match read {
            Read::Nothing => true,
            Read::Key { key_id, workspace, for_workspace } => {
                c.all > read_at
                    || after(&c.keys, key_id)
                    || after(&c.workspaces, workspace)
                    || for_workspace.is_some_and(|w| after(&c.workspaces, w))
            }
        }
    })
}

/// Counts a change of `scope` committed (see [`generation`]).
pub(crate) fn changed(scope: &Scope) {
    CHANGES.with(|c| {
        let c = &mut *c.borrow_mut();
        c.last += 1;
        let at = c.last;
        match scope {
            Scope::All => c.all = at,
            Scope::Workspaces(list) => note(&mut c.workspaces, &mut c.all, list, at),
            Scope::Keys(list) => note(&mut c.keys, &mut c.all, list, at),
        }
    });
}

thread_local! {
    /// The backend of this isolate's deployment (its bindings do not change while it lives).
    static BACKEND: OnceCell<Dialect> = const { OnceCell::new() };
}

/// The backend the deployment's bindings choose: Postgres when a `HYPERDRIVE` binding exists,
/// else D1 (`DB`).
fn chosen(env: &Env) -> Dialect {
    BACKEND.with(|b| {
        *b.get_or_init(|| match env.hyperdrive("HYPERDRIVE") {
            Ok(_) => Dialect::Postgres,
            Err(_) => Dialect::Sqlite,
        })
    })
}

/// The `DB` binding, looked up once per isolate.
fn d1(env: &Env) -> StoreResult<Rc<D1Database>> {
    if let Some(db) = DB.with(|d| d.borrow().clone()) {
        return Ok(db);
    }
    let db = Rc::new(env.d1("DB")?);
    DB.with(|d| *d.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// The database keygate's data lives in: D1 (bound as `DB`) or Postgres through Hyperdrive
/// (bound as `HYPERDRIVE`, in a build with the `postgres` feature).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    D1(Rc<D1Database>),
    #[cfg(feature = "postgres")]
    Postgres(Rc<postgres::Connection>),
}

impl Store {
    pub fn from_env(env: &Env) -> StoreResult<Store> {
        let backend = match chosen(env) {
            Dialect::Sqlite => Backend::D1(d1(env)?),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => Backend::Postgres(Rc::new(postgres::Connection::new(env))),
            #[cfg(not(feature = "postgres"))]
            Dialect::Postgres => {
                return Err(StoreError::Backend(
                    "a HYPERDRIVE binding needs the Postgres build of keygate (KEYGATE_BACKEND=postgres npm run build)"
                        .into(),
                ))
            }
        };
        Ok(Store { backend })
    }

    /// The SQL dialect of this store (for the few statements written in both).
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::D1(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    fn prepare(db: &D1Database, stmt: &Stmt) -> StoreResult<D1PreparedStatement> {
        let values: Vec<JsValue> = stmt.args.iter().map(Arg::to_js).collect();
        Ok(db.prepare(stmt.sql.as_ref()).bind(&values)?)
    }

    pub(crate) async fn first<T: DeserializeOwned>(&self, stmt: Stmt) -> StoreResult<Option<T>> {
        self.first_value(stmt).await?.map(decode).transpose()
    }

    async fn first_value(&self, stmt: Stmt) -> StoreResult<Option<Value>> {
        match &self.backend {
            Backend::D1(db) => Ok(d1::all(Self::prepare(db, &stmt)?).await?.into_values().into_iter().next()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => Ok(pg.run(&stmt).await?.into_values().into_iter().next()),
        }
    }

    pub(crate) async fn all<T: DeserializeOwned>(&self, stmt: Stmt) -> StoreResult<Vec<T>> {
        decode_all(self.all_values(stmt).await?)
    }

    /// The rows of one statement (not generic: the query is compiled once, only the decoding per
    /// row type).
    async fn all_values(&self, stmt: Stmt) -> StoreResult<Vec<Value>> {
        match &self.backend {
            Backend::D1(db) => Ok(d1::all(Self::prepare(db, &stmt)?).await?.into_values()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => Ok(pg.run(&stmt).await?.into_values()),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub(crate) async fn run(&self, stmt: Stmt) -> StoreResult<i64> {
        match &self.backend {
            Backend::D1(db) => Ok(d1::all(Self::prepare(db, &stmt)?).await?.changes()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => Ok(pg.run(&stmt).await?.changes()),
        }
    }

    /// Runs statements as one transaction (reads see one snapshot); one result each.
    pub(crate) async fn batch(&self, stmts: Vec<Stmt>) -> StoreResult<Vec<Rows>> {
        if stmts.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::D1(db) => {
                let prepared = stmts.iter().map(|s| Self::prepare(db, s)).collect::<StoreResult<Vec<_>>>()?;
                d1::batch(db, prepared).await
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => pg.batch(&stmts).await,
        }
    }

    /// Writes a change and its audit rows in one transaction. What this isolate read before of
    /// the batch's [`Scope`] counts as possibly stale afterwards (see [`changed_since`]), unless
    /// the batch only adds new keys ([`Batch::only_adds_keys`]).
    pub async fn commit(&self, batch: Batch) -> StoreResult<Vec<Rows>> {
        let scope = (!batch.only_adds_keys).then(|| batch.scope());
        let result = self.batch(batch.into_statements()?).await;
        // counted after the write (a read racing with it must not be cached as current) and even
        // when it failed (it may have been applied)
        if let Some(scope) = scope {
            changed(&scope);
        }
        result
    }
}

/// Exactly `N` results of a batch, in order.
fn results<const N: usize>(rows: Vec<Rows>) -> StoreResult<[Rows; N]> {
    rows.try_into().map_err(|_| StoreError::Decode("unexpected batch result".into()))
}

/// A list of strings as one JSON array argument, for `… IN (SELECT value FROM json_each(?))`.
pub fn json_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    serde_json::Value::from(items.into_iter().cloned().collect::<Vec<_>>()).to_string()
}

/// SQLite stores booleans as 0/1.
pub fn int_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Num(f64),
    }
    Ok(match B::deserialize(d)? {
        B::Bool(b) => b,
        B::Num(n) => n != 0.0,
    })
}

/// A nullable 0/1 column.
pub fn opt_int_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "int_bool")] bool);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// `(is set, value)` arguments for `CASE WHEN ?set <> 0 THEN ?value ELSE column END`.
pub fn patch_args<T: Clone + Into<Arg> + Nullable>(p: &crate::domain::patch::Patch<T>) -> (Arg, Arg) {
    use crate::domain::patch::Patch;
    match p {
        Patch::Absent => (Arg::Int(0), T::NULL),
        Patch::Null => (Arg::Int(1), T::NULL),
        Patch::Value(v) => (Arg::Int(1), v.clone().into()),
    }
}

/// A `COUNT(*) AS n` row.
#[derive(Deserialize)]
struct Count {
    n: i64,
}
