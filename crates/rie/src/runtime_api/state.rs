//! The Runtime API's view of one environment ([`RuntimeState`]): where init stands, the
//! events waiting for a `/next`, and the invokes in flight, kept by request id up to the
//! environment's capacity (one invoke at a time today; several under Lambda Managed
//! Instances), each answered at most once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use http::header::HeaderMap;
use lamina_runtime_api::body::RuntimeApiError;
use lamina_runtime_api::Invocation;
use tokio::sync::{mpsc, oneshot, watch};

use crate::invoke::ResponseBody;
use crate::sandbox::ExitStatus;

/// An event handed to the runtime by `/next`.
pub(crate) struct Assigned {
    pub(crate) invocation: Invocation,
    pub(crate) payload: Bytes,
}

/// How the runtime (or its death) ended an invoke.
#[derive(Debug)]
pub(crate) enum RuntimeOutcome {
    /// `/response` with this body (whole, or streamed as the runtime sends it).
    Response {
        body: ResponseBody,
        content_type: String,
    },
    /// `/error` (or a streamed response's error trailers) with this body, verbatim.
    Error {
        body: Bytes,
        content_type: String,
        /// The normalised platform-side type (§1.5).
        error_type: String,
    },
    /// The response was over [`MAX_SYNC_RESPONSE`](lamina_runtime_api::limits::MAX_SYNC_RESPONSE).
    TooLarge { size: usize },
    /// `Lambda-Runtime-Function-Response-Mode` was not `streaming` (§1.4).
    InvalidResponseMode,
    /// The runtime exited before answering.
    Exited(ExitStatus),
}

/// Where the init phase stands.
#[derive(Debug, Clone)]
pub(crate) enum InitSignal {
    Running,
    /// SnapStart: the runtime asked for the restore (`/restore/next`) at this instant: its
    /// init and before-snapshot hooks are done, the "snapshot" is taken, and the restore
    /// runs until its first `/next`.
    Restoring(Instant),
    /// The runtime's first `/next` arrived at this instant: init is over.
    Ready(Instant),
    /// The runtime posted `/init/error`.
    Failed {
        body: Bytes,
        content_type: String,
    },
    /// The runtime's process ended before its first `/next` (as lamina's init reported,
    /// while the container lives on for the extensions).
    Exited(ExitStatus),
}

/// One invoke in flight.
struct InFlight {
    /// Taken by the first answer (or the runtime's exit, or the invoke's timeout).
    reply: Option<oneshot::Sender<RuntimeOutcome>>,
    /// Its `Lambda-Runtime-Invocation-Id`: an answer that echoes another is stale (§1.4).
    nonce: String,
    /// The invoke timed out: an answer gets 410, not 403.
    timed_out: bool,
    /// Which of (stdout, stderr) carry this invoke's output mark, when lamina-ric said so.
    output_marks: Option<(bool, bool)>,
}

/// Where a SnapStart environment's restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restore {
    /// Not a SnapStart environment: the restore routes are not served.
    Off,
    /// The runtime has not asked for the restore yet.
    Awaiting,
    /// `/restore/next` was answered.
    Restored,
}

pub(super) struct Inner {
    pub(super) initialized: bool,
    pub(super) restore: Restore,
    exited: Option<ExitStatus>,
    in_flight: HashMap<String, InFlight>,
    /// The last invokes that ended (as many as the capacity): a late second answer for one
    /// is a state transition the platform refuses (403), not an unknown id (400), even once
    /// the next event is queued.
    ended: VecDeque<String>,
    /// The last invokes that timed out: an answer for one gets 410 `InvokeTimeout` (RIE-LMI
    /// keeps the same 1,000 in `invoke/timeout/timeout_cache.go`).
    timed_out: VecDeque<String>,
}

/// How many timed-out request ids are remembered.
const TIMED_OUT_KEPT: usize = 1000;

/// The Runtime API's view of one environment.
pub(crate) struct RuntimeState {
    inner: Mutex<Inner>,
    pub(super) next_rx: tokio::sync::Mutex<mpsc::Receiver<Assigned>>,
    pub(super) init: watch::Sender<InitSignal>,
    /// SnapStart: told once the environment has logged the snapshot's end (its output, then
    /// `RESTORE_START`); `/restore/next` answers then.
    pub(crate) restored: tokio::sync::Notify,
    capacity: usize,
}

impl RuntimeState {
    /// A fresh state for an environment that takes `capacity` invokes at once (at least
    /// one), and the sender events are assigned through.
    #[cfg(test)]
    pub(crate) fn new(capacity: usize) -> (Arc<Self>, mpsc::Sender<Assigned>) {
        Self::with_restore(capacity, false)
    }

    /// [`RuntimeState::new`], for a SnapStart environment when `snapstart` (the restore
    /// routes are served, §1.10).
    pub(crate) fn with_restore(
        capacity: usize,
        snapstart: bool,
    ) -> (Arc<Self>, mpsc::Sender<Assigned>) {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let state = Self {
            inner: Mutex::new(Inner {
                initialized: false,
                restore: if snapstart {
                    Restore::Awaiting
                } else {
                    Restore::Off
                },
                exited: None,
                in_flight: HashMap::with_capacity(capacity),
                ended: VecDeque::with_capacity(capacity),
                timed_out: VecDeque::new(),
            }),
            next_rx: tokio::sync::Mutex::new(rx),
            init: watch::channel(InitSignal::Running).0,
            restored: tokio::sync::Notify::new(),
            capacity,
        };
        (Arc::new(state), tx)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::sync::lock(&self.inner)
    }

    /// Watch the init phase.
    pub(crate) fn init_rx(&self) -> watch::Receiver<InitSignal> {
        self.init.subscribe()
    }

    /// Put `request_id` in flight under `nonce` (its `Lambda-Runtime-Invocation-Id`); its
    /// outcome is sent to `reply`.
    pub(crate) fn begin(
        &self,
        request_id: &str,
        nonce: &str,
        reply: oneshot::Sender<RuntimeOutcome>,
    ) {
        let mut inner = self.lock();
        if let Some(status) = inner.exited {
            let _ = reply.send(RuntimeOutcome::Exited(status));
            return;
        }
        inner.in_flight.insert(
            request_id.to_owned(),
            InFlight {
                reply: Some(reply),
                nonce: nonce.to_owned(),
                timed_out: false,
                output_marks: None,
            },
        );
    }

    /// Invoke `request_id` timed out: it takes no answer any more, and a late one is told
    /// so (410) for as long as the id is remembered.
    pub(crate) fn time_out(&self, request_id: &str) {
        let mut inner = self.lock();
        if let Some(f) = inner.in_flight.get_mut(request_id) {
            f.reply = None;
            f.timed_out = true;
        }
        if inner.timed_out.len() == TIMED_OUT_KEPT {
            inner.timed_out.pop_front();
        }
        inner.timed_out.push_back(request_id.to_owned());
    }

    /// Invoke `request_id` is over (answered, timed out or failed): forget it, keeping its
    /// id to refuse a late answer, and say which of its output marks reach the log, as its
    /// runtime said on answering ([`lamina_runtime_api::logs::OUTPUT_MARKS_HEADER`]; `None`
    /// if it did not say).
    pub(crate) fn end(&self, request_id: &str) -> Option<(bool, bool)> {
        let mut inner = self.lock();
        let marks = inner
            .in_flight
            .remove(request_id)
            .and_then(|f| f.output_marks);
        if inner.ended.len() == self.capacity {
            inner.ended.pop_front();
        }
        inner.ended.push_back(request_id.to_owned());
        marks
    }

    /// How the runtime's process ended, once it has.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        self.lock().exited
    }

    /// The runtime is gone: fail every invoke in flight (and an init under way).
    pub(crate) fn runtime_exited(&self, status: ExitStatus) {
        let mut inner = self.lock();
        if inner.exited.is_some() {
            return;
        }
        inner.exited = Some(status);
        if !inner.initialized {
            self.init.send_if_modified(|s| {
                let running = matches!(s, InitSignal::Running | InitSignal::Restoring(_));
                if running {
                    *s = InitSignal::Exited(status);
                }
                running
            });
        }
        for f in inner.in_flight.values_mut() {
            if let Some(reply) = f.reply.take() {
                let _ = reply.send(RuntimeOutcome::Exited(status));
            }
        }
    }

    /// Check that `id` is in flight and still unanswered, and that `echo` (the answer's
    /// `Lambda-Runtime-Invocation-Id`, if it carries one) is its nonce: an answer without
    /// one is not checked, so clients older than the header keep working (§1.4).
    pub(super) fn check(
        &self,
        id: &str,
        to: &str,
        echo: Option<&str>,
    ) -> Result<(), RuntimeApiError> {
        let inner = self.lock();
        match inner.in_flight.get(id) {
            Some(f) if echo.is_some_and(|e| e != f.nonce) => Err(RuntimeApiError::invoke_timeout()),
            Some(InFlight { reply: Some(_), .. }) => Ok(()),
            Some(InFlight {
                timed_out: true, ..
            }) => Err(RuntimeApiError::invoke_timeout()),
            Some(_) => Err(refused(to)),
            None if inner.timed_out.iter().any(|e| e == id) => {
                Err(RuntimeApiError::invoke_timeout())
            }
            None if inner.ended.iter().any(|e| e == id) => Err(refused(to)),
            None => Err(RuntimeApiError::invalid_request_id()),
        }
    }

    /// Remember what the answer to invoke `id` says of its output marks.
    pub(super) fn note_output_marks(&self, id: &str, headers: &HeaderMap) {
        let marks = headers
            .get(lamina_runtime_api::logs::OUTPUT_MARKS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(lamina_runtime_api::logs::parse_marked_streams);
        if let Some(f) = self.lock().in_flight.get_mut(id) {
            f.output_marks = marks;
        }
    }

    /// Answer the invoke `id` with `outcome`, if it is still unanswered and `echo` (as in
    /// [`RuntimeState::check`]) is its nonce.
    pub(super) fn complete(
        &self,
        id: &str,
        to: &str,
        echo: Option<&str>,
        outcome: RuntimeOutcome,
    ) -> Result<(), RuntimeApiError> {
        let reply = self
            .lock()
            .in_flight
            .get_mut(id)
            .filter(|f| echo.is_none_or(|e| e == f.nonce))
            .and_then(|f| f.reply.take());
        match reply {
            Some(r) => {
                let _ = r.send(outcome);
                Ok(())
            }
            None => {
                // Tell a stale echo or timed-out invoke (410), a second answer (403) and an
                // unknown id (400) apart.
                self.check(id, to, echo)?;
                Err(refused(to))
            }
        }
    }
}

/// The platform's refusal of a second answer to one invoke.
fn refused(to: &str) -> RuntimeApiError {
    RuntimeApiError::invalid_state_transition(
        "InvocationResponse",
        to,
        "State transition is not allowed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoke_is_answered_once_and_a_late_answer_is_told_from_an_unknown_id() {
        let (state, _tx) = RuntimeState::new(1);
        let (reply, mut answered) = oneshot::channel();
        state.begin("a", "n", reply);
        assert!(state.check("a", "x", None).is_ok());
        let outcome = || RuntimeOutcome::InvalidResponseMode;
        state.complete("a", "x", None, outcome()).unwrap();
        assert!(answered.try_recv().is_ok());
        assert_eq!(
            state
                .complete("a", "x", None, outcome())
                .unwrap_err()
                .status,
            403
        );
        state.end("a");
        assert_eq!(
            state.check("a", "x", None).unwrap_err().status,
            403,
            "still remembered"
        );
        assert_eq!(state.check("zzz", "x", None).unwrap_err().status, 400);
        // The next invoke pushes the oldest ended id out of a capacity of one.
        let (reply, _b) = oneshot::channel();
        state.begin("b", "n", reply);
        state.end("b");
        assert_eq!(state.check("a", "x", None).unwrap_err().status, 400);
    }

    #[test]
    fn an_answer_echoing_another_invocation_id_is_refused_as_stale_and_the_invoke_waits_on() {
        let (state, _tx) = RuntimeState::new(1);
        let (reply, mut answered) = oneshot::channel();
        state.begin("a", "second", reply);
        let stale = state
            .complete(
                "a",
                "x",
                Some("first"),
                RuntimeOutcome::TooLarge { size: 1 },
            )
            .unwrap_err();
        assert_eq!(
            (stale.status, stale.error_type.as_str()),
            (410, "InvokeTimeout")
        );
        assert!(
            answered.try_recv().is_err(),
            "the stale answer was not taken"
        );
        state
            .complete(
                "a",
                "x",
                Some("second"),
                RuntimeOutcome::TooLarge { size: 2 },
            )
            .unwrap();
        assert!(matches!(
            answered.try_recv(),
            Ok(RuntimeOutcome::TooLarge { size: 2 })
        ));
    }

    #[test]
    fn an_answer_after_the_invoke_timed_out_gets_410_while_the_id_is_remembered() {
        let (state, _tx) = RuntimeState::new(1);
        let (reply, _a) = oneshot::channel();
        state.begin("a", "n", reply);
        state.time_out("a");
        let late = state
            .complete("a", "x", None, RuntimeOutcome::TooLarge { size: 1 })
            .unwrap_err();
        assert_eq!(
            (late.status, late.error_type.as_str()),
            (410, "InvokeTimeout")
        );
        state.end("a");
        let (reply, _b) = oneshot::channel();
        state.begin("b", "n", reply);
        state.end("b");
        assert_eq!(state.check("a", "x", None).unwrap_err().status, 410);
    }

    #[test]
    fn invokes_in_flight_are_kept_by_request_id_up_to_the_capacity() {
        let (state, _tx) = RuntimeState::new(2);
        let (ra, mut a) = oneshot::channel();
        let (rb, mut b) = oneshot::channel();
        state.begin("a", "n", ra);
        state.begin("b", "n", rb);
        state
            .complete("b", "x", None, RuntimeOutcome::TooLarge { size: 1 })
            .unwrap();
        assert!(a.try_recv().is_err(), "a is still in flight");
        assert!(matches!(
            b.try_recv(),
            Ok(RuntimeOutcome::TooLarge { size: 1 })
        ));
        state.runtime_exited(ExitStatus::Code(1));
        assert!(matches!(
            a.try_recv(),
            Ok(RuntimeOutcome::Exited(ExitStatus::Code(1)))
        ));
    }
}
