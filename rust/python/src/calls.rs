//! How every native call runs: panics become a `RuntimeError` that names the call, batch errors
//! become Python exceptions, and long computations run with the GIL released while the calling
//! thread keeps answering Ctrl-C.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use bettimatch_core::{BatchError, Stop, ThreadCount};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// Work below this many pixels runs without a watcher thread: it ends within milliseconds, and
/// starting a thread would cost more than the work itself.
const WATCHED_PIXELS: usize = 1 << 20;

/// How often a watched call looks for a pending signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs a whole `#[pyfunction]` body so that a panic, which would otherwise escape as
/// `PanicException` (a `BaseException` that `except Exception` does not catch), becomes a
/// `RuntimeError` that names `call`.
pub fn guarded<T>(call: &str, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(PyRuntimeError::new_err(format!(
            "bettimatch internal error in {call}: {why}. This is a bug in bettimatch: please report it, with the input that caused it"
        )))
    })
}

/// The thread count a call asked for (`None`: `RAYON_NUM_THREADS` or one per core), checked now.
pub fn thread_count(num_threads: Option<i64>) -> PyResult<ThreadCount> {
    let threads = match num_threads {
        None => ThreadCount::Auto,
        Some(n) if n >= 1 => ThreadCount::Fixed(usize::try_from(n).unwrap_or(usize::MAX)),
        Some(n) => {
            return Err(PyValueError::new_err(format!("num_threads must be a positive integer or None, got {n}")))
        }
    };
    threads.resolve().map_err(batch_error)?;
    Ok(threads)
}

fn batch_error(e: BatchError) -> PyErr {
    match e {
        BatchError::BadThreadCount { .. } => PyValueError::new_err(e.to_string()),
        BatchError::Spawn(_) | BatchError::Stopped => PyRuntimeError::new_err(e.to_string()),
    }
}

/// Runs `work` with the GIL released. Work of `pixels` or more runs on a scoped thread while this
/// one checks for signals every [`SIGNAL_POLL`]: on Ctrl-C (a signal handler that raises) it raises
/// the [`Stop`] flag, waits for the items in flight to finish and returns the handler's exception.
pub fn detached<T: Send>(
    py: Python<'_>,
    pixels: usize,
    work: impl FnOnce(&Stop) -> Result<T, BatchError> + Send,
) -> PyResult<T> {
    let stop = Stop::new();
    if pixels < WATCHED_PIXELS {
        return py.detach(|| work(&stop)).map_err(batch_error);
    }
    std::thread::scope(|scope| {
        let (done, mut finished) = mpsc::channel();
        let stop = &stop;
        scope.spawn(move || {
            // The receiver outlives this thread (the scope joins it), so the send cannot fail.
            let _ = done.send(catch_unwind(AssertUnwindSafe(|| work(stop))));
        });
        let mut interrupted = None;
        let outcome = loop {
            // The receiver moves into the GIL-free closure and back (it is not `Sync`).
            let (receiver, received) = py.detach(move || {
                let received = finished.recv_timeout(SIGNAL_POLL);
                (finished, received)
            });
            finished = receiver;
            match received {
                Ok(outcome) => break outcome,
                Err(mpsc::RecvTimeoutError::Timeout) if interrupted.is_none() => {
                    if let Err(signal) = py.check_signals() {
                        stop.request();
                        interrupted = Some(signal);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => unreachable!("the worker sends before it ends"),
            }
        };
        let result = outcome.unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        match interrupted {
            Some(signal) => Err(signal),
            None => result.map_err(batch_error),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_value() {
        let r: PyResult<()> = guarded("some_call", || panic!("boom"));
        assert!(r.is_err());
        let r: PyResult<u8> = guarded("some_call", || Ok(7));
        assert_eq!(r.ok(), Some(7));
    }
}
