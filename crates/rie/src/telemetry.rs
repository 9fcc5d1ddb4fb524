//! One environment's Telemetry API and Logs API subscribers (runtime-api.md §3.1, §3.4): what
//! each asked for, its buffer, and the batches lamina's init delivers inside the environment
//! (where `sandbox.localdomain` is the environment's own loopback; the emulator cannot reach a
//! subscriber's port from the host on every engine, the init always can).
//!
//! Records come from the environment's log ([`Telemetry::observe`]) and from its APIs
//! ([`Telemetry::platform`]: an extension registered, subscribed): platform events as data
//! (one source with the text log), rendered for each subscriber's API and schema version
//! (`lamina_runtime_api::platform::logs_api`), and the function's output as `function`
//! records, one per line. A subscriber's buffer goes out at `maxItems`, `maxBytes`, or
//! `timeoutMs` after its first record; one that cannot keep up loses records, and its next
//! batch begins with `platform.logsDropped` saying how many.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use lamina_runtime_api::body::RuntimeApiError;
use lamina_runtime_api::platform::{
    logs_api, LogsDropped, PlatformEvent, PlatformRecord, Subscribed,
};
use lamina_runtime_api::telemetry::{self, Api, Destination, Subscription};
use tokio::sync::Notify;

use crate::logs::LogEvent;
use crate::sync::lock;

/// A subscriber's buffer holds at most this many times its batch limits; past that, records
/// are dropped (and counted).
const BUFFER_BATCHES: usize = 4;

/// A piece of the environment's log, before it is rendered for a subscriber's API.
#[derive(Clone)]
enum Item {
    /// A platform event.
    Platform(Arc<PlatformRecord>),
    /// A line of output: `function` (the runtime's) or `extension` (extension `from`'s).
    Line {
        kind: &'static str,
        from: Option<Arc<str>>,
        time: Arc<str>,
        text: Arc<str>,
    },
}

struct Subscriber {
    name: String,
    subscription: Subscription,
    queue: VecDeque<String>,
    bytes: usize,
    oldest: Option<Instant>,
    dropped_records: u64,
    dropped_bytes: u64,
}

#[derive(Default)]
struct Inner {
    closed: bool,
    subscribers: Vec<Subscriber>,
    /// What init has logged so far: a subscriber, who subscribes during init, still gets
    /// `platform.initStart` and init's own lines.
    backlog: Vec<Item>,
}

/// A batch for one subscriber: where it goes and its body (a JSON array for HTTP, NDJSON
/// for TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub(crate) destination: Destination,
    pub(crate) body: String,
}

/// One environment's subscribers.
#[derive(Default)]
pub(crate) struct Telemetry {
    inner: Mutex<Inner>,
    /// Nothing to do: init is over and nobody subscribed.
    idle: AtomicBool,
    changed: Notify,
}

impl Telemetry {
    /// Subscribe extension `name` (a second subscription through the same API replaces its
    /// first; one through the other API is refused, §3.4).
    pub(crate) fn subscribe(
        &self,
        name: &str,
        subscription: Subscription,
    ) -> Result<(), RuntimeApiError> {
        let api = subscription.api;
        let mut inner = lock(&self.inner);
        if inner.closed {
            return Err(telemetry::subscription_closed(api));
        }
        if let Some(had) = inner
            .subscribers
            .iter()
            .find(|s| s.name == name && s.subscription.api != api)
        {
            return Err(telemetry::other_api_subscribed(name, had.subscription.api));
        }
        inner.subscribers.retain(|s| s.name != name);
        let types = subscription.types.clone();
        let mut subscriber = Subscriber {
            name: name.to_owned(),
            subscription,
            queue: VecDeque::new(),
            bytes: 0,
            oldest: None,
            dropped_records: 0,
            dropped_bytes: 0,
        };
        for item in &inner.backlog {
            subscriber.take(item);
        }
        inner.subscribers.push(subscriber);
        drop(inner);
        let subscribed = Subscribed {
            name: name.to_owned(),
            state: "Subscribed".to_owned(),
            types,
        };
        self.platform(match api {
            Api::Telemetry => PlatformEvent::TelemetrySubscription(subscribed),
            Api::Logs => PlatformEvent::LogsSubscription(subscribed),
        });
        Ok(())
    }

    /// Init is over: no more subscriptions (§3.1).
    pub(crate) fn close(&self) {
        let mut inner = lock(&self.inner);
        inner.closed = true;
        inner.backlog = Vec::new();
        self.idle
            .store(inner.subscribers.is_empty(), Ordering::SeqCst);
    }

    /// A platform event with no line in the text log (an extension registered, subscribed).
    pub(crate) fn platform(&self, event: PlatformEvent) {
        if !self.idle.load(Ordering::Relaxed) {
            self.push(Item::Platform(Arc::new(PlatformRecord::now(event))));
        }
    }

    /// Take a piece of the environment's log.
    pub(crate) fn observe(&self, event: &LogEvent) {
        if self.idle.load(Ordering::Relaxed) {
            return;
        }
        match event {
            LogEvent::Platform { record, .. } => self.push(Item::Platform(record.clone())),
            LogEvent::Output {
                bytes, extension, ..
            } => self.lines(extension, bytes),
        }
    }

    /// `bytes` of output of the function's runtime (`from` `None`) or of an extension, as
    /// one `function` or `extension` record per line.
    fn lines(&self, from: &Option<Arc<str>>, bytes: &[u8]) {
        let kind = if from.is_some() {
            "extension"
        } else {
            "function"
        };
        let time: Arc<str> = humantime::format_rfc3339_millis(SystemTime::now())
            .to_string()
            .into();
        for line in String::from_utf8_lossy(bytes).lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            self.push(Item::Line {
                kind,
                from: from.clone(),
                time: time.clone(),
                text: line.into(),
            });
        }
    }

    fn push(&self, item: Item) {
        let mut inner = lock(&self.inner);
        let mut pushed = false;
        for s in inner.subscribers.iter_mut() {
            pushed |= s.take(&item);
        }
        if !inner.closed {
            inner.backlog.push(item);
        }
        drop(inner);
        if pushed {
            self.changed.notify_one();
        }
    }
    /// The next batch due to a subscriber, waiting until one is.
    pub(crate) async fn next_batch(&self) -> Batch {
        loop {
            let notified = self.changed.notified();
            let wake = {
                let mut inner = lock(&self.inner);
                let now = Instant::now();
                let mut earliest: Option<Instant> = None;
                let mut due = None;
                for (i, s) in inner.subscribers.iter().enumerate() {
                    let Some(oldest) = s.oldest else { continue };
                    let b = s.subscription.buffering;
                    let at = oldest + std::time::Duration::from_millis(b.timeout_ms);
                    if s.queue.len() >= b.max_items || s.bytes >= b.max_bytes || at <= now {
                        due = Some(i);
                        break;
                    }
                    earliest = Some(earliest.map_or(at, |e| e.min(at)));
                }
                if let Some(i) = due {
                    return take_batch(&mut inner.subscribers[i]);
                }
                earliest
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

impl Subscriber {
    /// Buffer `item`'s records if this subscriber asked for their kind; `false` if none
    /// (or dropped, the buffer being full: counted for `platform.logsDropped`).
    fn take(&mut self, item: &Item) -> bool {
        let wants = |kind: &str| self.subscription.types.iter().any(|t| t == kind);
        match item {
            Item::Platform(record) => {
                if !wants("platform") {
                    return false;
                }
                let s = &self.subscription;
                let mut taken = false;
                for json in logs_api::records(record, s.api, &s.schema_version) {
                    taken |= self.buffer(json);
                }
                taken
            }
            Item::Line {
                kind,
                from,
                time,
                text,
            } => {
                // A subscriber's own output is not fed back to it (§3.1).
                if !wants(kind) || from.as_deref() == Some(self.name.as_str()) {
                    return false;
                }
                let json = serde_json::json!({"time": &**time, "type": kind, "record": &**text});
                self.buffer(json.to_string())
            }
        }
    }

    fn buffer(&mut self, json: String) -> bool {
        let b = self.subscription.buffering;
        if self.queue.len() >= b.max_items * BUFFER_BATCHES
            || self.bytes + json.len() > b.max_bytes * BUFFER_BATCHES
        {
            self.dropped_records += 1;
            self.dropped_bytes += json.len() as u64;
            return false;
        }
        self.bytes += json.len();
        self.oldest.get_or_insert_with(Instant::now);
        self.queue.push_back(json);
        true
    }
}

/// Take up to one batch's worth of `s`'s buffer, behind a `platform.logsDropped` when
/// records were dropped since its last batch.
fn take_batch(s: &mut Subscriber) -> Batch {
    let b = s.subscription.buffering;
    let mut items = Vec::new();
    if s.dropped_records > 0 {
        let dropped = PlatformRecord::now(PlatformEvent::LogsDropped(LogsDropped::too_slow(
            s.dropped_records,
            s.dropped_bytes,
        )));
        let sub = &s.subscription;
        items.extend(logs_api::records(&dropped, sub.api, &sub.schema_version));
        s.dropped_records = 0;
        s.dropped_bytes = 0;
    }
    let (mut size, mut taken) = (0, 0);
    while let Some(next) = s.queue.front() {
        if taken >= b.max_items || (size > 0 && size + next.len() > b.max_bytes) {
            break;
        }
        size += next.len();
        taken += 1;
        if let Some(item) = s.queue.pop_front() {
            s.bytes -= item.len();
            items.push(item);
        }
    }
    s.oldest = if s.queue.is_empty() {
        None
    } else {
        Some(Instant::now())
    };
    let body = match s.subscription.destination {
        Destination::Http { .. } => format!("[{}]", items.join(",")),
        Destination::Tcp { .. } => items.iter().map(|i| format!("{i}\n")).collect(),
    };
    Batch {
        destination: s.subscription.destination.clone(),
        body,
    }
}

#[cfg(test)]
mod tests;
