//! The real `lamina-ric` binary running Python handlers against a fake Runtime API.
//! Needs `python3` on PATH.

mod common;

use common::*;
use lamina_runtime_api::paths;

fn task_root(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const APP: &str = r#"
import os
COUNT = 0
os.environ["TEST_IMPORTS"] = str(int(os.environ.get("TEST_IMPORTS", "0")) + 1)

def handler(event, context):
    global COUNT
    COUNT += 1
    print("user print", event)
    return {
        "event": event,
        "count": COUNT,
        "imports": int(os.environ["TEST_IMPORTS"]),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "identity_is_object": context.identity is not None and context.identity.cognito_identity_id is None,
        "client_context": context.client_context,
    }

def fail(event, context):
    return 1 / 0

def raw(event, context):
    return b"\x00bytes:" + event
"#;

#[test]
fn success_response_context_and_single_import() {
    let root = task_root(&[("app.py", APP)]);
    let api = FakeApi::start();
    api.push(invocation("req-1"), br#"{"n": 1}"#);
    let mut second = invocation("req-2");
    second.trace_id = None;
    api.push(second, br#"[2]"#);
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    let posts = api.wait_posts(2);
    let out = stop(&mut ric);

    let first = &posts[0];
    assert_eq!(first.path, paths::response("req-1"), "{out}");
    assert_eq!(first.headers["content-type"], "application/json");
    let body = first.json();
    assert_eq!(body["event"], serde_json::json!({"n": 1}));
    assert_eq!(body["count"], 1);
    assert_eq!(body["imports"], 1);
    assert_eq!(
        body["trace"],
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0"
    );
    assert_eq!(body["function_name"], "calc");
    assert_eq!(body["memory"], "256", "memory_limit_in_mb is a str");
    let remaining = body["remaining"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 60_000, "{remaining}");
    assert_eq!(
        body["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:calc"
    );
    assert_eq!(body["request_id"], "req-1");
    assert_eq!(body["identity_is_object"], true);
    assert_eq!(body["client_context"], serde_json::Value::Null);

    let second = posts[1].json();
    assert_eq!(posts[1].path, paths::response("req-2"));
    assert_eq!(second["count"], 2, "same interpreter across invokes");
    assert_eq!(second["imports"], 1, "handler module imported once");
    assert_eq!(
        second["trace"],
        serde_json::Value::Null,
        "_X_AMZN_TRACE_ID deleted when absent"
    );
    assert!(
        out.contains("user print {'n': 1}"),
        "user output passes through: {out}"
    );
}

#[test]
fn handler_exception_posts_error_without_type_header() {
    let root = task_root(&[("app.py", APP)]);
    let api = FakeApi::start();
    api.push(invocation("req-err"), b"{}");
    let mut ric = spawn_ric(&api, root.path(), "app.fail", &[]);
    let posts = api.wait_posts(1);
    // The runtime keeps serving after an invoke error.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while api.nexts() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = stop(&mut ric);

    let post = &posts[0];
    assert_eq!(post.path, paths::error("req-err"), "{out}");
    assert!(
        !post.headers.contains_key(ERROR_TYPE_HEADER),
        "no error-type header on invoke errors"
    );
    assert_eq!(api.nexts(), 2, "loop continues after an invoke error");
    let body = post.json();
    assert_eq!(body["errorMessage"], "division by zero");
    assert_eq!(body["errorType"], "ZeroDivisionError");
    assert_eq!(body["requestId"], "req-err");
    let stack = body["stackTrace"].as_array().unwrap();
    assert_eq!(stack.len(), 1, "adapter frames are stripped: {stack:?}");
    let frame = stack[0].as_str().unwrap();
    assert!(
        frame.starts_with("  File \"")
            && frame.contains("app.py\", line 25, in fail\n    return 1 / 0\n"),
        "{frame}"
    );
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "requestId", "stackTrace"]
    );
    assert!(
        out.contains("[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r\u{a0}\u{a0}File"),
        "error log line: {out:?}"
    );
}

#[test]
fn import_error_posts_init_error_and_exits_1() {
    let root = task_root(&[("app.py", "import not_a_module_xyz\n")]);
    let api = FakeApi::start();
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    let (status, out) = wait_exit(&mut ric);
    assert_eq!(status.code(), Some(1), "{out}");
    let posts = api.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.path, paths::INIT_ERROR);
    assert_eq!(post.headers[ERROR_TYPE_HEADER], "Runtime.ImportModuleError");
    let body = post.json();
    assert_eq!(body["errorType"], "Runtime.ImportModuleError");
    assert_eq!(
        body["errorMessage"],
        "Unable to import module 'app': No module named 'not_a_module_xyz'"
    );
    assert_eq!(body["requestId"], "");
    assert_eq!(body["stackTrace"], serde_json::json!([]));
    assert_eq!(api.nexts(), 0, "no /next before init succeeded");
    assert!(
        out.contains("LAMBDA_WARNING: Unhandled exception."),
        "{out}"
    );
    assert!(
        out.contains("[ERROR] Runtime.ImportModuleError: Unable to import module 'app'"),
        "{out}"
    );
}

#[test]
fn missing_handler_function_is_handler_not_found() {
    let root = task_root(&[("pkg/__init__.py", ""), ("pkg/mod.py", "x = 1\n")]);
    let api = FakeApi::start();
    let mut ric = spawn_ric(&api, root.path(), "pkg/mod.nope", &[]);
    let (status, out) = wait_exit(&mut ric);
    assert_eq!(status.code(), Some(1), "{out}");
    let posts = api.posts();
    assert_eq!(
        posts[0].headers[ERROR_TYPE_HEADER],
        "Runtime.HandlerNotFound"
    );
    assert_eq!(
        posts[0].json()["errorMessage"],
        "Handler 'nope' missing on module 'pkg/mod'"
    );
}

#[test]
fn bytes_result_and_raw_event() {
    let root = task_root(&[("app.py", APP)]);
    let api = FakeApi::start();
    let mut inv = invocation("req-raw");
    inv.content_type = "application/octet-stream".into();
    api.push(inv, b"\xffraw");
    let mut ric = spawn_ric(&api, root.path(), "app.raw", &[]);
    let posts = api.wait_posts(1);
    let out = stop(&mut ric);
    assert_eq!(posts[0].path, paths::response("req-raw"), "{out}");
    assert_eq!(posts[0].headers["content-type"], "application/unknown");
    assert_eq!(posts[0].body, b"\x00bytes:\xffraw");
}

#[test]
fn worker_death_mid_invoke_exits_with_its_status() {
    let root = task_root(&[(
        "app.py",
        "import os\ndef handler(e, c):\n    os._exit(42)\n",
    )]);
    let api = FakeApi::start();
    api.push(invocation("req-die"), b"{}");
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    let (status, out) = wait_exit(&mut ric);
    assert_eq!(status.code(), Some(42), "{out}");
    assert!(
        api.posts().is_empty(),
        "nothing posted: the platform reports Runtime.ExitError"
    );
}

#[test]
fn large_event_is_streamed_through() {
    let root = task_root(&[("app.py", "def handler(e, c):\n    return len(e)\n")]);
    let api = FakeApi::start();
    let mut inv = invocation("req-big");
    inv.content_type = "text/plain".into();
    let big = vec![b'a'; 6 * 1024 * 1024];
    api.push(inv, &big);
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    let posts = api.wait_posts(1);
    stop(&mut ric);
    assert_eq!(posts[0].body, big.len().to_string().as_bytes());
}

#[test]
fn other_exception_at_import_is_reported_with_its_class() {
    let root = task_root(&[("app.py", "import sys\nassert sys.path[0] == __import__('os').getcwd()\nraise ValueError('bad config')\n")]);
    let api = FakeApi::start();
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    let (status, out) = wait_exit(&mut ric);
    assert_eq!(status.code(), Some(1), "{out}");
    let post = &api.posts()[0];
    assert_eq!(post.headers[ERROR_TYPE_HEADER], "ValueError");
    let body = post.json();
    assert_eq!(body["errorMessage"], "bad config");
    let stack = body["stackTrace"].as_array().unwrap();
    assert!(
        stack
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("app.py\", line 3, in <module>"),
        "{stack:?}"
    );
    assert!(
        !stack
            .iter()
            .any(|f| f.as_str().unwrap().contains("/bootstrap.py")),
        "{stack:?}"
    );
}

#[test]
fn an_exec_wrapper_runs_in_front_of_the_interpreter_with_its_command_line() {
    let root = task_root(&[(
        "app.py",
        "import os, sys\ndef handler(e, c):\n    return {'wrapped': os.environ.get('WRAPPED'), 'python': sys.executable != ''}\n",
    )]);
    let wrapper = root.path().join("wrapper.sh");
    std::fs::write(&wrapper, "#!/bin/sh\nexport WRAPPED=\"$1\"\nexec \"$@\"\n").unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let api = FakeApi::start();
    api.push(invocation("req-wrap"), b"{}");
    let mut ric = spawn_ric(
        &api,
        root.path(),
        "app.handler",
        &[("AWS_LAMBDA_EXEC_WRAPPER", wrapper.to_str().unwrap())],
    );
    let posts = api.wait_posts(1);
    let out = stop(&mut ric);
    let body: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(
        body["wrapped"], "python3",
        "the wrapper got the interpreter first: {out}"
    );
    assert_eq!(body["python"], true);
}
