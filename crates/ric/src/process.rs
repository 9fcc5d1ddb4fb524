//! Process plumbing: extra pipes on fixed fds in a child, exiting the way a child exited,
//! and passing SIGTERM/SIGINT on to the worker.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

/// The pid of the current worker process, for signal forwarding; 0 when there is none.
static CHILD_PID: AtomicI32 = AtomicI32::new(0);

/// A child with two private pipes: one it reads on fd `child_in`, one it writes on fd `child_out`.
pub struct PipedChild {
    /// The process.
    pub child: Child,
    /// Our end of the child's input pipe.
    pub to_child: pipe::Sender,
    /// Our end of the child's output pipe.
    pub from_child: pipe::Receiver,
}

/// Spawn `cmd` with a pipe readable on `child_in` and one writable on `child_out` in the child.
/// stdin/stdout/stderr are whatever `cmd` says (inherited by default).
pub fn spawn_with_pipes(
    mut cmd: Command,
    child_in: RawFd,
    child_out: RawFd,
) -> io::Result<PipedChild> {
    // Our pipe fds are moved above the fixed numbers so dup2 in the child cannot clobber one
    // with the other; all are close-on-exec, so only the dup2'ed copies reach the child.
    let (in_read, in_write) = pipe_above(10)?;
    let (out_read, out_write) = pipe_above(10)?;
    let (r, w) = (in_read.as_raw_fd(), out_write.as_raw_fd());
    // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(r, child_in) < 0 || libc::dup2(w, child_out) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    if let Some(pid) = child.id() {
        CHILD_PID.store(pid as i32, Ordering::SeqCst);
    }
    // The child's ends are dropped here, so EOF on `from_child` means the child is gone.
    drop((in_read, out_write));
    Ok(PipedChild {
        child,
        to_child: pipe::Sender::from_owned_fd(in_write)?,
        from_child: pipe::Receiver::from_owned_fd(out_read)?,
    })
}

/// A close-on-exec pipe whose two fds are both `>= min`.
fn pipe_above(min: RawFd) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((dup_above(a, min)?, dup_above(b, min)?))
}

fn dup_above(fd: OwnedFd, min: RawFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an open fd returns a new open fd or -1.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just returned by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Run `main` on a current-thread tokio runtime (what every mode of lamina-ric runs on), or
/// say why there is none and return `failed`.
pub fn block_on(main: impl std::future::Future<Output = i32>, failed: i32) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(main),
        Err(e) => {
            eprintln!("lamina-ric: cannot start the async runtime: {e}");
            failed
        }
    }
}

/// Forget the worker pid (it has been reaped).
pub fn clear_child() {
    CHILD_PID.store(0, Ordering::SeqCst);
}

/// Exit with `code`, flushing nothing else (callers have logged what they need).
pub fn exit_code(code: i32) -> ! {
    std::process::exit(code)
}

/// End this process the way a child ended: same exit code, or the same signal (falling back
/// to `128 + signal` where the signal cannot kill us, e.g. as PID 1 in a container).
pub fn exit_like(status: ExitStatus) -> ! {
    if let Some(code) = status.code() {
        std::process::exit(code);
    }
    let sig = status.signal().unwrap_or(libc::SIGKILL);
    // SAFETY: resetting a disposition and raising a signal on ourselves.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

/// On SIGTERM or SIGINT, pass the signal to the worker (if any) and exit `128 + signal`.
/// Lambda sends SIGTERM at shutdown; as PID 1 the RIC would otherwise ignore it.
pub fn forward_termination_signals() -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let sig = tokio::select! {
            _ = term.recv() => libc::SIGTERM,
            _ = int.recv() => libc::SIGINT,
        };
        let pid = CHILD_PID.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) on a pid we spawned.
            unsafe { libc::kill(pid, sig) };
        }
        std::process::exit(128 + sig);
    });
    Ok(())
}

/// Remember `child` as the process to forward signals to.
pub fn track_child(child: &Child) {
    if let Some(pid) = child.id() {
        CHILD_PID.store(pid as i32, Ordering::SeqCst);
    }
}
