"""Unit tests for lamina's Python adapter (base-images/python/bootstrap.py).

Expected strings are AWS's (awslambdaric 4.0.1 tests/test_bootstrap.py and
shared/reference/language-runtimes.md). Run: python3 -m unittest discover base-images/python/tests
"""

import decimal
import importlib.util
import io
import json
import logging
import os
import re
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.join(os.path.dirname(HERE), "bootstrap.py")

_spec = importlib.util.spec_from_file_location("lamina_bootstrap", ADAPTER)
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)


class TaskRoot:
    """A temporary task root on sys.path holding the given modules."""

    def __init__(self, files):
        self.files = files

    def __enter__(self):
        self.dir = tempfile.TemporaryDirectory()
        for name, text in self.files.items():
            path = os.path.join(self.dir.name, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        sys.path.insert(0, self.dir.name)
        importlib.invalidate_caches()
        self.before = set(sys.modules)
        return self.dir.name

    def __exit__(self, *exc):
        sys.path.remove(self.dir.name)
        for name in set(sys.modules) - self.before:
            del sys.modules[name]
        self.dir.cleanup()


class TestHandlerResolution(unittest.TestCase):
    def fault(self, handler):
        with self.assertRaises(bootstrap.FaultException) as cm:
            bootstrap._get_handler(handler)
        return cm.exception

    def test_malformed_handler_name(self):
        e = self.fault("bad_handler")
        self.assertEqual(e.exception_type, "Runtime.MalformedHandlerName")
        self.assertEqual(
            e.msg, "Bad handler 'bad_handler': not enough values to unpack (expected 2, got 1)"
        )

    def test_import_error(self):
        e = self.fault("no_module_xyz.handler")
        self.assertEqual(e.exception_type, "Runtime.ImportModuleError")
        self.assertEqual(
            e.msg, "Unable to import module 'no_module_xyz': No module named 'no_module_xyz'"
        )

    def test_builtin_conflict(self):
        e = self.fault("sys.hello")
        self.assertEqual(e.exception_type, "Runtime.BuiltInModuleConflict")
        self.assertEqual(e.msg, "Cannot use built-in module sys as a handler module")

    def test_syntax_error(self):
        with TaskRoot({"broken_mod.py": "def f()\n    pass\n"}) as root:
            e = self.fault("broken_mod.f")
        self.assertEqual(e.exception_type, "Runtime.UserCodeSyntaxError")
        self.assertTrue(e.msg.startswith("Syntax error in module 'broken_mod': "), e.msg)
        self.assertEqual(len(e.trace), 1)
        self.assertRegex(e.trace[0], r'^  File ".*broken_mod\.py" Line 1\n    def f\(\)')

    def test_handler_not_found(self):
        with TaskRoot({"has_no_handler.py": "x = 1\n"}):
            e = self.fault("has_no_handler.my_handler")
        self.assertEqual(e.exception_type, "Runtime.HandlerNotFound")
        self.assertEqual(e.msg, "Handler 'my_handler' missing on module 'has_no_handler'")

    def test_slash_and_dotted_paths(self):
        files = {"pkg_a/__init__.py": "", "pkg_a/sub.py": "def h(e, c):\n    return 'ok'\n"}
        with TaskRoot(files):
            self.assertEqual(bootstrap._get_handler("pkg_a/sub.h")(None, None), "ok")
            self.assertEqual(bootstrap._get_handler("pkg_a.sub.h")(None, None), "ok")

    def test_builtin_name_inside_a_package_is_allowed(self):
        with TaskRoot({"pkg_b/__init__.py": "", "pkg_b/sys.py": "def h():\n    return 1\n"}):
            self.assertEqual(bootstrap._get_handler("pkg_b/sys.h")(), 1)

    def test_other_exception_at_import_keeps_class_and_user_frames(self):
        with TaskRoot({"raises_at_import.py": "raise ValueError('boom')\n"}):
            try:
                bootstrap._get_handler("raises_at_import.h")
            except Exception:
                result = bootstrap.build_fault_result(sys.exc_info(), None)
        self.assertEqual(result["errorType"], "ValueError")
        self.assertEqual(result["errorMessage"], "boom")
        self.assertEqual(result["requestId"], "")
        # Frames start at the first one outside the adapter (here: this test's own frame).
        self.assertIn("test_bootstrap.py", result["stackTrace"][0])
        self.assertIn("raises_at_import.py\", line 1, in <module>", result["stackTrace"][-1])


class TestInvoke(unittest.TestCase):
    def invoke(self, handler, body=b"{}", content_type="application/json", **kw):
        args = dict(
            invoke_id="invoke-id",
            event_body=body,
            content_type=content_type,
            client_context_json=None,
            cognito_identity_json=None,
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
            epoch_deadline_time_in_ms=0,
            tenant_id=None,
        )
        args.update(kw)
        with mock.patch("sys.stdout", new_callable=io.StringIO) as out:
            header, body = bootstrap.handle_event_request(
                handler, log_sink=bootstrap.StandardLogSink(), **args
            )
        return header, body, out.getvalue()

    def test_exception_error_json_shape_and_log(self):
        def handler(event, context):
            return 1 / 0

        header, body, log = self.invoke(handler)
        self.assertEqual(header["type"], "error")
        self.assertEqual(header["error_type"], "ZeroDivisionError")
        self.assertIn("xray_cause", header)
        error = json.loads(body)
        self.assertEqual(list(error), ["errorMessage", "errorType", "requestId", "stackTrace"])
        self.assertEqual(error["errorMessage"], "division by zero")
        self.assertEqual(error["requestId"], "invoke-id")
        self.assertEqual(len(error["stackTrace"]), 1)
        self.assertRegex(error["stackTrace"][0], r'^  File ".*test_bootstrap\.py", line \d+, in handler\n    return 1 / 0\n$')
        self.assertTrue(
            log.startswith(
                "[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r\xa0\xa0File \""
            ),
            repr(log),
        )
        self.assertTrue(log.endswith("\xa0\xa0\xa0\xa0return 1 / 0\n"), repr(log))
        self.assertEqual(log.count("\n"), 1, "one CloudWatch event")

    def test_bytes_and_raw_event(self):
        header, body, _ = self.invoke(lambda e, c: b"x" + e, body=b"\x01", content_type="application/octet-stream")
        self.assertEqual(header, {"type": "response", "content_type": "application/unknown"})
        self.assertEqual(body, b"x\x01")

    def test_decimal_is_a_number(self):
        header, body, _ = self.invoke(lambda e, c: {"a": decimal.Decimal("1.10"), "b": [decimal.Decimal("2")], "n": decimal.Decimal("NaN")})
        self.assertEqual(header["content_type"], "application/json")
        self.assertEqual(body, b'{"a": 1.10, "b": [2], "n": NaN}')

    def test_unmarshal_and_marshal_errors(self):
        header, body, _ = self.invoke(lambda e, c: e, body=b"{nope")
        error = json.loads(body)
        self.assertEqual(error["errorType"], "Runtime.UnmarshalError")
        self.assertTrue(error["errorMessage"].startswith("Unable to unmarshal input: Expecting property name"))
        self.assertEqual(error["stackTrace"], [])
        header, body, _ = self.invoke(lambda e, c: {1, 2})
        error = json.loads(body)
        self.assertEqual(error["errorType"], "Runtime.MarshalError")
        self.assertEqual(error["errorMessage"], "Unable to marshal response: Object of type set is not JSON serializable")

    def test_context_fields(self):
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": "calc",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/calc",
            "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
        }
        seen = {}

        def handler(event, context):
            seen["ctx"] = context
            seen["remaining"] = context.get_remaining_time_in_millis()
            return None

        with mock.patch.dict(os.environ, env):
            self.invoke(
                handler,
                epoch_deadline_time_in_ms=2**62,
                client_context_json='{"custom": {"k": "v"}, "client": {"app_title": "t"}}',
                cognito_identity_json='{"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"}',
                tenant_id="tenant",
            )
        ctx = seen["ctx"]
        self.assertEqual(ctx.function_name, "calc")
        self.assertEqual(ctx.memory_limit_in_mb, "128")
        self.assertEqual(ctx.function_version, "$LATEST")
        self.assertEqual(ctx.log_group_name, "/aws/lambda/calc")
        self.assertEqual(ctx.aws_request_id, "invoke-id")
        self.assertEqual(ctx.tenant_id, "tenant")
        self.assertEqual(ctx.client_context.custom, {"k": "v"})
        self.assertEqual(ctx.client_context.client.app_title, "t")
        self.assertIsNone(ctx.client_context.client.installation_id)
        self.assertEqual(ctx.identity.cognito_identity_id, "id")
        self.assertEqual(ctx.identity.cognito_identity_pool_id, "pool")
        self.assertGreater(seen["remaining"], 0)
        # Past deadline: 0, never negative; no identity header: still an object.
        self.invoke(handler)
        self.assertEqual(seen["remaining"], 0)
        self.assertIsNone(seen["ctx"].identity.cognito_identity_id)
        self.assertIsNone(seen["ctx"].client_context)

    def test_bad_client_context(self):
        _, body, _ = self.invoke(lambda e, c: None, client_context_json="{bad")
        error = json.loads(body)
        self.assertEqual(error["errorType"], "Runtime.LambdaContextUnmarshalError")
        self.assertTrue(error["errorMessage"].startswith("Unable to parse Client Context JSON: "))

    def test_trace_env(self):
        with mock.patch.dict(os.environ, {"_X_AMZN_TRACE_ID": "old"}):
            bootstrap.update_xray_env_variable("new-id")
            self.assertEqual(os.environ["_X_AMZN_TRACE_ID"], "new-id")
            bootstrap.update_xray_env_variable(None)
            self.assertNotIn("_X_AMZN_TRACE_ID", os.environ)


class TestLogFormats(unittest.TestCase):
    def test_error_log_text(self):
        # awslambdaric test_log_error_indentation_standard_log_sink
        err = bootstrap.make_error("Error message", "ErrorType", ["  line1  ", "  line2  ", "  "])
        with mock.patch("sys.stdout", new_callable=io.StringIO) as out:
            bootstrap.log_error(err, bootstrap.StandardLogSink())
        self.assertEqual(
            out.getvalue(),
            "[ERROR] ErrorType: Error message\rTraceback (most recent call last):"
            "\r\xa0\xa0line1  \r\xa0\xa0line2  \r\xa0\xa0\n",
        )

    def test_error_log_without_trace_or_message(self):
        with mock.patch("sys.stdout", new_callable=io.StringIO) as out:
            bootstrap.log_error(bootstrap.make_error(None, "T", None), bootstrap.StandardLogSink())
            bootstrap.log_error(bootstrap.make_error("m", None, None), bootstrap.StandardLogSink())
        self.assertEqual(out.getvalue(), "[ERROR] T\rTraceback (most recent call last):\n[ERROR] m\rTraceback (most recent call last):\n")

    def test_logging_line_format(self):
        logger = logging.getLogger()
        saved = logger.handlers[:], logger.level
        try:
            logger.handlers = []
            with mock.patch("sys.stdout", new_callable=io.StringIO) as out:
                bootstrap._setup_logging(bootstrap.LogFormat.TEXT, "", bootstrap.StandardLogSink())
                logging.getLogger("x").warning("before")
                bootstrap._GLOBAL_AWS_REQUEST_ID = "req-1"
                logging.getLogger("x").error("multi\nline")
                bootstrap._GLOBAL_AWS_REQUEST_ID = None
            lines = out.getvalue()
        finally:
            logger.handlers, _ = saved
            logger.setLevel(saved[1])
        ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        self.assertRegex(lines, rf"^\[WARNING\]\t{ts}\t\tbefore\n\[ERROR\]\t{ts}\treq-1\tmulti\nline\n$")

    def test_log_level_env(self):
        self.assertEqual(bootstrap._get_log_level_from_env_var(None), "")
        self.assertEqual(bootstrap._get_log_level_from_env_var("TRACE"), "DEBUG")
        self.assertEqual(bootstrap._get_log_level_from_env_var("info"), "INFO")

    def test_json_formatter(self):
        record = logging.LogRecord("a.b", logging.ERROR, "p.py", 1, "TEST %s", ("1",), None)
        record.aws_request_id = ""
        record.tenant_id = None
        data = json.loads(bootstrap.JsonFormatter().format(record))
        self.assertRegex(data.pop("timestamp"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(data, {"level": "ERROR", "logger": "a.b", "message": "TEST 1", "requestId": ""})

    def test_json_error_log(self):
        sink = bootstrap.StandardLogSink()
        with mock.patch.object(bootstrap, "_AWS_LAMBDA_LOG_FORMAT", bootstrap.LogFormat.JSON), \
                mock.patch("sys.stdout", new_callable=io.StringIO) as out:
            bootstrap.log_error(bootstrap.make_error("m", "T", [], "id"), sink)
        data = json.loads(out.getvalue())
        self.assertEqual(list(data), ["timestamp", "log_level", "errorMessage", "errorType", "requestId", "stackTrace"])
        self.assertEqual(data["log_level"], "ERROR")

    def test_telemetry_frames(self):
        r, w = os.pipe()
        with bootstrap.FramedTelemetryLogSink(w) as sink:
            bootstrap.log_error(bootstrap.make_error("m", "T", None), sink)
        data = os.read(r, 1000)
        os.close(r)
        self.assertEqual(int.from_bytes(data[:4], "big"), 0xA55A0017)
        msg = "[ERROR] T: m\nTraceback (most recent call last):"
        self.assertEqual(int.from_bytes(data[4:8], "big"), len(msg))
        self.assertEqual(data[16:].decode(), msg)

    def test_unhandled_exception_warning_text(self):
        self.assertTrue(bootstrap.LAMBDA_UNHANDLED_EXCEPTION_WARNING.startswith(
            "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code."
        ))
        self.assertTrue(bootstrap.LAMBDA_UNHANDLED_EXCEPTION_WARNING.endswith("runtimes-update.html\r"))


class TestSnapStartHooks(unittest.TestCase):
    """AWS's order (awslambdaric lambda_runtime_hooks_runner.py): before-snapshot hooks last
    registered first, after-restore hooks in registration order, with their arguments."""

    def test_hooks_run_in_the_clouds_order_through_snapshot_restore_py(self):
        saved = sys.modules.pop("snapshot_restore_py", None)
        try:
            bootstrap._install_snapshot_restore_py()
            import snapshot_restore_py as hooks
            ran = []

            @hooks.register_before_snapshot
            def first():
                ran.append("before 1")

            hooks.register_before_snapshot(ran.append, "before 2")
            hooks.register_after_restore(ran.append, "after 1")

            @hooks.register_after_restore
            def second():
                ran.append("after 2")

            bootstrap.run_before_snapshot()
            bootstrap.run_after_restore()
            self.assertEqual(ran, ["before 2", "before 1", "after 1", "after 2"])
            self.assertEqual(hooks.get_before_snapshot(), [], "popped as they ran")
        finally:
            sys.modules.pop("snapshot_restore_py", None)
            if saved is not None:
                sys.modules["snapshot_restore_py"] = saved


class TestFraming(unittest.TestCase):
    def test_every_golden_frame_encodes_byte_for_byte_and_decodes(self):
        # tests/fixtures/worker-frames.json, shared with the Rust and Node sides
        # (LAMINA_WORKER_FRAMES names it where the repository is not around this folder).
        path = os.environ.get("LAMINA_WORKER_FRAMES") or os.path.join(
            HERE, "..", "..", "..", "tests", "fixtures", "worker-frames.json")
        with open(path) as f:
            golden = json.load(f)
        self.assertGreaterEqual(len(golden["frames"]), 10)
        for frame in golden["frames"]:
            body = bytes.fromhex(frame["body_hex"])
            out = io.BytesIO()
            bootstrap.write_message(out, frame["header"], body)
            self.assertEqual(out.getvalue().hex(), frame["wire_hex"], frame["header"])
            header, got = bootstrap.read_message(io.BytesIO(bytes.fromhex(frame["wire_hex"])))
            self.assertEqual((header, got), (frame["header"], body))
        self.assertEqual(bootstrap.OUTPUT_MARK_PREFIX, bytes.fromhex(golden["output_mark_prefix_hex"]))
        env = golden["env"]
        self.assertEqual(
            (bootstrap.ENV_FD_IN, bootstrap.ENV_FD_OUT, bootstrap.ENV_OUTPUT_MARKS),
            (env["fd_in"], env["fd_out"], env["output_marks"]),
        )

    def test_round_trip_matches_rust_layout(self):
        buf = io.BytesIO()
        bootstrap.write_message(buf, {"type": "response", "content_type": "application/json"}, b"{}")
        raw = buf.getvalue()
        header = b'{"type":"response","content_type":"application/json"}'
        self.assertEqual(raw, len(header).to_bytes(4, "big") + header + (2).to_bytes(8, "big") + b"{}")
        buf.seek(0)
        self.assertEqual(bootstrap.read_message(buf), ({"type": "response", "content_type": "application/json"}, b"{}"))
        self.assertIsNone(bootstrap.read_message(buf))

    def test_truncated(self):
        with self.assertRaises(EOFError):
            bootstrap.read_message(io.BytesIO(b"\x00\x00\x00\x05{}"))


if __name__ == "__main__":
    unittest.main()
