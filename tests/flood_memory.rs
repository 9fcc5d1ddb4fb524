//! Memory taken by a flood is given back: 96 clients at once, each sending a 1.5 MB payload,
//! raise `lamina rie`'s resident memory by a hundred MB or more while their payloads wait for the
//! two environments; once the flood is over the emulator returns to near where it started
//! (glibc keeps freed memory otherwise: a flood left it at 251 MB RSS; issue 9).

mod common;

use std::time::{Duration, Instant};

use common::{build_handler, post, require_docker, Rie, INVOKE};

const MIB: u64 = 1024;

/// A `VmRSS`/`VmHWM` figure of `pid`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn memory_taken_by_a_flood_of_large_invokes_is_given_back_once_it_is_over() {
    require_docker();
    let tag = "lamina-test/flood:latest";
    build_handler(
        tag,
        "def handler(event, context):\n    return len(event['pad'])\n",
    );
    let rie = Rie::start(tag, &["--concurrency", "2"]);
    let pid = rie.child.id();
    // One big payload first: glibc then serves allocations up to its size from the heap
    // rather than from mmap (its dynamic threshold), which is where a flood's memory stays.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5 << 20));
    let warm = post(rie.port, INVOKE, &[], big.as_bytes());
    assert_eq!(warm.status, 200, "{}", warm.text());
    let base = status_kib(pid, "VmRSS");

    let pad = 3 << 19;
    let body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad));
    let port = rie.port;
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..96)
            .map(|_| s.spawn(|| post(port, INVOKE, &[], body.as_bytes())))
            .collect();
        for c in clients {
            let a = c.join().expect("client");
            assert_eq!(a.status, 200, "{}", a.text());
            assert_eq!(a.text(), pad.to_string());
        }
    });
    let peak = status_kib(pid, "VmHWM");
    assert!(
        peak > base + 100 * MIB,
        "the flood must have raised memory for this test to mean anything: {base} KiB before, {peak} KiB at the peak"
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = status_kib(pid, "VmRSS");
        if now < base + 48 * MIB {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {now} KiB resident 15 s after the flood (started at {base} KiB, peak {peak} KiB)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
