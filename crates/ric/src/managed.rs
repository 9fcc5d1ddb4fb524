//! Lambda Managed Instances (runtime-api.md §1.9): with `AWS_LAMBDA_MAX_CONCURRENCY` = N, N
//! loops poll the Runtime API at once, each with a worker of its own — a language worker
//! process each, as AWS's Python client runs N processes (`lambda_multi_concurrent_utils.py`),
//! so a slow or blocking handler never holds up another invoke; exec handlers are a process
//! per invoke anyway — and each on a connection of its own.
//!
//! Init is the first worker's: its failure is the function's (posted to `/init/error`, as
//! with one worker), and the others start once it is ready, so the environment is ready as
//! soon as one worker polls (§1.9, "≥ 1 runtime worker has called `/next`"). A worker that
//! dies is tolerated as the cloud tolerates it, the others serving on; lamina-ric also
//! answers the invoke it was running with `Runtime.ExitError` (rather than leaving it to
//! time out) and starts a fresh worker in its place.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;

use lamina_runtime_api::body::{ExitReason, PlatformError};

use crate::client::RuntimeClient;
use crate::runtime::{runtime_loop_tracking, Fatal, Worker};

/// Serve with `n` workers made by `start`, until every one has stopped for good; the last
/// reason is returned.
pub async fn serve<W, F, Fut>(api: SocketAddr, n: usize, start: F) -> Fatal
where
    W: Worker + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<W, Fatal>> + 'static,
{
    let first = match start().await {
        Ok(w) => w,
        Err(fatal) => return fatal,
    };
    let start = Rc::new(start);
    let local = tokio::task::LocalSet::new();
    let mut slots = tokio::task::JoinSet::new();
    let mut first = Some(first);
    for number in 1..=n {
        let worker = first.take();
        let start = start.clone();
        slots.spawn_local_on(slot(number, api, worker, start), &local);
    }
    local
        .run_until(async move {
            let mut last = Fatal::Protocol("no worker ran".into());
            while let Some(ended) = slots.join_next().await {
                if let Ok(fatal) = ended {
                    last = fatal;
                }
            }
            last
        })
        .await
}

/// One slot: a worker and its loop, the worker replaced when it dies.
async fn slot<W, F, Fut>(
    number: usize,
    api: SocketAddr,
    mut ready: Option<W>,
    start: Rc<F>,
) -> Fatal
where
    W: Worker,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<W, Fatal>>,
{
    let mut client = RuntimeClient::new(api);
    loop {
        let mut worker = match ready.take() {
            Some(w) => w,
            None => match start().await {
                Ok(w) => w,
                Err(fatal) => {
                    eprintln!("lamina-ric: worker {number} could not start again: {fatal:?}");
                    return fatal;
                }
            },
        };
        let mut current = None;
        match runtime_loop_tracking(&mut client, &mut worker, &mut current).await {
            Err(Fatal::WorkerExited(status)) => {
                eprintln!("lamina-ric: worker {number} exited ({status}); starting another");
                if let Some(id) = current {
                    let reason = match (
                        status.code(),
                        std::os::unix::process::ExitStatusExt::signal(&status),
                    ) {
                        (Some(c), _) => ExitReason::Code(i64::from(c)),
                        (None, Some(s)) => ExitReason::Signal(s),
                        (None, None) => ExitReason::Code(-1),
                    };
                    let body = PlatformError::runtime_exit(&id, &reason).to_json();
                    if let Err(e) = client.post_error(&id, body.into(), None, None).await {
                        eprintln!("lamina-ric: cannot report worker {number}'s invoke {id}: {e}");
                    }
                }
            }
            Err(fatal) => return fatal,
            Ok(never) => match never {},
        }
    }
}
