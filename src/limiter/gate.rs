//! A first-in-first-out async lock for a Durable Object. The runtime delivers new requests to an
//! object while it awaits D1 (input gates only cover the object's own storage), so a limiter that
//! reads and writes D1 must serialise its requests itself.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use futures_channel::oneshot;

#[derive(Default)]
pub struct Gate {
    held: Cell<bool>,
    waiters: RefCell<VecDeque<oneshot::Sender<()>>>,
}

/// Holding this means the caller runs alone; dropping it lets the next waiter in.
pub struct Pass<'a> {
    gate: &'a Gate,
}

impl Gate {
    pub async fn enter(&self) -> Pass<'_> {
        if self.held.replace(true) {
            let (tx, rx) = oneshot::channel();
            self.waiters.borrow_mut().push_back(tx);
            // the sender is only dropped after handing the gate over (or if the object is torn down)
            let _ = rx.await;
        }
        Pass { gate: self }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        loop {
            let next = self.gate.waiters.borrow_mut().pop_front();
            match next {
                // hand the gate over directly; `held` stays true
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    self.gate.held.set(false);
                    return;
                }
            }
        }
    }
}
