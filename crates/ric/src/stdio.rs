//! lamina-ric's own stdout and stderr as async writers that write on the runtime's thread.
//!
//! `tokio::io::stdout()` hands every write to tokio's blocking pool (a thread wake-up and a
//! hand-back per write: ~9 futex calls per invoke in the warm path, measured with
//! `strace -c`), because a standard stream may be a file or a terminal that cannot be polled.
//! A container's stdout and stderr are pipes (Docker's and Podman's non-TTY stdio), which can:
//! when the stream is one, lamina-ric opens it again through `/proc/self/fd/N`, which gives a
//! new open file description of the same pipe, and makes only that description non-blocking.
//! Setting `O_NONBLOCK` on fd 1 itself would change the stream under every process sharing it
//! (a `bootstrap` child writing to the inherited stdout would see `EAGAIN`). Anything else (a
//! terminal, a file, a socket, a pipe this user may not reopen) keeps tokio's writer.

use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;

use tokio::io::AsyncWrite;

/// Which of this process's streams.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// An async writer for `stream`: the pipe itself when it is one, tokio's writer otherwise.
pub fn writer(stream: Stream) -> Pin<Box<dyn AsyncWrite + Send>> {
    let fd = match stream {
        Stream::Stdout => std::io::stdout().as_raw_fd(),
        Stream::Stderr => std::io::stderr().as_raw_fd(),
    };
    if let Some(pipe) = reopen_pipe(fd) {
        return Box::pin(pipe);
    }
    match stream {
        Stream::Stdout => Box::pin(tokio::io::stdout()),
        Stream::Stderr => Box::pin(tokio::io::stderr()),
    }
}

/// A non-blocking description of the pipe on `fd`, or `None` when `fd` is not a pipe or cannot
/// be reopened.
fn reopen_pipe(fd: i32) -> Option<tokio::net::unix::pipe::Sender> {
    let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?;
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_fifo() {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .ok()?;
    // `from_owned_fd` checks the type again and sets O_NONBLOCK on this description only.
    tokio::net::unix::pipe::Sender::from_owned_fd(OwnedFd::from(file)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn a_pipe_is_reopened_without_changing_the_original_descriptions_blocking_mode() {
        let (mut reader, writer) = std::io::pipe().expect("pipe");
        let raw = writer.as_raw_fd();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut ours = reopen_pipe(raw).expect("a pipe reopens");
            ours.write_all(b"through the new description\n")
                .await
                .expect("write");
        });
        // SAFETY: fcntl(F_GETFL) on a descriptor this test owns.
        let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "the original stays blocking");
        drop(writer);
        let mut got = String::new();
        reader.read_to_string(&mut got).expect("read");
        assert_eq!(got, "through the new description\n");
    }

    #[test]
    fn a_regular_file_is_not_treated_as_a_pipe() {
        let file = tempfile::tempfile().expect("temp file");
        assert!(reopen_pipe(file.as_raw_fd()).is_none());
    }
}
