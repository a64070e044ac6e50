//! A list scheduler over rayon: tasks become ready as the ones they need finish, and a free
//! thread always takes the ready task of highest priority. Rayon's own order (a thread runs the
//! job it spawned last, a thief the one spawned first) would put a short task that just became
//! ready before a long one that started the critical path, and leave one thread of two idle
//! at the end of a matching.

use std::collections::BinaryHeap;
use std::sync::Mutex;

/// Runs `initial` and every task the running ones make ready: `run(task, ready)` runs one task
/// and pushes into `ready` the tasks it made ready. Returns when no task is left. Each ready
/// task gets one rayon job, which runs the ready task of highest priority (`Ord`: greatest
/// first) at the moment it starts, not necessarily the one it was made for.
pub(crate) fn run_by_priority<T, F>(initial: Vec<T>, run: F)
where
    T: Ord + Send,
    F: Fn(T, &mut Vec<T>) + Sync,
{
    let ready = Mutex::new(BinaryHeap::from(initial));
    let jobs = lock(&ready).len();
    let scheduler = Scheduler { ready, run };
    rayon::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|s| scheduler.job(s));
        }
    });
}

struct Scheduler<T, F> {
    ready: Mutex<BinaryHeap<T>>,
    run: F,
}

impl<T, F> Scheduler<T, F>
where
    T: Ord + Send,
    F: Fn(T, &mut Vec<T>) + Sync,
{
    fn job<'s>(&'s self, s: &rayon::Scope<'s>) {
        // A job is spawned only after its task was pushed, and each job pops one: never empty.
        let task = lock(&self.ready).pop().expect("a job has a ready task");
        let mut made_ready = Vec::new();
        (self.run)(task, &mut made_ready);
        let jobs = made_ready.len();
        lock(&self.ready).extend(made_ready);
        for _ in 0..jobs {
            s.spawn(|s| self.job(s));
        }
    }
}

/// A task that panicked poisons nothing here: the heap is whole between two calls.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A chain of tasks that each make up to two more ready: every task runs once, whatever
    /// the thread count, and a task runs only after the one that made it ready.
    #[test]
    fn every_task_runs_once_after_the_one_that_made_it_ready() {
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let runs: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
            let finished: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
            pool.install(|| {
                run_by_priority(vec![1usize], |task, ready| {
                    runs[task].fetch_add(1, Ordering::SeqCst);
                    if task > 1 {
                        assert_eq!(finished[task / 2].load(Ordering::SeqCst), 1, "task {task} ran before {}", task / 2);
                    }
                    finished[task].store(1, Ordering::SeqCst);
                    ready.extend([2 * task, 2 * task + 1].into_iter().filter(|&t| t < 64));
                })
            });
            assert!(runs[1..].iter().all(|r| r.load(Ordering::SeqCst) == 1), "{threads} threads");
            assert_eq!(runs[0].load(Ordering::SeqCst), 0);
        }
    }

    /// On one thread, the order is the priority order among the ready tasks.
    #[test]
    fn one_thread_takes_the_highest_ready_task_first() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let order = Mutex::new(Vec::new());
        pool.install(|| {
            run_by_priority(vec![3, 1, 2], |task: u32, ready| {
                order.lock().unwrap().push(task);
                if task == 3 {
                    ready.extend([10, 0]);
                }
            })
        });
        assert_eq!(order.into_inner().unwrap(), vec![3, 10, 2, 1, 0]);
    }
}
