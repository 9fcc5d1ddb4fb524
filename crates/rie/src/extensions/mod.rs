//! One environment's extensions (runtime-api.md §2): who registered for which events, where
//! each stands, and the barriers the environment waits on — init ends when the runtime and
//! every registered extension have called `next`; an invoke is complete when every extension
//! subscribed to `INVOKE` has called `next` again; a shutdown waits for the extensions to go.
//!
//! External extensions are the executables in `/opt/extensions/`, started inside the
//! container by lamina's init, which announces them by name before it starts the runtime and
//! waits until each has registered ([`Extensions::launched`]), as Lambda's init does (RIE
//! `rapid/handlers.go`, `doInitExtensions`). A name registering that was not announced is an
//! internal extension (one the runtime's process started, e.g. through
//! `AWS_LAMBDA_EXEC_WRAPPER`). Registration closes at the runtime's first `/next`.
//!
//! The HTTP side is [`api`]; the state here knows no HTTP.

pub(crate) mod api;

use std::collections::HashSet;
use std::sync::Mutex;

use lamina_runtime_api::body::RuntimeApiError;
use lamina_runtime_api::extensions::{
    self as ext, Event, EventType, RegisterRequest, RegisterResponse,
};
use tokio::sync::{mpsc, watch};

use crate::sync::lock;

/// Where one extension stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Started by the init, not registered yet.
    Launched,
    /// Registered; has not called `next` since its last event.
    Busy,
    /// Waiting in `next`.
    Ready,
    /// Its process has ended.
    Exited,
}

struct Agent {
    id: String,
    name: String,
    external: bool,
    events: HashSet<EventType>,
    state: State,
    mailbox: mpsc::UnboundedSender<Event>,
    inbox: std::sync::Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>>,
}

#[derive(Default)]
struct Inner {
    registration_closed: bool,
    agents: Vec<Agent>,
    /// The first error that fails the environment (`Extension.Crash`, …), with its message.
    fatal: Option<(String, String)>,
}

/// What `register` answers with.
#[derive(Debug, Clone)]
pub(crate) struct FunctionInfo {
    pub(crate) function_name: String,
    pub(crate) function_version: String,
    pub(crate) handler: String,
    pub(crate) account_id: String,
    /// A Managed-Instances environment: extensions may register for `SHUTDOWN` only.
    pub(crate) shutdown_only: bool,
}

/// One environment's extensions.
pub(crate) struct Extensions {
    inner: Mutex<Inner>,
    /// Bumped on every change a barrier may wait for.
    changed: watch::Sender<u64>,
    info: FunctionInfo,
}

/// An extension was refused, or failed the environment.
pub(crate) type Refusal = RuntimeApiError;

impl Extensions {
    pub(crate) fn new(info: FunctionInfo) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            changed: watch::channel(0).0,
            info,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wait until `done` holds over the state (checked at once and after every change).
    async fn until(&self, mut done: impl FnMut(&Inner) -> bool) {
        let mut rx = self.changed.subscribe();
        loop {
            if done(&lock(&self.inner)) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// The init started these external extensions (file names in `/opt/extensions/`).
    /// More than [`ext::MAX_EXTENSIONS`] fails the environment as the cloud does
    /// (`Extension.LaunchError`).
    pub(crate) fn launched(&self, names: &[String]) {
        {
            let mut inner = lock(&self.inner);
            for name in names {
                if inner.agents.iter().any(|a| &a.name == name) {
                    continue;
                }
                let (mailbox, inbox) = mpsc::unbounded_channel();
                inner.agents.push(Agent {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: name.clone(),
                    external: true,
                    events: HashSet::new(),
                    state: State::Launched,
                    mailbox,
                    inbox: std::sync::Arc::new(tokio::sync::Mutex::new(inbox)),
                });
            }
            if inner.agents.len() > ext::MAX_EXTENSIONS && inner.fatal.is_none() {
                inner.fatal = Some((
                    ext::fatal::LAUNCH_ERROR.into(),
                    format!("Extension limit ({}) reached", ext::MAX_EXTENSIONS),
                ));
            }
        }
        self.bump();
    }

    /// Wait until every launched extension has registered, or one failed the environment
    /// (then its error type).
    pub(crate) async fn all_registered(&self) -> Result<(), String> {
        self.until(|i| i.fatal.is_some() || i.agents.iter().all(|a| a.state != State::Launched))
            .await;
        match &lock(&self.inner).fatal {
            Some((ty, _)) => Err(ty.clone()),
            None => Ok(()),
        }
    }

    /// `register` from the extension `name`.
    pub(crate) fn register(
        &self,
        name: &str,
        body: &[u8],
        accept_account_id: bool,
    ) -> Result<(String, RegisterResponse), Refusal> {
        if name.is_empty() {
            return Err(Refusal::forbidden(
                ext::INVALID_NAME,
                "Empty extension name",
            ));
        }
        let req = RegisterRequest::parse(body)?;
        // Invokes overlap under Managed Instances; extensions hear of none (RIE-LMI
        // `core/externalagent.go` `ValidateExternalAgentEvent`, runtime-api.md §1.9).
        if self.info.shutdown_only && req.events.contains(&EventType::Invoke) {
            return Err(Refusal::forbidden(
                ext::INVALID_EVENT_TYPE,
                "INVOKE: ErrorInvalidEventType",
            ));
        }
        let mut inner = lock(&self.inner);
        let id = match inner.agents.iter_mut().find(|a| a.name == name) {
            Some(a) if a.external && a.state == State::Launched => {
                a.events = req.events.iter().copied().collect();
                a.state = State::Busy;
                a.id.clone()
            }
            Some(_) => {
                return Err(Refusal::forbidden(
                    ext::INVALID_STATE,
                    "Extension with this name already registered",
                ))
            }
            None => {
                if inner.registration_closed {
                    return Err(Refusal::forbidden(
                        ext::REGISTRATION_CLOSED,
                        "Extension registration closed already",
                    ));
                }
                if inner.agents.len() >= ext::MAX_EXTENSIONS {
                    return Err(Refusal::forbidden(
                        ext::TOO_MANY,
                        format!("Extension limit ({}) reached", ext::MAX_EXTENSIONS),
                    ));
                }
                // Internal extensions run inside the runtime's process, which the platform
                // does not stop at shutdown: they may not ask for SHUTDOWN (RIE
                // `core.ValidateInternalAgentEvent`).
                if req.events.contains(&EventType::Shutdown) {
                    return Err(Refusal::forbidden(
                        ext::INVALID_EVENT_TYPE,
                        "SHUTDOWN: ErrorInvalidEventType",
                    ));
                }
                let (mailbox, inbox) = mpsc::unbounded_channel();
                let id = uuid::Uuid::new_v4().to_string();
                inner.agents.push(Agent {
                    id: id.clone(),
                    name: name.to_owned(),
                    external: false,
                    events: req.events.iter().copied().collect(),
                    state: State::Busy,
                    mailbox,
                    inbox: std::sync::Arc::new(tokio::sync::Mutex::new(inbox)),
                });
                id
            }
        };
        drop(inner);
        self.bump();
        let info = &self.info;
        Ok((
            id,
            RegisterResponse {
                function_name: info.function_name.clone(),
                function_version: info.function_version.clone(),
                handler: info.handler.clone(),
                account_id: accept_account_id.then(|| info.account_id.clone()),
            },
        ))
    }

    /// Check an `Lambda-Extension-Identifier` header value: the agent's index.
    fn find(inner: &Inner, id: Option<&str>) -> Result<usize, Refusal> {
        let id = id.ok_or_else(|| {
            Refusal::forbidden(
                ext::MISSING_IDENTIFIER,
                "Missing Lambda-Extension-Identifier header",
            )
        })?;
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(Refusal::forbidden(
                ext::INVALID_IDENTIFIER,
                "Invalid Lambda-Extension-Identifier",
            ));
        }
        inner
            .agents
            .iter()
            .position(|a| a.id == id && a.state != State::Launched)
            .ok_or_else(|| {
                Refusal::forbidden(ext::UNKNOWN_IDENTIFIER, format!("Unknown extension {id}"))
            })
    }

    /// The name of the registered extension `id` (checked as every call checks it).
    pub(crate) fn name_of(&self, id: Option<&str>) -> Result<String, Refusal> {
        let inner = lock(&self.inner);
        let i = Self::find(&inner, id)?;
        Ok(inner.agents[i].name.clone())
    }

    /// `event/next` from extension `id`: it is ready; wait for its next event.
    pub(crate) async fn next(&self, id: Option<&str>) -> Result<Event, Refusal> {
        let inbox = {
            let mut inner = lock(&self.inner);
            let i = Self::find(&inner, id)?;
            let agent = &mut inner.agents[i];
            agent.state = State::Ready;
            agent.inbox.clone()
        };
        self.bump();
        let event = inbox.lock().await.recv().await;
        match event {
            Some(e) => Ok(e),
            // The environment is gone: like the Runtime API's `/next`, never answered.
            None => std::future::pending().await,
        }
    }

    /// `init/error` or `exit/error` from extension `id` with `error_type`: the environment
    /// fails with `fatal_type` (the first such error wins).
    pub(crate) fn error(
        &self,
        id: Option<&str>,
        error_type: Option<&str>,
        fatal_type: &str,
    ) -> Result<(), Refusal> {
        {
            let mut inner = lock(&self.inner);
            let i = Self::find(&inner, id)?;
            let Some(error_type) = error_type.filter(|t| !t.is_empty()) else {
                return Err(Refusal::forbidden(
                    ext::MISSING_HEADER,
                    "Missing Lambda-Extension-Function-Error-Type header",
                ));
            };
            let name = inner.agents[i].name.clone();
            inner
                .fatal
                .get_or_insert_with(|| (fatal_type.to_owned(), format!("{name}: {error_type}")));
        }
        self.bump();
        Ok(())
    }

    /// The init saw the process of extension `name` end (`status` in the cloud's words).
    /// Outside a shutdown that fails the environment (`Extension.Crash`).
    pub(crate) fn exited(&self, name: &str, status: &str, shutting_down: bool) {
        {
            let mut inner = lock(&self.inner);
            if let Some(a) = inner.agents.iter_mut().find(|a| a.name == name) {
                a.state = State::Exited;
            }
            if !shutting_down {
                inner.fatal.get_or_insert_with(|| {
                    (ext::fatal::CRASH.to_owned(), format!("{name}: {status}"))
                });
            }
        }
        self.bump();
    }

    /// The runtime's first `/next`: no more registrations.
    pub(crate) fn close_registration(&self) {
        lock(&self.inner).registration_closed = true;
        self.bump();
    }

    /// Whether any extension is registered (or launched).
    pub(crate) fn any(&self) -> bool {
        !lock(&self.inner).agents.is_empty()
    }

    /// Resolve once an extension has failed the environment: (type, message).
    pub(crate) async fn failed(&self) -> (String, String) {
        self.until(|i| i.fatal.is_some()).await;
        self.fatal().unwrap_or_default()
    }

    /// The error that failed the environment, if one did: (type, message).
    pub(crate) fn fatal(&self) -> Option<(String, String)> {
        lock(&self.inner).fatal.clone()
    }

    /// Wait until every registered extension waits in `next` (or has ended), or one failed
    /// the environment.
    pub(crate) async fn all_ready(&self) -> Result<(), (String, String)> {
        self.until(|i| {
            i.fatal.is_some()
                || i.agents
                    .iter()
                    .all(|a| matches!(a.state, State::Ready | State::Exited))
        })
        .await;
        match self.fatal() {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    /// Hand `event` to every extension that asked for events of its type; returns how many.
    pub(crate) fn deliver(&self, event: &Event) -> usize {
        let kind = match event {
            Event::Invoke { .. } => EventType::Invoke,
            Event::Shutdown { .. } => EventType::Shutdown,
        };
        let mut inner = lock(&self.inner);
        let mut n = 0;
        for a in inner
            .agents
            .iter_mut()
            .filter(|a| a.events.contains(&kind) && a.state != State::Exited)
        {
            if a.mailbox.send(event.clone()).is_ok() {
                a.state = State::Busy;
                n += 1;
            }
        }
        drop(inner);
        // Without extensions (the common case) an invoke wakes nobody.
        if n > 0 {
            self.bump();
        }
        n
    }

    /// Whether any external extension is running (the shutdown budget is then the cloud's
    /// 2,000 ms, else 500 ms).
    pub(crate) fn any_external(&self) -> bool {
        lock(&self.inner).agents.iter().any(|a| a.external)
    }
}

#[cfg(test)]
mod tests;
