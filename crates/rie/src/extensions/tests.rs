//! The extensions' state machine, driven as the HTTP side drives it.

use std::time::Duration;

use super::*;
use lamina_runtime_api::extensions::ShutdownReason;

fn extensions() -> Extensions {
    extensions_of(false)
}

fn extensions_of(shutdown_only: bool) -> Extensions {
    Extensions::new(FunctionInfo {
        function_name: "calc".into(),
        function_version: "$LATEST".into(),
        handler: "app.handler".into(),
        account_id: "123456789012".into(),
        shutdown_only,
    })
}

#[test]
fn under_managed_instances_an_extension_may_register_for_shutdown_only() {
    let x = extensions_of(true);
    x.launched(&["secrets".into(), "watcher".into()]);
    let refused = x.register("secrets", BOTH, false).unwrap_err();
    assert_eq!(
        (refused.status, refused.error_type.as_str()),
        (403, ext::INVALID_EVENT_TYPE)
    );
    assert!(x
        .register("watcher", br#"{"events":["SHUTDOWN"]}"#, false)
        .is_ok());
}

const BOTH: &[u8] = br#"{"events":["INVOKE","SHUTDOWN"]}"#;

fn shutdown() -> Event {
    Event::Shutdown {
        shutdown_reason: ShutdownReason::Spindown,
        deadline_ms: 1,
    }
}

#[test]
fn a_launched_extension_registers_by_its_file_name_and_gets_the_functions_details() {
    let x = extensions();
    x.launched(&["secrets".into()]);
    let (id, answer) = x.register("secrets", BOTH, true).unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(answer.function_name, "calc");
    assert_eq!(answer.handler, "app.handler");
    assert_eq!(answer.account_id.as_deref(), Some("123456789012"));
    let again = x.register("secrets", BOTH, false).unwrap_err();
    assert_eq!(
        (again.status, again.error_type.as_str()),
        (403, ext::INVALID_STATE)
    );
    let (_, plain) = x
        .register("other", br#"{"events":["INVOKE"]}"#, false)
        .unwrap();
    assert_eq!(
        plain.account_id, None,
        "accountId only when the feature is accepted"
    );
}

#[test]
fn registration_is_refused_as_the_cloud_refuses_it() {
    let x = extensions();
    let refused = |name: &str, body: &[u8]| x.register(name, body, false).unwrap_err().error_type;
    assert_eq!(refused("", BOTH), ext::INVALID_NAME);
    assert_eq!(refused("a", b"{"), ext::INVALID_REQUEST_FORMAT);
    // An internal extension (not started from /opt/extensions) may not ask for SHUTDOWN.
    assert_eq!(refused("internal", BOTH), ext::INVALID_EVENT_TYPE);
    for n in 0..ext::MAX_EXTENSIONS {
        x.register(&format!("x{n}"), br#"{"events":["INVOKE"]}"#, false)
            .unwrap();
    }
    assert_eq!(refused("eleventh", br#"{"events":[]}"#), ext::TOO_MANY);
    let late = extensions();
    late.close_registration();
    assert_eq!(
        late.register("late", br#"{"events":["INVOKE"]}"#, false)
            .unwrap_err()
            .error_type,
        ext::REGISTRATION_CLOSED
    );
}

#[test]
fn eleven_launched_extensions_fail_the_environment_with_a_launch_error() {
    let x = extensions();
    let names: Vec<String> = (0..=ext::MAX_EXTENSIONS).map(|n| format!("e{n}")).collect();
    x.launched(&names);
    assert_eq!(x.fatal().unwrap().0, ext::fatal::LAUNCH_ERROR);
}

#[tokio::test]
async fn identifiers_are_checked_before_anything_else() {
    let x = extensions();
    let code = |r: Result<Event, Refusal>| r.unwrap_err().error_type;
    assert_eq!(code(x.next(None).await), ext::MISSING_IDENTIFIER);
    assert_eq!(
        code(x.next(Some("not-a-uuid")).await),
        ext::INVALID_IDENTIFIER
    );
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_eq!(code(x.next(Some(&stranger)).await), ext::UNKNOWN_IDENTIFIER);
    let (id, _) = x.register("a", br#"{"events":["INVOKE"]}"#, false).unwrap();
    let missing = x
        .error(Some(&id), None, ext::fatal::INIT_ERROR)
        .unwrap_err();
    assert_eq!(missing.error_type, ext::MISSING_HEADER);
    assert!(x.fatal().is_none(), "a refused call fails nothing");
}

#[tokio::test]
async fn init_waits_for_every_launched_extension_to_register_then_to_call_next() {
    let x = std::sync::Arc::new(extensions());
    x.launched(&["a".into(), "b".into()]);
    let registered = tokio::spawn({
        let x = x.clone();
        async move { x.all_registered().await }
    });
    let (a, _) = x.register("a", BOTH, false).unwrap();
    tokio::task::yield_now().await;
    assert!(!registered.is_finished(), "b has not registered");
    let (b, _) = x
        .register("b", br#"{"events":["SHUTDOWN"]}"#, false)
        .unwrap();
    registered.await.unwrap().unwrap();
    let ready = tokio::spawn({
        let x = x.clone();
        async move { x.all_ready().await }
    });
    let next_a = tokio::spawn({
        let (x, a) = (x.clone(), a.clone());
        async move { x.next(Some(&a)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!ready.is_finished(), "b has not called next");
    let next_b = tokio::spawn({
        let (x, b) = (x.clone(), b.clone());
        async move { x.next(Some(&b)).await }
    });
    ready.await.unwrap().unwrap();
    // SHUTDOWN goes to both (both asked for it); INVOKE only to a.
    let invoke = Event::Invoke {
        deadline_ms: 1,
        request_id: "r".into(),
        invoked_function_arn: "arn".into(),
        tracing: ext::Tracing {
            kind: "X-Amzn-Trace-Id".into(),
            value: "Root=1".into(),
        },
    };
    assert_eq!(x.deliver(&invoke), 1);
    assert_eq!(next_a.await.unwrap().unwrap(), invoke);
    assert_eq!(x.deliver(&shutdown()), 2);
    assert_eq!(next_b.await.unwrap().unwrap(), shutdown());
}

#[tokio::test]
async fn an_extension_that_crashes_or_reports_an_error_fails_the_environment_once() {
    let x = extensions();
    x.launched(&["a".into()]);
    let (id, _) = x.register("a", BOTH, false).unwrap();
    x.error(Some(&id), Some("Extension.Boom"), ext::fatal::INIT_ERROR)
        .unwrap();
    x.exited("a", "exit status 1", false);
    let (ty, message) = x.failed().await;
    assert_eq!(ty, ext::fatal::INIT_ERROR, "the first error wins");
    assert!(message.contains("Extension.Boom"), "{message}");
    let quiet = extensions();
    quiet.launched(&["a".into()]);
    quiet.exited("a", "exit status 0", true);
    assert!(
        quiet.fatal().is_none(),
        "an exit during shutdown is expected"
    );
}
