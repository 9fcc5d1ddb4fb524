//! The pump's framing, line assembly and output marks, driven through its channels.

use super::lines::{LineBuffer, MAX_PARTIAL_LINE};
use super::*;
use lamina_runtime_api::logs as wire;

#[test]
fn timestamps_have_the_cloud_shape() {
    let now = iso8601_now();
    assert_eq!(now.len(), "2024-05-01T12:00:00.123Z".len(), "{now}");
    assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    let stream = log_stream_name();
    assert_eq!(&stream[4..5], "/", "{stream}");
    assert!(
        stream[10..].starts_with("/[$LATEST]") && stream.len() == 10 + 10 + 32,
        "{stream}"
    );
}

#[test]
fn output_goes_out_in_whole_lines() {
    let mut b = LineBuffer::default();
    assert_eq!(b.push(b"ab"), None);
    assert_eq!(b.push(b"c\nde").as_deref(), Some(&b"abc\n"[..]));
    assert_eq!(b.push(b"f\ng\nh").as_deref(), Some(&b"def\ng\n"[..]));
    assert_eq!(b.flush().as_deref(), Some(&b"h\n"[..]));
    assert_eq!(b.flush(), None);
    let long = vec![b'x'; MAX_PARTIAL_LINE];
    assert_eq!(b.push(&long).map(|l| l.len()), Some(MAX_PARTIAL_LINE));
}

#[test]
fn a_line_half_written_to_one_stream_is_not_glued_to_the_other() {
    let mut p = Partials::default();
    assert_eq!(p.push(Stream::Stdout, b"out 4"), None);
    assert_eq!(
        p.push(Stream::Stderr, b"err 0\n").as_deref(),
        Some(&b"err 0\n"[..])
    );
    assert_eq!(
        p.push(Stream::Stdout, b"\n").as_deref(),
        Some(&b"out 4\n"[..])
    );
    p.push(Stream::Stdout, b"a");
    p.push(Stream::Stderr, b"b");
    assert_eq!(p.flush().as_deref(), Some(&b"a\nb\n"[..]));
}

struct NoMemory;
impl SandboxHandle for NoMemory {
    fn id(&self) -> &str {
        "test"
    }
    fn wait(&self) -> futures_util::future::BoxFuture<'_, crate::sandbox::ExitStatus> {
        Box::pin(futures_util::future::pending())
    }
    fn kill(&self) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn max_memory_used_bytes(&self) -> futures_util::future::BoxFuture<'_, Option<u64>> {
        Box::pin(async { None })
    }
}

fn end_of(id: &str) -> (PumpMsg, oneshot::Receiver<()>) {
    end_marked(id, None)
}

/// The end of invoke `id` whose runtime said which of (stdout, stderr) carry its mark.
fn end_marked(id: &str, output_marks: Option<(bool, bool)>) -> (PumpMsg, oneshot::Receiver<()>) {
    let (ended, gate) = oneshot::channel();
    let report = Report::new(id, 1.0, 128, lamina_runtime_api::platform::Status::Success);
    let end = EndOfInvoke {
        report,
        handle: Arc::new(NoMemory),
        ended,
        tail: None,
        output_marks,
    };
    (PumpMsg::End(Box::new(end)), gate)
}

/// Fail unless `first` and `then` are both in `text`, `first` earlier.
fn assert_before(text: &str, first: &str, then: &str) {
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
    };
    assert!(
        at(first) < at(then),
        "{first:?} is not before {then:?} in:\n{text}"
    );
}

/// The pump's "invoke `id` started".
fn start(id: &str) -> PumpMsg {
    PumpMsg::Start {
        request_id: id.into(),
        tenant_id: None,
    }
}

/// A pump whose output is fed by hand: (the output's sender, the pump, its log).
fn pump_on_channels() -> (
    mpsc::UnboundedSender<(Stream, Bytes)>,
    mpsc::UnboundedSender<PumpMsg>,
    mpsc::UnboundedReceiver<LogEvent>,
) {
    pump_styled(LogStyle::default(), false)
}

/// [`pump_on_channels`] writing in `style`, for overlapping invokes when `concurrent`.
fn pump_styled(
    style: LogStyle,
    concurrent: bool,
) -> (
    mpsc::UnboundedSender<(Stream, Bytes)>,
    mpsc::UnboundedSender<PumpMsg>,
    mpsc::UnboundedReceiver<LogEvent>,
) {
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<(Stream, Bytes)>();
    let output: OutputStream = Box::pin(futures_util::stream::poll_fn(move |cx| {
        out_rx.poll_recv(cx)
    }));
    let (sink, logs) = LogSink::channel();
    let pump = spawn_pump(
        "fn".into(),
        sink,
        output,
        Duration::from_millis(2),
        style,
        concurrent,
    );
    (out_tx, pump, logs)
}

/// The log as text, read until it holds `needle` (at most 5 s between events).
async fn log_until(logs: &mut mpsc::UnboundedReceiver<LogEvent>, needle: &str) -> String {
    let mut text = String::new();
    while !text.contains(needle) {
        match tokio::time::timeout(Duration::from_secs(5), logs.recv()).await {
            Ok(Some(LogEvent::Platform { lines, .. })) => {
                lines.iter().for_each(|l| text.push_str(&format!("{l}\n")))
            }
            Ok(Some(LogEvent::Output { bytes, .. })) => {
                text.push_str(&String::from_utf8_lossy(&bytes))
            }
            _ => panic!("the log stopped before {needle:?}:\n{text}"),
        }
    }
    text
}

#[tokio::test]
async fn the_next_invokes_output_arriving_with_a_mark_still_lands_after_its_start() {
    let (out_tx, pump, mut logs) = pump_on_channels();
    let send = |stream, text: String| out_tx.send((stream, Bytes::from(text))).unwrap();
    let [m0, m1, m2] = ["id-0", "id-1", "id-2"].map(wire::output_mark);

    // Invoke 0 shows the pump that this runtime marks its output.
    pump.send(start("id-0")).unwrap();
    send(Stream::Stdout, m0.clone());
    send(Stream::Stderr, m0);
    let (end, gate) = end_of("id-0");
    pump.send(end).unwrap();
    gate.await.unwrap();

    // Invoke 1 ends with its marks not yet all read; the next event goes at once (the
    // gate opens before END), and invoke 2's output is already in the streams, behind
    // invoke 1's marks, before its START is even asked for.
    pump.send(start("id-1")).unwrap();
    send(Stream::Stdout, format!("one\n{m1}two\n{m2}"));
    send(Stream::Stderr, "one err\n".into());
    let (end, gate) = end_of("id-1");
    pump.send(end).unwrap();
    gate.await.unwrap();
    pump.send(start("id-2")).unwrap();
    send(Stream::Stderr, format!("{m1}two err\n{m2}"));
    let (end, gate) = end_of("id-2");
    pump.send(end).unwrap();
    gate.await.unwrap();

    let text = log_until(&mut logs, "REPORT RequestId: id-2").await;
    assert_before(&text, "START RequestId: id-1", "one\n");
    assert_before(&text, "one err\n", "END RequestId: id-1");
    assert_before(&text, "REPORT RequestId: id-1", "START RequestId: id-2");
    assert_before(&text, "START RequestId: id-2", "two\n");
    assert_before(&text, "START RequestId: id-2", "two err\n");
    assert_before(&text, "two err\n", "END RequestId: id-2");
    assert!(!text.contains('\u{1e}'), "a mark reached the log:\n{text}");
}

#[tokio::test]
async fn output_held_past_a_mark_is_not_lost_when_the_runtime_exits() {
    let (out_tx, pump, mut logs) = pump_on_channels();
    let mark = wire::output_mark("id-0");
    pump.send(PumpMsg::Start {
        request_id: "id-0".into(),
        tenant_id: None,
    })
    .unwrap();
    out_tx
        .send((Stream::Stdout, Bytes::from(mark.clone())))
        .unwrap();
    out_tx.send((Stream::Stderr, Bytes::from(mark))).unwrap();
    let (end, gate) = end_of("id-0");
    pump.send(end).unwrap();
    gate.await.unwrap();
    // Invoke 1's stdout mark, then a last line without its newline, then the runtime is
    // gone before its stderr mark.
    pump.send(PumpMsg::Start {
        request_id: "id-1".into(),
        tenant_id: None,
    })
    .unwrap();
    let m1 = wire::output_mark("id-1");
    out_tx
        .send((Stream::Stdout, Bytes::from(format!("{m1}last words"))))
        .unwrap();
    let (end, _gate) = end_of("id-1");
    pump.send(end).unwrap();
    drop(out_tx);

    let text = log_until(&mut logs, "last words").await;
    assert!(text.ends_with("last words\n"), "{text}");
    assert!(
        text.find("REPORT RequestId: id-1") < text.find("last words"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stream_whose_mark_was_left_out_holds_the_next_invokes_output_until_end() {
    let (out_tx, pump, mut logs) = pump_on_channels();
    let send = |stream, text: String| out_tx.send((stream, Bytes::from(text))).unwrap();
    // A quiet invoke: no marks at all, and END needs none.
    pump.send(start("id-0")).unwrap();
    let (end, gate) = end_marked("id-0", Some((false, false)));
    pump.send(end).unwrap();
    gate.await.unwrap();
    let text = log_until(&mut logs, "REPORT RequestId: id-0").await;
    assert!(text.contains("END RequestId: id-0"), "{text}");

    // Invoke 1 printed on stdout only; its stdout mark is still on its way when invoke 2's
    // stderr output arrives: that goes after invoke 1's END, in invoke 2.
    pump.send(start("id-1")).unwrap();
    let (end, gate) = end_marked("id-1", Some((true, false)));
    pump.send(end).unwrap();
    gate.await.unwrap();
    pump.send(start("id-2")).unwrap();
    send(Stream::Stderr, "two err\n".into());
    send(
        Stream::Stdout,
        format!("one\n{}", wire::output_mark("id-1")),
    );
    let (end, gate) = end_marked("id-2", Some((false, true)));
    pump.send(end).unwrap();
    gate.await.unwrap();
    send(Stream::Stderr, wire::output_mark("id-2"));

    let text = log_until(&mut logs, "REPORT RequestId: id-2").await;
    assert_before(&text, "START RequestId: id-1", "one\n");
    assert_before(&text, "one\n", "END RequestId: id-1");
    assert_before(&text, "START RequestId: id-2", "two err\n");
    assert_before(&text, "two err\n", "END RequestId: id-2");
    assert!(!text.contains('\u{1e}'), "a mark reached the log:\n{text}");
}

/// Output held past one invoke's mark can carry the next invoke's mark and the one after's
/// output: handed back after the next `START` but before that invoke's end is known, its
/// mark still closes the stream (the load test saw invoke 23's lines inside invoke 22).
#[tokio::test]
async fn held_output_carrying_the_next_invokes_mark_is_held_again_at_that_mark() {
    let (out_tx, pump, mut logs) = pump_on_channels();
    let send = |stream, text: String| out_tx.send((stream, Bytes::from(text))).unwrap();
    let [m1, m2, m3] = ["id-1", "id-2", "id-3"].map(wire::output_mark);

    pump.send(start("id-1")).unwrap();
    send(Stream::Stdout, format!("one\n{m1}"));
    let (end, gate) = end_marked("id-1", Some((true, true)));
    pump.send(end).unwrap();
    gate.await.unwrap();
    // Invoke 2 runs, and invoke 3 after it, before the pump hears invoke 2 ended: all of
    // stderr arrives in one chunk while invoke 1 still waits for its stderr mark.
    pump.send(start("id-2")).unwrap();
    send(
        Stream::Stderr,
        format!("one err\n{m1}two err\n{m2}three err\n{m3}"),
    );
    let mut text = log_until(&mut logs, "START RequestId: id-2").await;
    let (end, gate) = end_marked("id-2", Some((true, true)));
    pump.send(end).unwrap();
    gate.await.unwrap();
    pump.send(start("id-3")).unwrap();
    send(Stream::Stdout, format!("two\n{m2}three\n{m3}"));
    let (end, gate) = end_marked("id-3", Some((true, true)));
    pump.send(end).unwrap();
    gate.await.unwrap();

    text += &log_until(&mut logs, "REPORT RequestId: id-3").await;
    for (n, id) in [("one", "id-1"), ("two", "id-2"), ("three", "id-3")] {
        for line in [format!("{n}\n"), format!("{n} err\n")] {
            assert_before(&text, &format!("START RequestId: {id}"), &line);
            assert_before(&text, &line, &format!("END RequestId: {id}"));
        }
    }
    assert!(!text.contains('\u{1e}'), "a mark reached the log:\n{text}");
}

/// On a loaded machine Docker's log pipeline delivers one stream well after the other; a
/// mark the runtime said it wrote is waited for past [`MAX_SETTLE`] (tests/output_marks.rs
/// saw a whole stream land after `END` under load).
#[tokio::test]
async fn a_mark_the_runtime_said_it_wrote_is_waited_for_past_the_settle_bound() {
    let (out_tx, pump, mut logs) = pump_on_channels();
    let send = |stream, text: String| out_tx.send((stream, Bytes::from(text))).unwrap();
    let mark = wire::output_mark("id-0");
    pump.send(start("id-0")).unwrap();
    send(Stream::Stdout, format!("out\n{mark}"));
    let (end, gate) = end_marked("id-0", Some((true, true)));
    pump.send(end).unwrap();
    gate.await.unwrap();
    tokio::time::sleep(MAX_SETTLE * 3).await;
    send(Stream::Stderr, format!("late err\n{mark}"));

    let text = log_until(&mut logs, "REPORT RequestId: id-0").await;
    assert_before(&text, "late err\n", "END RequestId: id-0");
    assert!(!text.contains('\u{1e}'), "a mark reached the log:\n{text}");
}

#[test]
fn stream_name_shape() {
    let n = log_stream_name();
    let (date, rest) = n.split_at(11);
    assert_eq!(date.matches('/').count(), 3, "{n}");
    let hex = rest.strip_prefix("[$LATEST]").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn overlapping_invokes_get_their_own_records_and_tails_without_waiting_for_each_other() {
    let execution = lamina_runtime_api::function::Execution::resolve(
        Some("8".parse().unwrap()),
        None,
        None,
        None,
        None,
    )
    .unwrap();
    let (out_tx, pump, mut logs) = pump_styled(LogStyle::of(&execution), true);
    let line = |id: &str, level: &str, text: &str| {
        format!("{{\"level\":\"{level}\",\"requestId\":\"{id}\",\"message\":\"{text}\"}}\n")
    };
    pump.send(start("a")).unwrap();
    pump.send(start("b")).unwrap();
    // Half of a's line, then b's whole line on the other stream, then the rest of a's.
    let whole = line("a", "INFO", "from a");
    let (first, rest) = whole.split_at(10);
    out_tx
        .send((Stream::Stdout, Bytes::from(first.to_owned())))
        .unwrap();
    out_tx
        .send((Stream::Stderr, Bytes::from(line("b", "INFO", "from b"))))
        .unwrap();
    out_tx
        .send((Stream::Stdout, Bytes::from(rest.to_owned())))
        .unwrap();
    out_tx
        .send((Stream::Stdout, Bytes::from(line("b", "DEBUG", "dropped"))))
        .unwrap();
    log_until(&mut logs, "from a").await;
    // b ends first, with its tail; a's END is not waited for.
    let (ended, gate) = oneshot::channel();
    let (tail_tx, tail) = oneshot::channel();
    let end = EndOfInvoke {
        report: Report::new("b", 1.0, 128, lamina_runtime_api::platform::Status::Success),
        handle: Arc::new(NoMemory),
        ended,
        tail: Some(tail_tx),
        output_marks: None,
    };
    pump.send(PumpMsg::End(Box::new(end))).unwrap();
    gate.await.unwrap();
    let tail = String::from_utf8(tail.await.unwrap().to_vec()).unwrap();
    assert!(
        tail.contains("from b") && !tail.contains("from a"),
        "{tail}"
    );
    assert!(!tail.contains("dropped"), "below INFO: {tail}");
    let records: Vec<serde_json::Value> = tail
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.get("type").is_some())
        .collect();
    let types: Vec<&str> = records.iter().filter_map(|r| r["type"].as_str()).collect();
    assert_eq!(types, ["platform.start", "platform.report"], "{tail}");
    assert_eq!(records[1]["record"]["requestId"], "b");
}
