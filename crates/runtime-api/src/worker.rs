//! The contract between `lamina build`, `lamina-ric` and the language adapters it runs
//! (`base-images/python/bootstrap.py`, `base-images/node/bootstrap.mjs`), written once: which
//! runtime kind an image asks for (`LAMINA_RUNTIME`), where each adapter lives in the image
//! and how lamina-ric starts it, and the frames the two sides exchange.
//!
//! The adapters are Python and JavaScript and cannot import this module; they are tested
//! against the golden frames in `tests/fixtures/worker-frames.json` (this crate's tests
//! write nothing there by hand: they check that every frame in it encodes and decodes as
//! listed), so the three implementations agree byte for byte.

use serde::{Deserialize, Serialize};

/// Tells lamina-ric how to run the handler (set by `lamina build`; auto-detected when unset):
/// `python` (or `python3.x`), `node` (or `nodejs…`), `exec`, `bootstrap`.
pub const ENV_RUNTIME: &str = "LAMINA_RUNTIME";
/// The fd the worker reads frames from, named to it by lamina-ric.
pub const ENV_FD_IN: &str = "_LAMINA_FD_IN";
/// The fd the worker writes frames to.
pub const ENV_FD_OUT: &str = "_LAMINA_FD_OUT";
/// The worker's read end (lamina-ric → worker), unless the telemetry fd takes it.
pub const WORKER_FD_IN: i32 = 3;
/// The worker's write end (worker → lamina-ric).
pub const WORKER_FD_OUT: i32 = 4;

/// How handlers are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// A persistent Python worker running the Python adapter.
    Python,
    /// A persistent Node.js worker running the Node adapter.
    Node,
    /// One process per invoke: event on stdin, response on stdout.
    Exec,
    /// A custom runtime that speaks the Runtime API itself.
    Bootstrap,
}

impl RuntimeKind {
    /// The value of [`ENV_RUNTIME`] that asks for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Node => "node",
            Self::Exec => "exec",
            Self::Bootstrap => "bootstrap",
        }
    }

    /// Read [`ENV_RUNTIME`] (also Lambda's runtime names: `python3.13`, `nodejs24.x`,
    /// `provided.al2023`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("python") {
            Some(Self::Python)
        } else if s.starts_with("node") {
            Some(Self::Node)
        } else if s == "exec" {
            Some(Self::Exec)
        } else if s == "bootstrap" || s == "provided" || s.starts_with("provided.") {
            Some(Self::Bootstrap)
        } else {
            None
        }
    }

    /// The adapter a persistent worker of this kind runs.
    pub fn adapter(self) -> Option<&'static Adapter> {
        match self {
            Self::Python => Some(&PYTHON),
            Self::Node => Some(&NODE),
            Self::Exec | Self::Bootstrap => None,
        }
    }
}

/// A language adapter: the script a persistent worker runs, and how lamina-ric starts it.
#[derive(Debug)]
pub struct Adapter {
    /// The language, in messages.
    pub language: &'static str,
    /// Where `lamina build` writes the adapter (absolute, in the image).
    pub path: &'static str,
    /// The interpreter on `PATH` (overridden by [`Adapter::interpreter_env`]).
    pub interpreter: &'static str,
    /// Overrides the interpreter.
    pub interpreter_env: &'static str,
    /// Overrides the adapter's path (tests point it at the repository's copy).
    pub adapter_env: &'static str,
    /// Variables the managed runtime's own bootstrap sets when the function has not.
    pub env_defaults: &'static [(&'static str, &'static str)],
    /// It runs SnapStart hooks (Python's `snapshot_restore_py`): before `Ready` in a
    /// snap-start environment, and after a [`Header::Restore`]. AWS's Node client v4 has
    /// none (language-runtimes.md §6), so lamina-ric does the restore handshake alone.
    pub snapshot_hooks: bool,
}

/// The Python adapter.
pub const PYTHON: Adapter = Adapter {
    language: "Python",
    path: "/var/runtime/lamina/python/bootstrap.py",
    interpreter: "python3",
    interpreter_env: "LAMINA_PYTHON",
    adapter_env: "LAMINA_PYTHON_ADAPTER",
    env_defaults: &[],
    snapshot_hooks: true,
};

/// The Node.js adapter.
pub const NODE: Adapter = Adapter {
    language: "Node.js",
    path: "/var/runtime/lamina/node/bootstrap.mjs",
    interpreter: "node",
    interpreter_env: "LAMINA_NODE",
    adapter_env: "LAMINA_NODE_ADAPTER",
    // Layers' packages: Lambda's nodejs24.x `/var/runtime/bootstrap` exports this NODE_PATH
    // when none is set (as extracted and published at dev.to/wonderfulsoap, "Deep Dive into
    // AWS Lambda (3): Official Node.js Runtime Analysis"). `require` reads it; `import` does
    // not, in Lambda as here.
    env_defaults: &[(
        "NODE_PATH",
        "/opt/nodejs/node24/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
    )],
    snapshot_hooks: false,
};

/// Largest frame header accepted; headers are a few hundred bytes (an X-Ray cause may be
/// bigger).
pub const MAX_HEADER: u32 = 4 << 20;
/// Largest frame body accepted from a worker. Far over the 6 MiB sync limit (the Runtime API
/// answers 413 to what is too large) but keeps a corrupt length from exhausting memory.
pub const MAX_BODY: u64 = 1 << 30;

/// A frame's header, one variant per message kind. On the wire every frame is
///
/// ```text
/// +--------------------+-------------------+--------------------+--------------+
/// | header len: u32 BE | header: JSON text | body len: u64 BE   | body bytes   |
/// +--------------------+-------------------+--------------------+--------------+
/// ```
///
/// The body length comes before the body so that lamina-ric can stream a large event from
/// the HTTP response straight into the pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Header {
    /// Worker → RIC: the handler is loaded; the body is empty.
    Ready,
    /// Worker → RIC: init failed; the body is the error JSON to post to `/init/error`.
    InitError {
        /// Sent as `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
    },
    /// RIC → worker: run the handler; the body is the event.
    Invoke {
        /// `Lambda-Runtime-Aws-Request-Id`.
        request_id: String,
        /// Unix epoch ms; `u64::MAX` when the platform sent none.
        deadline_ms: u64,
        /// `Lambda-Runtime-Invoked-Function-Arn`.
        invoked_function_arn: String,
        /// `Lambda-Runtime-Trace-Id`; `None` means delete `_X_AMZN_TRACE_ID`.
        trace_id: Option<String>,
        /// Client context JSON text.
        client_context: Option<String>,
        /// Cognito identity JSON text.
        cognito_identity: Option<String>,
        /// Tenant id.
        tenant_id: Option<String>,
        /// Content type of the event.
        content_type: String,
    },
    /// RIC → worker: the snapshot was restored (SnapStart, runtime-api.md §1.10): run the
    /// after-restore hooks, then answer [`Header::Ready`], or [`Header::InitError`] with
    /// `Runtime.AfterRestoreError`. The body is empty. Sent only to a worker that ran its
    /// before-snapshot hooks (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`) before `Ready`.
    Restore,
    /// Worker → RIC: the handler returned; the body is the encoded result.
    Response {
        /// `application/json`, or `application/unknown` for `bytes` results.
        content_type: String,
    },
    /// Worker → RIC: the invoke failed; the body is the error JSON to post to `/error`.
    Error {
        /// The error's type (informational: never sent as a header on invoke errors).
        error_type: String,
        /// X-Ray cause JSON for `Lambda-Runtime-Function-XRay-Error-Cause`, if small enough.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        xray_cause: Option<String>,
    },
    /// Worker → RIC: the handler streams its response (runtime-api.md §1.7); chunks follow,
    /// then [`Header::StreamEnd`] or [`Header::StreamError`]. The body is empty.
    StreamStart {
        /// The stream's content type (`application/octet-stream` unless the handler set one).
        content_type: String,
    },
    /// Worker → RIC: the next bytes of a streamed response (the body).
    StreamChunk,
    /// Worker → RIC: the streamed response is complete; the body is empty.
    StreamEnd,
    /// Worker → RIC: the handler failed mid-stream; the body is the error JSON, sent in the
    /// response's trailers.
    StreamError {
        /// Sent as the `Lambda-Runtime-Function-Error-Type` trailer.
        error_type: String,
    },
}

/// The bytes that start a frame of `header` whose body is `body_len` bytes long.
pub fn encode_head(header: &Header, body_len: u64) -> Vec<u8> {
    // Serialising a header (strings and integers) cannot fail.
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut buf = Vec::with_capacity(12 + json.len());
    buf.extend_from_slice(&(json.len() as u32).to_be_bytes());
    buf.extend_from_slice(&json);
    buf.extend_from_slice(&body_len.to_be_bytes());
    buf
}

/// A frame header that is not what the contract allows.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A length over the limit.
    #[error("bad worker frame: {what} of {len} bytes")]
    TooLong {
        /// Which length.
        what: &'static str,
        /// Its value.
        len: u64,
    },
    /// The header is not one of [`Header`]'s.
    #[error("bad worker frame: {0}")]
    Header(#[from] serde_json::Error),
}

/// Check a header length read from the wire.
pub fn check_header_len(len: u32) -> Result<usize, FrameError> {
    if len > MAX_HEADER {
        return Err(FrameError::TooLong {
            what: "header",
            len: u64::from(len),
        });
    }
    Ok(len as usize)
}

/// Check a body length read from the wire.
pub fn check_body_len(len: u64) -> Result<usize, FrameError> {
    if len > MAX_BODY {
        return Err(FrameError::TooLong { what: "body", len });
    }
    Ok(len as usize)
}

/// Parse a header's JSON.
pub fn decode_header(json: &[u8]) -> Result<Header, FrameError> {
    Ok(serde_json::from_slice(json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden frames every side of the contract is tested against.
    const GOLDEN: &str = include_str!("../../../tests/fixtures/worker-frames.json");

    #[test]
    fn every_golden_frame_encodes_and_decodes_as_listed() {
        let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden frames");
        let frames = golden["frames"].as_array().expect("a frames list");
        assert!(frames.len() >= 10, "the golden file lists every kind");
        for f in frames {
            let header: Header =
                serde_json::from_value(f["header"].clone()).expect("a known header");
            let body = hex::decode(f["body_hex"].as_str().unwrap_or_default()).expect("hex");
            let wire = hex::decode(f["wire_hex"].as_str().unwrap_or_default()).expect("hex");
            let mut encoded = encode_head(&header, body.len() as u64);
            encoded.extend_from_slice(&body);
            assert_eq!(hex::encode(&encoded), hex::encode(&wire), "{header:?}");
            let len = u32::from_be_bytes(wire[..4].try_into().expect("4 bytes"));
            let n = check_header_len(len).expect("a sane length");
            assert_eq!(decode_header(&wire[4..4 + n]).expect("decodes"), header);
        }
        let mark = golden["output_mark_prefix_hex"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            hex::decode(mark).expect("hex"),
            crate::logs::OUTPUT_MARK_PREFIX,
            "the output mark's bytes"
        );
    }

    #[test]
    fn runtime_kinds_read_lambdas_names_and_round_trip() {
        for k in [
            RuntimeKind::Python,
            RuntimeKind::Node,
            RuntimeKind::Exec,
            RuntimeKind::Bootstrap,
        ] {
            assert_eq!(RuntimeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RuntimeKind::parse("nodejs24.x"), Some(RuntimeKind::Node));
        assert_eq!(RuntimeKind::parse("python3.13"), Some(RuntimeKind::Python));
        assert_eq!(RuntimeKind::parse("Python"), Some(RuntimeKind::Python));
        assert_eq!(
            RuntimeKind::parse("provided.al2023"),
            Some(RuntimeKind::Bootstrap)
        );
        assert_eq!(RuntimeKind::parse("java21"), None);
    }
}
