//! The threads a plugin's calls run on, so that a call that never returns holds only its own
//! thread and never the caller.
//!
//! Each loaded plugin keeps a small pool of *lanes*: a thread waiting for one call at a time.
//! A caller takes an idle lane (or starts one), hands it the call and waits at most the method's
//! budget; an answered lane goes back to the pool, a lane past its budget is abandoned with its
//! call (the plugin is faulted by the caller; the thread ends if the call ever returns).
//!
//! Handing a call to a sleeping thread costs a wake-up of several microseconds, against well
//! under one for the call itself. So both sides stay awake briefly when calls come densely: the
//! caller watches for the answer for up to [`WARM`] before it sleeps, and a lane whose last call
//! followed the one before within [`WARM`] watches for the next one as long before it sleeps. A
//! coordinator tick, whose calls are far apart (a tmux round trip between two), never spins; a
//! tight loop of calls is served without a single wake-up.

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use abi_stable::std_types::{RResult, RString};

use crate::ffi::FfiError;

/// What a plugin call returns across the ABI.
pub(crate) type Answer = RResult<RString, FfiError>;

/// One call, made on a lane.
pub(crate) type Job = Box<dyn FnOnce() -> Answer + Send>;

/// How long either side of a lane watches for the other before it sleeps.
const WARM: Duration = Duration::from_micros(50);

/// A thread that makes one plugin call at a time.
struct Lane {
    jobs: SyncSender<Job>,
    answers: Receiver<Answer>,
}

impl Lane {
    /// `None` when no thread can be started.
    fn start(plugin: &str) -> Option<Self> {
        // One call at a time each way: bounded channels of one slot, which never allocate.
        let (jobs, their_jobs) = mpsc::sync_channel::<Job>(1);
        let (their_answers, answers) = mpsc::sync_channel::<Answer>(1);
        std::thread::Builder::new()
            .name(format!("plugin {plugin}"))
            .spawn(move || serve(&their_jobs, &their_answers))
            .ok()?;
        Some(Self { jobs, answers })
    }

    /// The answer, or `None` when none came within `budget`.
    fn answer(&self, budget: Duration) -> Option<Answer> {
        let asked = Instant::now();
        if let Some(answer) = watch(&self.answers, WARM) {
            return answer;
        }
        let left = budget.saturating_sub(asked.elapsed());
        // Disconnected cannot happen while the lane's thread makes the call; either way, no answer.
        self.answers.recv_timeout(left).ok()
    }
}

/// A lane's life: make each call it is handed, until its caller abandons it.
fn serve(jobs: &Receiver<Job>, answers: &SyncSender<Answer>) {
    let mut dense = false;
    loop {
        let idle = Instant::now();
        let job = match dense.then(|| watch(jobs, WARM)).flatten() {
            Some(Some(job)) => job,
            Some(None) => return,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        dense = idle.elapsed() < WARM;
        if answers.send(job()).is_err() {
            return;
        }
    }
}

/// Watches `rx` for up to `span` without sleeping: `Some(Some(item))` when one came,
/// `Some(None)` when its sender is gone, `None` when nothing came.
fn watch<T>(rx: &Receiver<T>, span: Duration) -> Option<Option<T>> {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            match rx.try_recv() {
                Ok(item) => return Some(Some(item)),
                Err(TryRecvError::Disconnected) => return Some(None),
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        if start.elapsed() >= span {
            return None;
        }
    }
}

/// A plugin's idle lanes.
#[derive(Default)]
pub(crate) struct Lanes {
    idle: Mutex<Vec<Lane>>,
}

impl Lanes {
    /// Makes `job` on an idle lane (or a new one) and waits at most `budget` for its answer:
    /// `None` when it gave none (the lane is abandoned with it). Where no thread can be started,
    /// the call is made on this one.
    pub(crate) fn call(&self, plugin: &str, budget: Duration, job: Job) -> Option<Answer> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let Some(lane) = pooled.or_else(|| Lane::start(plugin)) else {
            return Some(job());
        };
        let lane = match lane.jobs.send(job) {
            Ok(()) => lane,
            // Its thread is gone (it cannot be, short of an abort): a fresh one makes the call.
            Err(mpsc::SendError(job)) => {
                let fresh = Lane::start(plugin);
                let Some(fresh) = fresh else {
                    return Some(job());
                };
                fresh.jobs.send(job).ok()?;
                fresh
            }
        };
        let answer = lane.answer(budget)?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(lane);
        }
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Answer {
        RResult::ROk(RString::from(text))
    }

    #[test]
    fn answered_lanes_are_reused_and_a_hung_one_is_left_behind() {
        let lanes = Lanes::default();
        for i in 0..100 {
            let text = format!("call {i}");
            let answer = lanes.call("t", Duration::from_secs(5), Box::new(move || ok(&text)));
            assert_eq!(answer.unwrap().unwrap().as_str(), format!("call {i}"));
        }
        assert_eq!(lanes.idle.lock().unwrap().len(), 1, "one lane served all");

        let (release, hold) = mpsc::channel::<()>();
        let hung = lanes.call(
            "t",
            Duration::from_millis(100),
            Box::new(move || {
                let _ = hold.recv();
                ok("late")
            }),
        );
        assert!(hung.is_none());
        assert!(
            lanes.idle.lock().unwrap().is_empty(),
            "the hung lane is not pooled"
        );
        // The next call gets a new lane and its own answer, never the late one.
        let next = lanes.call("t", Duration::from_secs(5), Box::new(|| ok("next")));
        assert_eq!(next.unwrap().unwrap().as_str(), "next");
        release.send(()).unwrap();
    }

    #[test]
    fn calls_from_several_threads_at_once_each_get_their_own_answer() {
        let lanes = std::sync::Arc::new(Lanes::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let lanes = std::sync::Arc::clone(&lanes);
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let want = format!("{t}/{i}");
                        let text = want.clone();
                        let got =
                            lanes.call("t", Duration::from_secs(5), Box::new(move || ok(&text)));
                        assert_eq!(got.unwrap().unwrap().as_str(), want);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(lanes.idle.lock().unwrap().len() <= 4);
    }
}
