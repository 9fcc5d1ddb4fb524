//! Asynchronous (`Event`) invokes that are never lost (runtime-api.md §7): accepted into a
//! durable on-disk queue before the 202, delivered at least once on the function's own pool
//! (under its concurrency), retried on a function error as Lambda retries (2 more attempts,
//! about 1 and 2 minutes later — the delay compressible for local use), put back on
//! throttling or a service error with backoff from 1 s to 5 min, dropped past the maximum
//! event age, and recorded in an on-failure (and optionally on-success) folder with the
//! cloud's record. What was accepted and not finished is delivered after a restart.

mod record;
mod store;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lamina_runtime_api::body::ServiceError;
use lamina_runtime_api::limits::MAX_SYNC_RESPONSE;
use tokio::sync::{Notify, Semaphore};

use crate::error::{Error, Result};
use crate::invoke::{Answer, InvokeRequest};
use crate::pool::Pool;
use crate::sync::lock;
use record::Condition;
use store::Unrecorded;
use store::{QueuedEvent, Store};

pub use crate::config::{
    EventConfig, DEFAULT_RETRY_DELAY, MAX_EVENT_AGE, MAX_RETRY_ATTEMPTS, MIN_EVENT_AGE,
};

/// Longest backoff after throttling or a service error.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// `event` as kept in memory: everything but its payload.
fn without_payload(event: QueuedEvent) -> QueuedEvent {
    QueuedEvent {
        payload: String::new(),
        ..event
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One function's queue and its delivery.
pub(crate) struct EventQueue {
    store: Arc<Store>,
    pool: Arc<Pool>,
    state: Mutex<State>,
    seq: AtomicU64,
    wake: Notify,
    slots: Arc<Semaphore>,
}

/// What is queued, in memory without payloads (those stay on disk until their attempt: a
/// deep queue of 1 MB events must not be held in memory).
#[derive(Default)]
struct State {
    pending: BTreeMap<u64, QueuedEvent>,
    in_flight: HashSet<u64>,
}

impl EventQueue {
    /// Open the function's queue folder under `root` and take up what an earlier run left.
    pub(crate) fn open(root: &std::path::Path, pool: Arc<Pool>) -> Result<Arc<Self>> {
        let function = pool.function();
        let dir = root.join(function.name.as_str());
        let store = Store::open(&dir).map_err(|source| Error::EventQueue {
            dir: dir.clone(),
            source,
        })?;
        for (flag, dest) in [
            ("--on-failure", &function.events.on_failure),
            ("--on-success", &function.events.on_success),
        ] {
            if let Some(dest) = dest {
                store::check_writable(dest).map_err(|reason| Error::Destination {
                    flag,
                    dir: dest.clone(),
                    reason,
                })?;
            }
        }
        let left = store.load().map_err(|source| Error::EventQueue {
            dir: dir.clone(),
            source,
        })?;
        if !left.is_empty() {
            tracing::warn!(
                "function `{}`: {} event(s) accepted by an earlier run are delivered now",
                function.name,
                left.len()
            );
        }
        // Checked: a stored file can claim any number, and a wrapped one would overwrite a
        // pending event.
        let next = match left.last() {
            None => 1,
            Some(e) => e.seq.checked_add(1).ok_or_else(|| Error::EventQueue {
                dir: dir.clone(),
                source: std::io::Error::other(format!(
                    "event {} claims sequence number {}, the last there is; move it out of the folder",
                    e.request_id, e.seq
                )),
            })?,
        };
        let pending = left
            .into_iter()
            .map(|e| (e.seq, without_payload(e)))
            .collect();
        Ok(Arc::new(Self {
            store: Arc::new(store),
            slots: Arc::new(Semaphore::new(function.config.concurrency.get())),
            pool,
            state: Mutex::new(State {
                pending,
                in_flight: HashSet::new(),
            }),
            seq: AtomicU64::new(next),
            wake: Notify::new(),
        }))
    }

    /// Accept an event: stored durably before this returns (the 202 waits for the fsync).
    pub(crate) async fn accept(
        &self,
        req: &InvokeRequest,
    ) -> std::result::Result<(), ServiceError> {
        let now = epoch_ms();
        let seq = self
            .seq
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_add(1))
            .map_err(|_| {
                ServiceError::service("the event queue's sequence numbers are exhausted")
            })?;
        let event = QueuedEvent {
            seq,
            request_id: req.request_id.clone(),
            payload: String::from_utf8_lossy(&req.payload).into_owned(),
            trace_id: req.trace_id.clone(),
            client_context: req.client_context.clone(),
            tenant_id: req.tenant_id.clone(),
            accepted_ms: now,
            attempts: 0,
            not_before_ms: now,
            unrecorded: None,
        };
        let (store, stored) = (self.store.clone(), event.clone());
        tokio::task::spawn_blocking(move || store.put(&stored))
            .await
            .map_err(|e| ServiceError::service(format!("cannot queue the event: {e}")))?
            .map_err(|e| ServiceError::service(format!("cannot queue the event: {e}")))?;
        lock(&self.state)
            .pending
            .insert(event.seq, without_payload(event));
        self.wake.notify_one();
        Ok(())
    }

    /// Deliver events as they fall due, forever (the task is aborted when serving stops).
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let now = epoch_ms();
            let (due, next) = {
                let st = lock(&self.state);
                let waiting = st
                    .pending
                    .values()
                    .filter(|e| !st.in_flight.contains(&e.seq));
                let due: Vec<u64> = waiting
                    .clone()
                    .filter(|e| e.not_before_ms <= now)
                    .map(|e| e.seq)
                    .collect();
                let next = waiting.map(|e| e.not_before_ms).filter(|t| *t > now).min();
                (due, next)
            };
            for seq in due {
                let Ok(slot) = self.slots.clone().acquire_owned().await else {
                    return;
                };
                let event = {
                    let mut st = lock(&self.state);
                    let event = st.pending.get(&seq).cloned();
                    if event.is_some() {
                        st.in_flight.insert(seq);
                    }
                    event
                };
                let Some(event) = event else {
                    drop(slot);
                    continue;
                };
                let queue = self.clone();
                tokio::spawn(async move {
                    queue.attempt(event).await;
                    lock(&queue.state).in_flight.remove(&seq);
                    drop(slot);
                    queue.wake.notify_one();
                });
            }
            let wait = next
                .map(|t| Duration::from_millis(t.saturating_sub(epoch_ms())))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt at `event`, and what follows from its outcome.
    async fn attempt(&self, queued: QueuedEvent) {
        let (store, seq) = (self.store.clone(), queued.seq);
        let mut event = match tokio::task::spawn_blocking(move || store.get(seq)).await {
            Ok(Ok(e)) => QueuedEvent {
                not_before_ms: queued.not_before_ms,
                attempts: queued.attempts,
                ..e
            },
            Ok(Err(e)) => {
                tracing::error!("cannot read queued event {}: {e}", queued.request_id);
                lock(&self.state).pending.remove(&seq);
                return;
            }
            Err(_) => return,
        };
        if event.unrecorded.is_some() {
            // Finished already: only its record is left to write.
            self.record_again(event).await;
            return;
        }
        let function = self.pool.function();
        let config = &function.events;
        let now = epoch_ms();
        if now.saturating_sub(event.accepted_ms) > config.max_event_age.as_millis() as u64 {
            self.finish(&event, Condition::EventAgeExceeded, None);
            return;
        }
        let Ok(admission) = self.pool.admit() else {
            // Throttled: back to the queue, not an attempt.
            self.back_off(event);
            return;
        };
        event.attempts += 1;
        if let Err(e) = self.persist(&event).await {
            tracing::error!(
                "cannot record attempt {} of event {}: {e}",
                event.attempts,
                event.request_id
            );
        }
        let reply = self
            .pool
            .invoke(
                admission,
                InvokeRequest {
                    request_id: event.request_id.clone(),
                    trace_id: event.trace_id.clone(),
                    client_context: event.client_context.clone(),
                    tenant_id: event.tenant_id.clone(),
                    payload: Bytes::from(event.payload.clone()),
                    want_tail: false,
                },
            )
            .await;
        // An async invoke's destination record holds the whole response.
        let failure = match reply.answer {
            Answer::Success { body, .. } => match body.collect(MAX_SYNC_RESPONSE).await {
                Ok(body) => {
                    return self.finish(&event, Condition::Success, Some((&body, false)));
                }
                Err(e) => Bytes::from(e.to_string()),
            },
            Answer::FunctionError { body, .. } => body,
            Answer::Service(_) => {
                // The invoke never ran (throttled, shutting down): not an attempt.
                event.attempts = event.attempts.saturating_sub(1);
                return self.back_off(event);
            }
        };
        if event.attempts > config.max_retry_attempts {
            self.finish(&event, Condition::RetriesExhausted, Some((&failure, true)));
        } else {
            // Lambda waits about a minute before the first retry, two before the
            // second (invocation-async.md); `retry_delay` scales both.
            let delay = config.retry_delay * event.attempts;
            event.not_before_ms = epoch_ms() + delay.as_millis() as u64;
            self.requeue(event).await;
        }
    }

    /// Put `event` back with exponential backoff from 1 s (throttling, service errors).
    fn back_off(&self, mut event: QueuedEvent) {
        let waited = epoch_ms().saturating_sub(event.accepted_ms).max(1000);
        let delay = Duration::from_millis(waited.min(MAX_BACKOFF.as_millis() as u64));
        event.not_before_ms = epoch_ms() + delay.as_millis() as u64;
        lock(&self.state)
            .pending
            .insert(event.seq, without_payload(event));
    }

    async fn requeue(&self, event: QueuedEvent) {
        if let Err(e) = self.persist(&event).await {
            tracing::error!("cannot requeue event {}: {e}", event.request_id);
        }
        lock(&self.state)
            .pending
            .insert(event.seq, without_payload(event));
    }

    async fn persist(&self, event: &QueuedEvent) -> std::io::Result<()> {
        let (store, stored) = (self.store.clone(), event.clone());
        tokio::task::spawn_blocking(move || store.put(&stored))
            .await
            .map_err(std::io::Error::other)?
    }

    /// The event is done: its record to the destination, then out of the queue.
    fn finish(&self, event: &QueuedEvent, condition: Condition, response: Option<(&[u8], bool)>) {
        let function = self.pool.function();
        if condition != Condition::Success {
            tracing::warn!(
                "event {} to `{}` dropped ({condition:?}, {} attempt(s))",
                event.request_id,
                function.name,
                event.attempts
            );
        }
        let success = condition == Condition::Success;
        if self.destination(success).is_some() {
            let timestamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
            let record = record::record(condition, &function.arn(), event, response, &timestamp);
            let unrecorded = Unrecorded {
                success,
                record,
                failures: 0,
            };
            if let Err(e) = self.write_record(event, &unrecorded) {
                self.record_later(event.clone(), unrecorded, &e);
                return;
            }
        }
        self.forget(event);
    }

    /// The destination folder for a successful or a failed event, if one is configured.
    fn destination(&self, success: bool) -> Option<std::path::PathBuf> {
        let events = &self.pool.function().events;
        match success {
            true => events.on_success.clone(),
            false => events.on_failure.clone(),
        }
    }

    fn write_record(&self, event: &QueuedEvent, unrecorded: &Unrecorded) -> std::io::Result<()> {
        let Some(dir) = self.destination(unrecorded.success) else {
            return Ok(());
        };
        let name = format!("{}-{}.json", epoch_ms(), event.request_id);
        let bytes = serde_json::to_vec_pretty(&unrecorded.record).map_err(std::io::Error::other)?;
        store::write_durably(&dir, &name, &bytes)
    }

    /// A record that could not be written: the event stays queued with the record, not to be
    /// invoked again, and the write is tried again after a backoff (1 s, doubling, at most
    /// [`MAX_BACKOFF`]) — never at once, or a full disk would turn into a storm.
    fn record_later(&self, mut event: QueuedEvent, mut unrecorded: Unrecorded, e: &std::io::Error) {
        let dir = self.destination(unrecorded.success).unwrap_or_default();
        unrecorded.failures = unrecorded.failures.saturating_add(1);
        let delay = Duration::from_secs(1)
            .saturating_mul(1u32 << unrecorded.failures.min(16).saturating_sub(1))
            .min(MAX_BACKOFF);
        tracing::error!(
            "cannot write the record of event {} to {}: {e}; the event is kept and its record tried again in {} s",
            event.request_id,
            dir.display(),
            delay.as_secs()
        );
        event.not_before_ms = epoch_ms() + delay.as_millis() as u64;
        event.unrecorded = Some(unrecorded);
        if let Err(e) = self.store.put(&event) {
            tracing::error!("cannot requeue event {}: {e}", event.request_id);
        }
        lock(&self.state)
            .pending
            .insert(event.seq, without_payload(event));
    }

    /// Another try at a finished event's record.
    async fn record_again(&self, event: QueuedEvent) {
        let Some(unrecorded) = event.unrecorded.clone() else {
            return;
        };
        match self.write_record(&event, &unrecorded) {
            Ok(()) => self.forget(&event),
            Err(e) => self.record_later(event, unrecorded, &e),
        }
    }

    /// Out of the queue, on disk and in memory.
    fn forget(&self, event: &QueuedEvent) {
        if let Err(e) = self.store.remove(event.seq) {
            tracing::error!("cannot remove finished event {}: {e}", event.request_id);
        }
        lock(&self.state).pending.remove(&event.seq);
    }
}
