/*! The moments the scripted model finished answering: a thread takes every completed request
from [`FakeModel::subscribe`] and stamps it with `Instant::now()` as it arrives (the model hands
a request over just after the last event of its stream went out), so the stamp does not wait for
the harness's main thread, which is busy polling `status` meanwhile. */

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use team_agent_fake_model::{FakeModel, Record, RecordedRequest, RequestKind};

pub struct Finished {
    stamped: Receiver<(Instant, RecordedRequest)>,
    /// Heard of, not yet asked for.
    backlog: Vec<(Instant, RecordedRequest)>,
}

impl Finished {
    /// From now on, until `model` stops.
    pub fn start(model: &FakeModel) -> Self {
        let records = model.subscribe();
        let (send, stamped) = mpsc::channel();
        std::thread::spawn(move || {
            for record in records {
                if let Record::Request(request) = record
                    && send.send((Instant::now(), *request)).is_err()
                {
                    return;
                }
            }
        });
        Self {
            stamped,
            backlog: Vec::new(),
        }
    }

    /// When an agent turn (a main request) satisfying `wanted` finished, if one has by now; it is
    /// not handed out again.
    pub fn take(&mut self, wanted: impl Fn(&RecordedRequest) -> bool) -> Option<Instant> {
        self.backlog.extend(self.stamped.try_iter());
        self.take_from_backlog(&wanted)
    }

    /// Like [`take`](Self::take), waiting up to `timeout` for it.
    pub fn wait(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&RecordedRequest) -> bool,
    ) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.take(&wanted) {
                return Some(at);
            }
            match self
                .stamped
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(stamped) => self.backlog.push(stamped),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn take_from_backlog(&mut self, wanted: &impl Fn(&RecordedRequest) -> bool) -> Option<Instant> {
        let at = self
            .backlog
            .iter()
            .position(|(_, r)| r.kind == RequestKind::Main && wanted(r))?;
        Some(self.backlog.remove(at).0)
    }
}
