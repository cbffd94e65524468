//! The usage limiter's group-commit queue: spends that arrive while a write is in flight wait and
//! are decided together in the next write. Whoever finds no write running leads: it takes the
//! whole queue as one batch, and when that batch is written it hands the lead to the first spend
//! that queued meanwhile instead of flushing again. So a request waits for its own batch only,
//! never for the batches after it, however long a load lasts.

use std::collections::VecDeque;

/// What a spend that joins the queue does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No write is running: take the batch and write it.
    Lead,
    /// A write is running: wait to be answered (or handed the lead).
    Wait,
}

#[derive(Debug)]
pub struct Queue<T> {
    waiting: VecDeque<T>,
    flushing: bool,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue { waiting: VecDeque::new(), flushing: false }
    }
}

impl<T> Queue<T> {
    /// A new spend joins at the back.
    pub fn join(&mut self, item: T) -> Role {
        self.waiting.push_back(item);
        if std::mem::replace(&mut self.flushing, true) {
            Role::Wait
        } else {
            Role::Lead
        }
    }

    /// A spend handed the lead rejoins at the front (it was first in line).
    pub fn rejoin(&mut self, item: T) {
        self.waiting.push_front(item);
    }

    /// The leader's batch: everything queued, in arrival order.
    pub fn take(&mut self) -> Vec<T> {
        self.waiting.drain(..).collect()
    }

    /// Spends of the batch left for the next one go first again.
    pub fn requeue(&mut self, rest: Vec<T>) {
        for item in rest.into_iter().rev() {
            self.waiting.push_front(item);
        }
    }

    /// After a batch: the spend that leads the next one (taken off the queue; it rejoins with
    /// [`Queue::rejoin`]), or `None` when nothing waits (the next spend to join leads).
    pub fn next_leader(&mut self) -> Option<T> {
        let next = self.waiting.pop_front();
        if next.is_none() {
            self.flushing = false;
        }
        next
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_writes_its_batch_and_hands_over() {
        let mut q = Queue::default();
        assert_eq!(q.join("a"), Role::Lead);
        assert_eq!(q.join("b"), Role::Wait);
        assert_eq!(q.take(), vec!["a", "b"]);
        // spends keep arriving while a's batch is written
        assert_eq!(q.join("c"), Role::Wait);
        assert_eq!(q.join("d"), Role::Wait);
        q.requeue(vec![]);
        // a is done: c leads the next batch, which holds c and d
        assert_eq!(q.next_leader(), Some("c"));
        q.rejoin("c");
        assert_eq!(q.join("e"), Role::Wait);
        assert_eq!(q.take(), vec!["c", "d", "e"]);
        assert_eq!(q.next_leader(), None);
        // nothing waits: the next spend leads
        assert_eq!(q.join("f"), Role::Lead);
    }

    #[test]
    fn spends_left_for_the_next_batch_keep_their_place() {
        let mut q = Queue::default();
        assert_eq!(q.join(1), Role::Lead);
        q.join(2);
        q.join(3);
        let batch = q.take();
        assert_eq!(batch, vec![1, 2, 3]);
        q.join(4);
        // 2 and 3 crossed a refill boundary: they go first in the next batch
        q.requeue(vec![2, 3]);
        assert_eq!(q.next_leader(), Some(2));
        q.rejoin(2);
        assert_eq!(q.take(), vec![2, 3, 4]);
        assert!(q.is_empty());
    }
}
