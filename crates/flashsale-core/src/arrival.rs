//! Where a request reaches the engine: its *door* (the writer's queue, the gate, the
//! optimistic read, naive's read, pay-first's cart). A caller that wants to know the
//! order in which its requests arrived — the swarm, for fairness — leaves a hook for
//! the current thread; the engine runs it at the door, just before the request joins
//! the line.
//!
//! Why not count arrivals in the caller before it calls: between the caller's count
//! and the door lie a few microseconds (more in a debug build) in which a busy 2-core
//! machine may preempt the thread, and a later buyer passes it. That is the scheduler's
//! unfairness, not the engine's; the queue's first-come, first-served test failed on
//! it now and then.

use std::cell::RefCell;

thread_local! {
    static AT_DOOR: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// Runs `hook` when this thread's next request reaches the engine's door (or at
/// [`arrived`], whichever comes first). Replaces a hook not yet run.
pub fn on_arrival(hook: Box<dyn FnOnce()>) {
    AT_DOOR.with(|d| *d.borrow_mut() = Some(hook));
}

/// The request is at the door: runs this thread's hook, if any (once).
pub fn arrived() {
    if let Some(hook) = AT_DOOR.with(|d| d.borrow_mut().take()) {
        hook();
    }
}
