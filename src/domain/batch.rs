//! Batches of calls to a limiter object from one isolate: the lane they wait in, and the text of
//! a batch message and of its answer — several messages, a line each (compact JSON and the short
//! texts hold no raw line break), answered by one line each, in order: the reply (JSON or short
//! text, never starting with `"`) or, for a message that failed, its error as a JSON string.

use std::collections::VecDeque;

/// A call that has not been answered after this long (ms) is given up (it fails), and a batch in
/// flight that long no longer holds the lane: the next call sends a new one (the runtime keeps a
/// `waitUntil` task 30 s at most).
pub const STALLED_MS: f64 = 30_000.0;

/// The calls waiting for one object and the batch in flight to it (at most one: measured, a
/// second batch in flight while the object writes the first served less, 0.16 of the hello-world
/// against 0.23 with credits). Times are ms on any clock that moves forward.
#[derive(Debug)]
pub struct Lane<T> {
    waiting: VecDeque<T>,
    /// When the batch in flight was sent.
    sent_at: Option<f64>,
    /// How long the last batch took.
    last_batch_ms: f64,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Lane { waiting: VecDeque::new(), sent_at: None, last_batch_ms: 0.0 }
    }
}

/// What a waiting call whose answer has not come does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Send the next batch (no batch is in flight).
    Lead,
    /// Look again after this many ms: about when the batch in flight should answer.
    Sleep(f64),
    /// The call is given up (see [`STALLED_MS`]).
    Stalled,
}

impl<T> Lane<T> {
    /// A call joins at the back; `true`: no batch is in flight, the caller sends one.
    pub fn join(&mut self, call: T, now: f64) -> bool {
        self.waiting.push_back(call);
        self.start(now)
    }

    fn start(&mut self, now: f64) -> bool {
        if self.sent_at.is_some() || self.waiting.is_empty() {
            return false;
        }
        self.sent_at = Some(now);
        true
    }

    /// A waiting call that joined at `joined` looks again (see [`Step`]). A batch in flight for
    /// longer than [`STALLED_MS`] no longer holds the lane; a call waiting that long is given up.
    pub fn step(&mut self, now: f64, joined: f64) -> Step {
        if self.sent_at.is_some_and(|since| now - since > STALLED_MS) {
            self.sent_at = None;
        }
        if now - joined > STALLED_MS {
            return Step::Stalled;
        }
        if self.start(now) {
            return Step::Lead;
        }
        match self.sent_at {
            Some(since) => Step::Sleep((self.last_batch_ms - (now - since)).clamp(1.0, 20.0)),
            None => Step::Sleep(1.0),
        }
    }

    /// The leader's batch: the first `max` calls waiting, in arrival order.
    pub fn take(&mut self, max: usize) -> Vec<T> {
        let n = self.waiting.len().min(max);
        self.waiting.drain(..n).collect()
    }

    /// The batch in flight answered. With `go_on` and calls waiting the next batch starts at once
    /// (`true`: the caller sends it); otherwise a waiting call sends it when it looks again.
    pub fn answered(&mut self, now: f64, go_on: bool) -> bool {
        if let Some(since) = self.sent_at.take() {
            self.last_batch_ms = now - since;
        }
        go_on && self.start(now)
    }

    /// How many calls wait (not counting the batch in flight).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Nothing waits and nothing is in flight: the lane can go.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.sent_at.is_none()
    }
}

/// One message for several: their texts, a line each.
pub fn join<'a>(messages: impl IntoIterator<Item = &'a str>) -> String {
    messages.into_iter().collect::<Vec<_>>().join("\n")
}

/// The answers to a batch message: a reply's text, or the error of that message.
pub fn answers(text: &str) -> Vec<Result<String, String>> {
    text.lines()
        .map(|line| match line.starts_with('"') {
            true => Err(serde_json::from_str::<String>(line).unwrap_or_else(|_| line.to_string())),
            false => Ok(line.to_string()),
        })
        .collect()
}

/// The object's side: an answer line for each message, in order — its reply's text (JSON or a
/// short form, neither holding a line break nor starting with `"`), or its error.
pub fn answer_lines(answers: Vec<Result<String, String>>) -> String {
    let lines: Vec<String> = answers
        .into_iter()
        .map(|answer| match answer {
            Ok(text) => text,
            Err(message) => serde_json::Value::from(message).to_string(),
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_that_arrive_during_a_batch_go_together_in_the_next() {
        let mut lane = Lane::default();
        assert!(lane.join("a", 0.0));
        assert_eq!(lane.take(128), vec!["a"]);
        assert!(!lane.join("b", 1.0));
        assert!(!lane.join("c", 2.0));
        // a's batch is in flight: b and c sleep
        assert!(matches!(lane.step(3.0, 1.0), Step::Sleep(_)));
        // the sender of a's batch goes on with the calls that waited
        assert!(lane.answered(5.0, true));
        assert_eq!(lane.take(128), vec!["b", "c"]);
        assert!(!lane.answered(9.0, true));
        assert!(lane.is_idle());
    }

    #[test]
    fn a_waiting_call_leads_when_the_sender_stops() {
        let mut lane = Lane::default();
        assert!(lane.join("a", 0.0));
        lane.take(128);
        lane.join("b", 1.0);
        // the sender of a's batch stops there (it sent as many as it may)
        assert!(!lane.answered(8.0, false));
        assert!(!lane.is_idle());
        assert_eq!(lane.step(9.0, 1.0), Step::Lead);
        assert_eq!(lane.take(128), vec!["b"]);
        // one batch in flight at a time
        lane.join("c", 10.0);
        assert!(matches!(lane.step(10.0, 10.0), Step::Sleep(_)));
    }

    #[test]
    fn a_call_sleeps_about_until_the_batch_should_answer() {
        let mut lane = Lane::default();
        lane.join("a", 0.0);
        lane.take(128);
        lane.answered(12.0, false);
        lane.join("b", 100.0);
        lane.take(128);
        lane.join("c", 102.0);
        // the last batch took 12 ms and this one was sent 2 ms ago
        assert_eq!(lane.step(102.0, 102.0), Step::Sleep(10.0));
        // late: look again soon, never more than 20 ms
        assert_eq!(lane.step(130.0, 102.0), Step::Sleep(1.0));
    }

    #[test]
    fn a_batch_is_capped_and_the_rest_waits_in_order() {
        let mut lane = Lane::default();
        lane.join(1, 0.0);
        lane.join(2, 0.0);
        lane.join(3, 0.0);
        assert_eq!(lane.take(2), vec![1, 2]);
        assert!(lane.answered(1.0, true));
        assert_eq!(lane.take(2), vec![3]);
    }

    #[test]
    fn a_batch_that_does_not_answer_fails_its_calls_and_frees_the_lane() {
        let mut lane = Lane::default();
        lane.join("a", 0.0);
        lane.take(128);
        lane.join("b", 1.0);
        lane.take(1);
        lane.join("c", 20_000.0);
        // a and b (in the batch) are given up, each when it looks
        assert_eq!(lane.step(STALLED_MS + 2.0, 0.0), Step::Stalled);
        assert_eq!(lane.step(STALLED_MS + 2.0, 1.0), Step::Stalled);
        // c waited less: it sends the next batch
        assert_eq!(lane.step(STALLED_MS + 3.0, 20_000.0), Step::Lead);
        assert_eq!(lane.take(128), vec!["c"]);
    }

    #[test]
    fn messages_go_a_line_each() {
        let a = serde_json::json!({ "op": "spend", "note": "two\nlines" }).to_string();
        let b = serde_json::json!({ "op": "spend" }).to_string();
        let text = join([a.as_str(), b.as_str()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, vec![a.as_str(), b.as_str()]);
    }

    #[test]
    fn answers_keep_their_order_and_errors() {
        let text = answer_lines(vec![
            Ok(serde_json::json!({ "valid": true }).to_string()),
            Err("bad usage-limiter request: \"cost\" is\nnot a number".to_string()),
            Ok(serde_json::json!({ "valid": false }).to_string()),
        ]);
        assert_eq!(text.lines().count(), 3);
        assert_eq!(
            answers(&text),
            vec![
                Ok(r#"{"valid":true}"#.to_string()),
                Err("bad usage-limiter request: \"cost\" is\nnot a number".to_string()),
                Ok(r#"{"valid":false}"#.to_string()),
            ]
        );
    }

    #[test]
    fn no_messages_no_answers() {
        assert_eq!(join([]), "");
        assert!(answers("").is_empty());
        assert_eq!(answer_lines(vec![]), "");
    }
}
