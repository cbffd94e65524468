//! The Postgres backend, reached through a Hyperdrive binding (`HYPERDRIVE`) with tokio-postgres
//! over the socket the binding opens (no TLS on that hop: Hyperdrive terminates it).
//!
//! - One connection per [`super::Store`] (one per request, and one per limiter call in a Durable
//!   Object), opened on its first statement and closed when the store is dropped; its statements
//!   run one at a time, in the order they were asked (a FIFO lock), so a batch's transaction never
//!   interleaves with another statement of the same request.
//! - Every statement is sent unnamed (`query_typed_raw`: Parse/Bind/Execute/Sync in one message),
//!   never as a named prepared statement, which Hyperdrive does not support with caching off.
//! - A batch of one statement is sent alone (a statement is atomic by itself). A longer batch is
//!   `BEGIN`, its statements and `COMMIT`, pipelined on the connection (one round trip
//!   when the database is far away). A failing statement aborts the transaction, so the `COMMIT`
//!   rolls it back: nothing of the batch is written, as with D1's batch. A batch of reads runs
//!   in one `REPEATABLE READ` snapshot, as D1's batch reads one state of the database.
//! - SQL is written in SQLite's dialect and translated by [`super::dialect::postgres`].
//! - Arguments are typed (BIGINT / TEXT, NULLs too) and rows are decoded by column type into JSON
//!   objects (a comparison's boolean as 0/1, like SQLite's) that the store's row structs read
//!   through serde, as they read D1's rows.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use futures_channel::oneshot;
use futures_util::{pin_mut, TryStreamExt};
use serde_json::{Map, Value};
use tokio_postgres::error::{DbError, SqlState};
use tokio_postgres::types::{private::BytesMut, to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row};
use worker::Env;

use super::{dialect, Arg, Rows, Stmt, StoreError, StoreResult};

/// The binding whose presence selects this backend.
pub const BINDING: &str = "HYPERDRIVE";

/// A lazily opened connection.
pub struct Connection {
    env: Env,
    client: RefCell<Option<Rc<Client>>>,
    lock: Lock,
}

impl Connection {
    pub fn new(env: &Env) -> Connection {
        Connection { env: env.clone(), client: RefCell::new(None), lock: Lock::default() }
    }

    /// The open client (with the lock held).
    async fn client(&self) -> StoreResult<Rc<Client>> {
        if let Some(client) = self.client.borrow().as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let hyperdrive = self.env.hyperdrive(BINDING)?;
        let config: Config = hyperdrive.connection_string().parse().map_err(error)?;
        let (client, connection) = config.connect_raw(hyperdrive.connect()?, NoTls).await.map_err(error)?;
        worker::wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = connection.await {
                worker::console_error!("postgres connection: {}", error(e));
            }
        });
        let client = Rc::new(client);
        self.client.replace(Some(client.clone()));
        Ok(client)
    }

    /// Runs one statement on its own (autocommit).
    pub async fn run(&self, stmt: &Stmt) -> StoreResult<Rows> {
        let _pass = self.lock.enter().await;
        let client = self.client().await?;
        statement(&client, stmt).await
    }

    /// Runs statements as one transaction; one result each.
    pub async fn batch(&self, stmts: &[Stmt]) -> StoreResult<Vec<Rows>> {
        let _pass = self.lock.enter().await;
        let client = self.client().await?;
        // one statement is a transaction of its own (the usage limiter's group commit is one
        // conditional UPDATE): no BEGIN/COMMIT round trips around it
        if let [only] = stmts {
            return Ok(vec![statement(&client, only).await?]);
        }
        let reads_only = stmts.iter().all(|s| is_read(&s.sql));
        let begin = if reads_only { "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" } else { "BEGIN" };
        let client = &client;
        let mut steps: Vec<Pin<Box<dyn Future<Output = StoreResult<Rows>> + '_>>> =
            Vec::with_capacity(stmts.len() + 2);
        steps.push(Box::pin(command(client, begin)));
        steps
            .extend(stmts.iter().map(|s| Box::pin(statement(client, s)) as Pin<Box<dyn Future<Output = _>>>));
        steps.push(Box::pin(command(client, "COMMIT")));
        let mut results = in_order(steps).await;
        let commit = results.pop();
        let failed = results.iter().position(Result::is_err);
        if failed.is_none() && matches!(commit, Some(Ok(_))) {
            // BEGIN's empty result first
            return results.into_iter().skip(1).collect();
        }
        // a failed statement made the COMMIT a rollback; anything else (a failed BEGIN or
        // COMMIT) is rolled back explicitly (a warning when there is no transaction)
        if !matches!(commit, Some(Ok(_))) || failed == Some(0) {
            let _ = command(client, "ROLLBACK").await;
        }
        match failed {
            Some(i) => Err(results
                .swap_remove(i)
                .err()
                .unwrap_or_else(|| StoreError::Backend("batch failed".into()))),
            None => Err(commit
                .and_then(Result::err)
                .unwrap_or_else(|| StoreError::Backend("postgres: COMMIT failed".into()))),
        }
    }
}

/// A statement that only reads (a batch of them runs in one snapshot).
fn is_read(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or("");
    head.eq_ignore_ascii_case("SELECT") || head.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("WITH"))
}

/// A statement without arguments or rows (BEGIN, COMMIT, ROLLBACK).
async fn command(client: &Client, sql: &str) -> StoreResult<Rows> {
    let stream = client.query_typed_raw(sql, std::iter::empty::<(&Arg, Type)>()).await.map_err(error)?;
    pin_mut!(stream);
    while stream.try_next().await.map_err(error)?.is_some() {}
    Ok(Rows { rows: Vec::new(), changes: 0 })
}

/// One statement: sent when first polled, its rows collected.
async fn statement(client: &Client, stmt: &Stmt) -> StoreResult<Rows> {
    let sql = dialect::postgres(&stmt.sql);
    let params = stmt.args.iter().map(|a| (a, sql_type(a)));
    let stream = client.query_typed_raw(&sql, params).await.map_err(error)?;
    pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await.map_err(error)? {
        rows.push(decode(&row)?);
    }
    let changes = stream.rows_affected().unwrap_or(0) as i64;
    Ok(Rows { rows, changes })
}

/// Polls every future in index order until all are done (so statements are sent in order).
async fn in_order<'a, T>(mut futures: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
    let mut done: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// The declared type of an argument: BIGINT or TEXT (NULLs keep theirs).
fn sql_type(arg: &Arg) -> Type {
    match arg {
        Arg::Int(_) | Arg::NullInt => Type::INT8,
        Arg::Text(_) | Arg::NullText => Type::TEXT,
    }
}

impl ToSql for Arg {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Arg::Int(v) => v.to_sql(ty, out),
            Arg::Text(v) => v.as_str().to_sql(ty, out),
            Arg::NullInt | Arg::NullText => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A row as a JSON object, by column type.
fn decode(row: &Row) -> StoreResult<Value> {
    let mut object = Map::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let failed = |e: tokio_postgres::Error| StoreError::Decode(format!("column {name}: {e}"));
        let value = match column.type_().oid() {
            // INT8, INT4, INT2
            20 => row.try_get::<_, Option<i64>>(i).map_err(failed)?.map(Value::from),
            23 => row.try_get::<_, Option<i32>>(i).map_err(failed)?.map(Value::from),
            21 => row.try_get::<_, Option<i16>>(i).map_err(failed)?.map(Value::from),
            // BOOL: SQLite's comparisons give 0/1
            16 => row.try_get::<_, Option<bool>>(i).map_err(failed)?.map(|b| Value::from(b as i64)),
            // TEXT, VARCHAR, BPCHAR, NAME
            25 | 1043 | 1042 | 19 => row.try_get::<_, Option<&str>>(i).map_err(failed)?.map(Value::from),
            // FLOAT8, FLOAT4
            701 => row.try_get::<_, Option<f64>>(i).map_err(failed)?.map(Value::from),
            700 => row.try_get::<_, Option<f32>>(i).map_err(failed)?.map(|f| Value::from(f as f64)),
            _ => {
                return Err(StoreError::Decode(format!(
                    "column {name} has type {} (cast it to BIGINT or TEXT)",
                    column.type_()
                )))
            }
        };
        object.insert(name.to_string(), value.unwrap_or(Value::Null));
    }
    Ok(Value::Object(object))
}

/// A tokio-postgres error as a store error; a unique violation in SQLite's words
/// (`UNIQUE constraint failed: table.column, …`, which the services match on).
fn error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(unique(db)),
        Some(db) => StoreError::Backend(format!("postgres {}: {}", db.code().code(), db.message())),
        None => StoreError::Backend(format!("postgres: {e}")),
    }
}

fn unique(db: &DbError) -> String {
    let table = db.table().unwrap_or("unknown");
    // "Key (workspace_id, slug)=(…) already exists." (the values are left out)
    let columns =
        db.detail().and_then(|d| d.strip_prefix("Key (")).and_then(|d| d.split_once(")=")).map(|c| c.0);
    let named: Vec<String> = columns
        .unwrap_or_default()
        .split(", ")
        .filter(|c| !c.is_empty())
        .map(|c| format!("{table}.{}", c.trim_matches('"')))
        .collect();
    format!(
        "UNIQUE constraint failed: {}",
        if named.is_empty() { table.to_string() } else { named.join(", ") }
    )
}

/// A first-in-first-out async lock: one statement or batch at a time on the connection.
#[derive(Default)]
struct Lock {
    held: Cell<bool>,
    waiters: RefCell<VecDeque<oneshot::Sender<()>>>,
}

struct Pass<'a>(&'a Lock);

impl Lock {
    async fn enter(&self) -> Pass<'_> {
        if self.held.replace(true) {
            let (tx, rx) = oneshot::channel();
            self.waiters.borrow_mut().push_back(tx);
            let _ = rx.await;
        }
        Pass(self)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        loop {
            let next = self.0.waiters.borrow_mut().pop_front();
            match next {
                // hand the lock over directly (`held` stays true); a waiter gone is skipped
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    self.0.held.set(false);
                    return;
                }
            }
        }
    }
}
