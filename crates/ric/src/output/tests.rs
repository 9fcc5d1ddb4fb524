//! Mark scanning over streams cut anywhere, and what the forwarder passes on.

use super::*;
use lamina_runtime_api::logs::output_mark;

/// Everything the scanner passes on (forwarded marks included) and the marks it saw, for
/// `stream` cut into pieces of `cut` bytes.
fn scan(stream: &[u8], cut: usize) -> (Vec<u8>, Vec<(String, bool)>) {
    let mut s = Scanner::default();
    let (mut passed, mut marks) = (Vec::new(), Vec::new());
    let mut take = |pieces: Vec<Piece>, passed: &mut Vec<u8>| {
        for p in pieces {
            match p {
                Piece::Output(b) => passed.extend(b),
                Piece::Mark {
                    request_id,
                    raw,
                    forward,
                } => {
                    if forward {
                        passed.extend(raw);
                    }
                    marks.push((request_id, forward));
                }
            }
        }
    };
    for chunk in stream.chunks(cut) {
        take(s.push(chunk), &mut passed);
    }
    passed.extend(s.finish());
    (passed, marks)
}

#[test]
fn a_mark_is_passed_on_only_after_output_and_found_wherever_the_reads_cut() {
    let (m1, m2, m3) = (output_mark("a"), output_mark("b"), output_mark("c"));
    let stream = format!("{m1}hello\n{m2}{m3}half{}", "\u{1e}");
    for cut in 1..stream.len() {
        let (passed, marks) = scan(stream.as_bytes(), cut);
        assert_eq!(
            marks,
            vec![("a".into(), false), ("b".into(), true), ("c".into(), false)],
            "cut {cut}"
        );
        assert_eq!(
            String::from_utf8(passed).unwrap(),
            format!("hello\n{m2}half\u{1e}"),
            "cut {cut}: output is passed on whole, the quiet marks left out"
        );
    }
}

#[test]
fn a_line_without_its_newline_keeps_its_mark() {
    let m = output_mark("a");
    let (passed, marks) = scan(format!("no newline{m}").as_bytes(), 64);
    assert_eq!(marks, vec![("a".into(), true)]);
    assert_eq!(String::from_utf8(passed).unwrap(), format!("no newline{m}"));
}

#[test]
fn a_mark_prefix_that_never_ends_is_output() {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(OUTPUT_MARK_PREFIX),
        "x".repeat(MAX_MARK + 10)
    );
    let (passed, marks) = scan(text.as_bytes(), 1000);
    assert!(marks.is_empty());
    assert_eq!(passed, text.as_bytes());
}

#[tokio::test]
async fn the_forwarder_reports_each_mark_and_passes_on_the_rest() {
    let (mut w, r) = tokio::io::duplex(64);
    let (tx, mut seen) = mpsc::unbounded_channel();
    let mut out = Vec::new();
    let copy = tokio::spawn(async move {
        forward_stream(r, &mut out, false, tx).await;
        out
    });
    let text = format!("{}err\n{}", output_mark("1"), output_mark("2"));
    w.write_all(text.as_bytes()).await.unwrap();
    drop(w);
    let out = copy.await.unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("err\n{}", output_mark("2"))
    );
    let got: Vec<Seen> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    assert_eq!(
        got,
        vec![
            Seen {
                stdout: false,
                request_id: "1".into(),
                forwarded: false
            },
            Seen {
                stdout: false,
                request_id: "2".into(),
                forwarded: true
            },
        ]
    );
}

/// Records each write it is given.
#[derive(Default)]
struct Writes(Vec<Vec<u8>>);

impl tokio::io::AsyncWrite for Writes {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.push(buf.to_vec());
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A handler's line and the invoke's mark, written apart, go out in one write (one trip
/// through the container's log pipeline); output with no mark after it still goes out.
#[tokio::test(start_paused = true)]
async fn a_line_and_the_mark_soon_after_it_go_out_in_one_write() {
    let (mut w, r) = tokio::io::duplex(4096);
    let (tx, _seen) = mpsc::unbounded_channel();
    let copy = tokio::spawn(async move {
        let mut out = Writes::default();
        forward_stream(r, &mut out, true, tx).await;
        out.0
    });
    w.write_all(b"line\n").await.unwrap();
    tokio::task::yield_now().await;
    w.write_all(output_mark("1").as_bytes()).await.unwrap();
    tokio::time::sleep(LINGER * 5).await;
    w.write_all(b"later\n").await.unwrap();
    tokio::time::sleep(LINGER * 5).await;
    w.write_all(b"last").await.unwrap();
    drop(w);
    let writes = copy.await.unwrap();
    let writes: Vec<String> = writes
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert_eq!(
        writes,
        vec![
            format!("line\n{}", output_mark("1")),
            "later\n".to_owned(),
            "last".to_owned()
        ]
    );
}
