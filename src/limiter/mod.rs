//! The Durable Objects that make credits and rate limits exact, their message protocol, and the
//! worker's client.

pub mod client;
mod gate;
pub mod lane;
pub mod protocol;
pub mod rate;
pub mod usage;

pub use client::{LimiterError, Limiters};

/// A limiter object's answer to one message: 200 and the reply's text, JSON or short (a batch: a
/// line per message), or 400/500 and the message why. The worker's calls to a usage limiter get it through
/// the object's JS RPC method `answer` (see `client`); a `fetch` to an object, as a Response.
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn ok(text: String) -> Self {
        Answer { status: 200, text }
    }

    fn error(status: u16, message: impl Into<String>) -> Self {
        Answer { status, text: message.into() }
    }

    fn json<T: serde::Serialize>(result: Result<T, String>) -> Self {
        Answer::text(result.and_then(|value| serde_json::to_string(&value).map_err(|e| e.to_string())))
    }

    /// A reply already text (see `protocol`), or the error (500) that replaced it.
    fn text(result: Result<String, String>) -> Self {
        match result {
            Ok(text) => Answer::ok(text),
            Err(message) => Answer::error(500, message),
        }
    }

    /// As an RPC reply: the status, a space, the text (read by `client::rpc_answer`).
    fn into_rpc(self) -> String {
        format!("{} {}", self.status, self.text)
    }

    /// As a `fetch` reply.
    fn into_response(self) -> worker::Result<worker::Response> {
        Ok(worker::Response::ok(self.text)?.with_status(self.status))
    }
}
