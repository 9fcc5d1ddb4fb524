//! One environment's Telemetry API subscribers (runtime-api.md §3.1): what each asked for,
//! its buffer, and the batches lamina's init delivers inside the environment (where
//! `sandbox.localdomain` is the environment's own loopback; the emulator cannot reach a
//! subscriber's port from the host on every engine, the init always can).
//!
//! Records come from the environment's log ([`Telemetry::observe`]): platform events as the
//! Telemetry API's records (one source with the text log), the function's output as
//! `function` records, one per line. A subscriber's buffer goes out at `maxItems`,
//! `maxBytes`, or `timeoutMs` after its first record; one that cannot keep up loses records,
//! and its next batch begins with `platform.logsDropped` saying how many.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use lamina_runtime_api::body::RuntimeApiError;
use lamina_runtime_api::telemetry::{self, Destination, Subscription};
use tokio::sync::Notify;

use crate::logs::LogEvent;
use crate::sync::lock;

/// A subscriber's buffer holds at most this many times its batch limits; past that, records
/// are dropped (and counted).
const BUFFER_BATCHES: usize = 4;

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
    /// What init has logged so far (kind, record): a subscriber, who subscribes during
    /// init, still gets `platform.initStart` and init's own lines.
    backlog: Vec<(&'static str, String)>,
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
    /// Subscribe extension `name` (a second subscription replaces its first).
    pub(crate) fn subscribe(
        &self,
        name: &str,
        subscription: Subscription,
    ) -> Result<(), RuntimeApiError> {
        let mut inner = lock(&self.inner);
        if inner.closed {
            return Err(telemetry::subscription_closed());
        }
        inner.subscribers.retain(|s| s.name != name);
        let mut subscriber = Subscriber {
            name: name.to_owned(),
            subscription,
            queue: VecDeque::new(),
            bytes: 0,
            oldest: None,
            dropped_records: 0,
            dropped_bytes: 0,
        };
        for (kind, json) in &inner.backlog {
            subscriber.take(kind, json);
        }
        let due = !subscriber.queue.is_empty();
        inner.subscribers.push(subscriber);
        drop(inner);
        if due {
            self.changed.notify_one();
        }
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

    /// Take a piece of the environment's log.
    pub(crate) fn observe(&self, event: &LogEvent) {
        if self.idle.load(Ordering::Relaxed) {
            return;
        }
        match event {
            LogEvent::Platform { record, .. } => {
                if let Ok(json) = serde_json::to_string(record.as_ref()) {
                    self.push("platform", json);
                }
            }
            LogEvent::Output { bytes, .. } => {
                let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
                for line in String::from_utf8_lossy(bytes).lines() {
                    let line = line.trim_end_matches('\r');
                    if line.is_empty() {
                        continue;
                    }
                    let json =
                        serde_json::json!({"time": time, "type": "function", "record": line});
                    self.push("function", json.to_string());
                }
            }
        }
    }

    fn push(&self, kind: &'static str, json: String) {
        let mut inner = lock(&self.inner);
        let mut pushed = false;
        for s in inner.subscribers.iter_mut() {
            pushed |= s.take(kind, &json);
        }
        if !inner.closed {
            inner.backlog.push((kind, json));
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
    /// Buffer a record of `kind` if this subscriber asked for that kind; `false` if not
    /// (or dropped, the buffer being full: counted for `platform.logsDropped`).
    fn take(&mut self, kind: &str, json: &str) -> bool {
        if !self.subscription.types.iter().any(|t| t == kind) {
            return false;
        }
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
        self.queue.push_back(json.to_owned());
        true
    }
}

/// Take up to one batch's worth of `s`'s buffer, behind a `platform.logsDropped` when
/// records were dropped since its last batch.
fn take_batch(s: &mut Subscriber) -> Batch {
    let b = s.subscription.buffering;
    let mut items = Vec::new();
    if s.dropped_records > 0 {
        let dropped = serde_json::json!({
            "time": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            "type": "platform.logsDropped",
            "record": {
                "droppedBytes": s.dropped_bytes,
                "droppedRecords": s.dropped_records,
                "reason": "Some logs were dropped because the downstream consumer is slower than the logs production rate",
            },
        });
        items.push(dropped.to_string());
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
mod tests {
    use super::*;
    use bytes::Bytes;

    fn subscribe(t: &Telemetry, types: &str, timeout_ms: u64) {
        let body = format!(
            r#"{{"schemaVersion":"2022-12-13","types":{types},"buffering":{{"timeoutMs":{timeout_ms},"maxItems":1000}},"destination":{{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/t"}}}}"#
        );
        t.subscribe("logger", Subscription::parse(body.as_bytes()).unwrap())
            .unwrap();
    }

    fn output(text: &'static str) -> LogEvent {
        LogEvent::Output {
            function: "f".into(),
            bytes: Bytes::from_static(text.as_bytes()),
        }
    }

    #[tokio::test]
    async fn function_lines_go_out_as_records_once_the_buffer_times_out() {
        let t = Telemetry::default();
        subscribe(&t, r#"["function"]"#, 25);
        t.observe(&output("one\ntwo\n"));
        let batch = tokio::time::timeout(std::time::Duration::from_secs(2), t.next_batch())
            .await
            .unwrap();
        assert_eq!(
            batch.destination,
            Destination::Http {
                port: 4243,
                path: "/t".into()
            }
        );
        let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
        let lines: Vec<&str> = records
            .iter()
            .map(|r| r["record"].as_str().unwrap())
            .collect();
        assert_eq!(lines, ["one", "two"]);
        assert!(records.iter().all(|r| r["type"] == "function"));
    }

    #[tokio::test]
    async fn a_subscriber_gets_what_init_logged_before_it_subscribed() {
        let t = Telemetry::default();
        t.observe(&output("init line\n"));
        subscribe(&t, r#"["function"]"#, 25);
        t.close();
        let batch = t.next_batch().await;
        let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
        assert_eq!(records[0]["record"], "init line");
    }

    #[test]
    fn no_subscription_after_init_and_nothing_buffered_without_one() {
        let t = Telemetry::default();
        t.observe(&output("lost\n"));
        t.close();
        let body = br#"{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"TCP","port":4243}}"#;
        let e = t
            .subscribe("late", Subscription::parse(body).unwrap())
            .unwrap_err();
        assert_eq!(e.error_type, "Telemetry.SubscriptionClosed");
    }

    #[tokio::test]
    async fn a_subscriber_that_cannot_keep_up_is_told_how_much_it_lost() {
        let t = Telemetry::default();
        subscribe(&t, r#"["function"]"#, 25);
        for _ in 0..(1000 * BUFFER_BATCHES + 7) {
            t.observe(&output("x\n"));
        }
        let batch = t.next_batch().await;
        let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
        assert_eq!(records[0]["type"], "platform.logsDropped");
        assert_eq!(records[0]["record"]["droppedRecords"], 7);
        assert_eq!(records.len(), 1001, "the notice, then one batch of 1,000");
    }
}
