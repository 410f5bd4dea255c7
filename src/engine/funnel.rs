//! How a job reaches the one writer connection: on the writer thread in arrival order
//! (alone in its transaction, or in the group commit), or on the caller's own thread
//! when the writer is idle.

use parking_lot::FairMutexGuard;
use rusqlite::Connection;

use super::{Inner, arrival, group, reader, reply, writer};
use crate::error::Error;
use crate::sql::Result;

impl Inner {
    pub(super) fn funnel(&self) -> Result<&writer::WriterHandle> {
        self.funnel.get().ok_or(Error::Stopped.into())
    }

    /// The reader thread, started on first use on a connection of its own.
    pub(super) fn reader(&self) -> Result<&reader::ReaderHandle> {
        if let Some(r) = self.reader.get() {
            return Ok(r);
        }
        let _starting = self.reader_start.lock();
        if let Some(r) = self.reader.get() {
            return Ok(r);
        }
        let handle = reader::spawn(self.store.dedicated()?, self.funnel()?.waker())?;
        Ok(self.reader.get_or_init(|| handle))
    }

    /// Runs `f` in its own `BEGIN IMMEDIATE` transaction on the writer thread, after
    /// every request that arrived before it, and waits for the answer.
    pub(super) fn funnelled<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.funnelled_then(f, |_, _| {})
    }

    /// As [`Inner::funnelled`], in the writer's urgent lane: served after at most a few
    /// of the jobs already waiting, not behind all of them.
    pub(super) fn funnelled_urgent<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.alone(true, move |conn, inner| {
            inner.transact(conn, |tx| f(tx, inner))
        })
    }

    /// As [`Inner::funnelled`], and `committed` runs on the writer thread right after a
    /// successful commit, before any later request.
    pub(super) fn funnelled_then<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Inner) -> Result<T> + Send + 'static,
        committed: impl FnOnce(&Inner, &T) + Send + 'static,
    ) -> Result<T> {
        self.alone(false, move |conn, inner| {
            let result = inner.transact(conn, |tx| f(tx, inner));
            if let Ok(value) = &result {
                committed(inner, value);
            }
            result
        })
    }

    /// Runs a job that stands alone on the writer connection, first in line: on this
    /// thread when the writer is idle (nothing in flight, checked under the connection's
    /// lock), otherwise on the writer thread after everything before it.
    pub(super) fn alone<T: Send + 'static>(
        &self,
        urgent: bool,
        job: impl FnOnce(&mut Connection, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let funnel = self.funnel()?;
        if let Some(mut conn) = self.idle_writer(funnel) {
            arrival::arrived();
            return job(&mut conn, self);
        }
        let (reply, answer) = reply::slot();
        let work: writer::Work = Box::new(move |conn, inner, wakes| {
            wakes.extend(reply.fill(job(conn, inner)));
        });
        if urgent {
            funnel.submit_urgent(writer::Job::Alone(work))?;
        } else {
            funnel.submit(writer::Job::Alone(work))?;
        }
        answer.wait()
    }

    /// The writer connection, if nothing waits or runs on the writer (checked under the
    /// connection's lock): then a job may run on the caller's own thread, first in line.
    pub(super) fn idle_writer(
        &self,
        funnel: &writer::WriterHandle,
    ) -> Option<FairMutexGuard<'_, Connection>> {
        if !funnel.idle() {
            return None;
        }
        let conn = self.writer.try_lock()?;
        funnel.idle().then_some(conn)
    }

    /// Runs `f` in the writer's group commit, in a savepoint of its own, after every
    /// request that arrived before it (or, with the writer idle, in its own `BEGIN
    /// IMMEDIATE` transaction on this thread), and waits for the answer, which comes
    /// after the commit. For the changes to a hold that buyers make by the thousand:
    /// pay, release, extend.
    pub(super) fn grouped<T: Send + 'static>(
        &self,
        buyer: &str,
        touches: group::Touches<T>,
        f: impl FnOnce(&Connection, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let funnel = self.funnel()?;
        if let Some(mut conn) = self.idle_writer(funnel) {
            arrival::arrived();
            return self.transact(&mut conn, |tx| f(tx, self));
        }
        let (reply, answer) = reply::slot();
        let change = group::ChangeOf::new(f, reply, buyer.to_owned(), touches);
        funnel.submit(writer::Job::Change(Box::new(change)))?;
        answer.wait()
    }
}
