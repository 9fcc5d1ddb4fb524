"""lamina's Python worker adapter, driven by lamina-ric.

Started once per execution environment as ``python3 bootstrap.py <handler>`` with cwd = the
task root. It imports the handler once, then runs one event at a time as the RIC sends them.
stdout and stderr are the user's (the container's output); the RIC and this adapter talk over
two private pipes whose fd numbers are in ``_LAMINA_FD_IN`` / ``_LAMINA_FD_OUT`` (see the
"framing" section and crates/ric/src/framing.rs).

Behaviour users can observe (handler resolution, error types and messages, the context
object, error JSON, log lines) reproduces AWS's Python runtime interface client,
aws/aws-lambda-python-runtime-interface-client 4.0.1 (awslambdaric, Apache-2.0), whose
structure and names this file follows; see shared/reference/language-runtimes.md.
Python 3.9+, standard library only.

Not yet: SnapStart hooks, multi-concurrency (AWS_LAMBDA_MAX_CONCURRENCY).
"""

import decimal
import importlib
import json
import logging
import math
import os
import struct
import sys
import time
import traceback

# --------------------------------------------------------------------------------------------
# framing: u32 BE header length, JSON header, u64 BE body length, body bytes.
# --------------------------------------------------------------------------------------------

ENV_FD_IN = "_LAMINA_FD_IN"
ENV_FD_OUT = "_LAMINA_FD_OUT"
# Set by lamina's emulator: mark where each invoke's output ends.
ENV_OUTPUT_MARKS = "_LAMINA_OUTPUT_MARKS"


def read_message(stream):
    """Read one (header dict, body bytes) message; None on a clean EOF between messages."""
    raw = stream.read(4)
    if not raw:
        return None
    if len(raw) < 4:
        raise EOFError("truncated frame header length")
    (header_len,) = struct.unpack(">I", raw)
    header = _read_exact(stream, header_len)
    (body_len,) = struct.unpack(">Q", _read_exact(stream, 8))
    body = _read_exact(stream, body_len)
    return json.loads(header), body


def _read_exact(stream, n):
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError("truncated frame")
    return data


def write_message(stream, header, body=b""):
    """Write one message and flush it."""
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    stream.write(struct.pack(">I", len(encoded)) + encoded + struct.pack(">Q", len(body)))
    stream.write(body)
    stream.flush()


# --------------------------------------------------------------------------------------------
# errors (awslambdaric lambda_runtime_exception.py, bootstrap.py)
# --------------------------------------------------------------------------------------------

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE U+00A0


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
    LAMBDA_RUNTIME_CLIENT_ERROR = "Runtime.LambdaRuntimeClientError"

    def __init__(self, exception_type, msg, trace=None):
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def replace_line_indentation(line, indent_char, new_indent_char):
    ident_chars_count = 0
    for c in line:
        if c != indent_char:
            break
        ident_chars_count += 1
    return (new_indent_char * ident_chars_count) + line[ident_chars_count:]


def extract_traceback(tb):
    return [
        (frame.filename, frame.lineno, frame.name, frame.line)
        for frame in traceback.extract_tb(tb)
    ]


def _user_frames(tb):
    """Frames from the first one that is not in this file (AWS filters on the file name)."""
    tb_tuples = extract_traceback(tb)
    for i in range(len(tb_tuples)):
        if "/bootstrap.py" not in tb_tuples[i][0]:
            return tb_tuples[i:]
    return tb_tuples


def build_fault_result(exc_info, msg):
    etype, value, tb = exc_info
    return make_error(
        msg if msg else str(value),
        etype.__name__,
        traceback.format_list(_user_frames(tb)),
    )


def make_xray_fault(ex_type, ex_msg, working_dir, tb_tuples):
    stack = []
    files = set()
    for tb_file, tb_line, tb_method, _ in tb_tuples:
        stack.append({"label": tb_method, "path": tb_file, "line": tb_line})
        files.add(tb_file)
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": list(files),
    }


def _text_error_lines(error_result):
    error_description = "[ERROR]"
    error_result_type = error_result.get("errorType")
    if error_result_type:
        error_description += " " + error_result_type
    error_result_message = error_result.get("errorMessage")
    if error_result_message:
        if error_result_type:
            error_description += ":"
        error_description += " " + error_result_message
    lines = [error_description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for trace_element in stack_trace:
            if trace_element == "":
                lines.append("")
            else:
                for trace_line in trace_element.splitlines():
                    lines.append(replace_line_indentation(trace_line, " ", ERROR_LOG_IDENT))
    return lines


def log_error(error_result, log_sink):
    """The error log line: text (§8) or, in JSON mode, one JSON record with `log_level`."""
    if _AWS_LAMBDA_LOG_FORMAT == LogFormat.JSON:
        record = {
            "timestamp": time.strftime(_DATETIME_FORMAT, logging.Formatter.converter(time.time())),
            "log_level": "ERROR",
            **error_result,
        }
        log_sink.log_error([to_json(record)], _JSON_FRAME_TYPES[logging.ERROR])
    else:
        log_sink.log_error(_text_error_lines(error_result), _TEXT_FRAME_TYPES[logging.ERROR])


# --------------------------------------------------------------------------------------------
# marshalling (awslambdaric lambda_runtime_marshaller.py, with the standard library's json
# instead of simplejson: Decimals are spliced in as raw number text after encoding)
# --------------------------------------------------------------------------------------------

_NON_ASCII_RUNTIMES = {
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
}


class Encoder(json.JSONEncoder):
    def __init__(self):
        ensure_ascii = os.environ.get("AWS_EXECUTION_ENV") not in _NON_ASCII_RUNTIMES
        super().__init__(ensure_ascii=ensure_ascii, allow_nan=True)
        self._decimals = []
        self._marker = "\x00lamina-decimal-%d-" % id(self)

    def default(self, obj):
        if isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return math.nan
            self._decimals.append(str(obj))
            return "%s%d\x00" % (self._marker, len(self._decimals) - 1)
        if isinstance(obj, bytes):
            # simplejson encodes bytes values as UTF-8 text.
            return obj.decode("utf-8")
        return super().default(obj)

    def encode(self, obj):
        self._decimals = []
        text = super().encode(obj)
        if not self._decimals:
            return text
        quoted = json.JSONEncoder(ensure_ascii=self.ensure_ascii).encode
        for i, value in enumerate(self._decimals):
            text = text.replace(quoted("%s%d\x00" % (self._marker, i)), value, 1)
        return text


def to_json(obj):
    return Encoder().encode(obj)


class LambdaMarshaller:
    def __init__(self):
        self.jsonEncoder = Encoder()

    def unmarshal_request(self, request, content_type="application/json"):
        if content_type != "application/json":
            return request
        try:
            return json.loads(request)
        except Exception as e:
            raise FaultException(
                FaultException.UNMARSHAL_ERROR,
                "Unable to unmarshal input: {}".format(str(e)),
                None,
            )

    def marshal_response(self, response):
        if isinstance(response, bytes):
            return response, "application/unknown"
        try:
            return self.jsonEncoder.encode(response), "application/json"
        except Exception as e:
            raise FaultException(
                FaultException.MARSHAL_ERROR,
                "Unable to marshal response: {}".format(str(e)),
                None,
            )


# --------------------------------------------------------------------------------------------
# context (awslambdaric lambda_context.py)
# --------------------------------------------------------------------------------------------


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(Client, self.client_context.client)

        self.identity = make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        epoch_now_in_ms = int(time.time() * 1000)
        delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        for handler in logging.getLogger().handlers:
            if hasattr(handler, "log_sink"):
                handler.log_sink.log(str(msg))
                return
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
            "])"
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}"
            "])"
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"custom={self.custom},"
            f"env={self.env},"
            f"client={self.client}"
            "])"
        )


def make_obj_from_dict(_class, _dict, fields=None):
    if _dict is None:
        return None
    obj = _class()
    for field in fields or _class.__slots__:
        setattr(obj, field, _dict.get(field, None))
    return obj


def parse_json_header(header, name):
    try:
        return json.loads(header)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


def create_lambda_context(
    client_context_json,
    cognito_identity_json,
    epoch_deadline_time_in_ms,
    invoke_id,
    invoked_function_arn,
    tenant_id,
):
    client_context = None
    if client_context_json:
        client_context = parse_json_header(client_context_json, "Client Context")
    cognito_identity = None
    if cognito_identity_json:
        cognito_identity = parse_json_header(cognito_identity_json, "Cognito Identity")
    return LambdaContext(
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn,
        tenant_id,
    )


# --------------------------------------------------------------------------------------------
# logging (awslambdaric bootstrap.py, lambda_runtime_log_utils.py)
# --------------------------------------------------------------------------------------------

_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_RESERVED_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
    "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
    "relativeCreated", "thread", "threadName", "processName", "process",
    "aws_request_id", "tenant_id", "_frame_type",
}  # fmt: skip


class LogFormat:
    JSON = 0b0
    TEXT = 0b1

    @classmethod
    def from_str(cls, value):
        if value and value.upper() == "JSON":
            return cls.JSON
        return cls.TEXT


def _get_log_level_from_env_var(log_level):
    return {None: "", "TRACE": "DEBUG"}.get(log_level, log_level).upper()


# Frame type = base | level mask (language-runtimes.md §8, telemetry log fd).
_LEVEL_MASKS = {
    logging.NOTSET: 0x00,
    logging.DEBUG: 0x08,
    logging.INFO: 0x0C,
    logging.WARNING: 0x10,
    logging.ERROR: 0x14,
    logging.CRITICAL: 0x18,
}
_JSON_FRAME_TYPES = {lvl: (0xA55A0002 | m).to_bytes(4, "big") for lvl, m in _LEVEL_MASKS.items()}
_TEXT_FRAME_TYPES = {lvl: (0xA55A0003 | m).to_bytes(4, "big") for lvl, m in _LEVEL_MASKS.items()}
_DEFAULT_FRAME_TYPE = _TEXT_FRAME_TYPES[logging.NOTSET]

_AWS_LAMBDA_LOG_FORMAT = LogFormat.from_str(os.environ.get("AWS_LAMBDA_LOG_FORMAT"))
_AWS_LAMBDA_LOG_LEVEL = _get_log_level_from_env_var(os.environ.get("AWS_LAMBDA_LOG_LEVEL"))

_json_encoder = json.JSONEncoder(ensure_ascii=False)


def _format_log_level(record):
    return min(50, max(0, record.levelno)) // 10 * 10


class JsonFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(datefmt=_DATETIME_FORMAT)

    def format(self, record):
        record.levelno = _format_log_level(record)
        record.levelname = logging.getLevelName(record.levelno)
        record._frame_type = _JSON_FRAME_TYPES.get(record.levelno, _JSON_FRAME_TYPES[logging.NOTSET])
        exc_info = record.exc_info
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": (
                f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None
            ),
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        result.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RESERVED_FIELDS and key not in result
        )
        result = {k: v for k, v in result.items() if v is not None}
        return _json_encoder.encode(result) + "\n"


class LambdaLoggerHandler(logging.Handler):
    def __init__(self, log_sink):
        logging.Handler.__init__(self)
        self.log_sink = log_sink

    def emit(self, record):
        self.log_sink.log(self.format(record))


class LambdaLoggerHandlerWithFrameType(logging.Handler):
    def __init__(self, log_sink):
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record):
        self.log_sink.log(
            self.format(record),
            frame_type=(
                getattr(record, "_frame_type", None)
                or _TEXT_FRAME_TYPES.get(_format_log_level(record))
            ),
        )


_GLOBAL_AWS_REQUEST_ID = None
_GLOBAL_TENANT_ID = None


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _GLOBAL_AWS_REQUEST_ID or ""
        record.tenant_id = _GLOBAL_TENANT_ID
        return True


class Unbuffered(object):
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


class StandardLogSink(object):
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def log(self, msg, frame_type=None):
        sys.stdout.write(msg)

    def log_error(self, message_lines, frame_type=None):
        sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(message_lines) + "\n")


class FramedTelemetryLogSink(object):
    """Frames: type u32 BE, length u32 BE, timestamp µs u64 BE, UTF-8 message (§8)."""

    def __init__(self, fd):
        self.fd = int(fd)

    def __enter__(self):
        self.file = os.fdopen(self.fd, "wb", 0)
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        self.file.close()

    def log(self, msg, frame_type=None):
        encoded_msg = msg.encode("utf8")
        timestamp = int(time.time_ns() / 1000)
        self.file.write(
            (frame_type or _DEFAULT_FRAME_TYPE)
            + len(encoded_msg).to_bytes(4, "big")
            + timestamp.to_bytes(8, "big")
            + encoded_msg
        )

    def log_error(self, message_lines, frame_type=None):
        self.log("\n".join(message_lines), frame_type=frame_type or _TEXT_FRAME_TYPES[logging.ERROR])


def create_log_sink():
    if "_LAMBDA_TELEMETRY_LOG_FD" in os.environ:
        fd = os.environ["_LAMBDA_TELEMETRY_LOG_FD"]
        del os.environ["_LAMBDA_TELEMETRY_LOG_FD"]
        return FramedTelemetryLogSink(fd)
    return StandardLogSink()


def _setup_logging(log_format, log_level, log_sink):
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()
    if log_format == LogFormat.JSON or log_level:
        logger_handler = LambdaLoggerHandlerWithFrameType(log_sink)
    else:
        logger_handler = LambdaLoggerHandler(log_sink)
    if log_format == LogFormat.JSON:
        logger_handler.setFormatter(JsonFormatter())
    else:
        logger_handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    if log_level in logging._nameToLevel:
        logger.setLevel(log_level)
    logger_handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(logger_handler)


LAMBDA_WARNING = "LAMBDA_WARNING"
LAMBDA_UNHANDLED_EXCEPTION_WARNING = (
    f"{LAMBDA_WARNING}: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)
PREVIEW_RUNTIME_ENVS = {"AWS_Lambda_python3.15"}


def _log_preview_runtime_warning():
    if os.environ.get("LAMBDA_DISABLE_PREVIEW_WARN", ""):
        return
    if os.environ.get("AWS_EXECUTION_ENV", "") in PREVIEW_RUNTIME_ENVS:
        region = os.environ.get("AWS_REGION", "")
        domain = "docs.amazonaws.cn" if region.startswith("cn-") else "docs.aws.amazon.com"
        logging.warning(
            f"{LAMBDA_WARNING}: "
            "This is a preview runtime version and should not be used for production workloads. "
            "For further information and to provide feedback, see "
            f"https://{domain}/lambda/latest/dg/lambda-runtimes.html\r"
        )


# --------------------------------------------------------------------------------------------
# handler resolution (awslambdaric bootstrap._get_handler)
# --------------------------------------------------------------------------------------------


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '{}': {}".format(handler, str(e)),
        )

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )

    try:
        request_handler = getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )
    return request_handler


# --------------------------------------------------------------------------------------------
# invoke (awslambdaric bootstrap.handle_event_request), answering with a frame instead of HTTP
# --------------------------------------------------------------------------------------------

_MAX_XRAY_CAUSE = 1024 * 1024
_marshaller = LambdaMarshaller()


def update_xray_env_variable(xray_trace_id):
    if xray_trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = xray_trace_id
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]


def handle_event_request(
    request_handler,
    invoke_id,
    event_body,
    content_type,
    client_context_json,
    cognito_identity_json,
    invoked_function_arn,
    epoch_deadline_time_in_ms,
    tenant_id,
    log_sink,
):
    """Run the handler on one event; return the (header, body) frame to send back."""
    error_result = None
    try:
        lambda_context = create_lambda_context(
            client_context_json,
            cognito_identity_json,
            epoch_deadline_time_in_ms,
            invoke_id,
            invoked_function_arn,
            tenant_id,
        )
        event = _marshaller.unmarshal_request(event_body, content_type)
        response = request_handler(event, lambda_context)
        result, result_content_type = _marshaller.marshal_response(response)
    except FaultException as e:
        xray_fault = make_xray_fault("LambdaValidationError", e.msg, os.getcwd(), [])
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        tb_tuples = _user_frames(tb)
        xray_fault = make_xray_fault(etype.__name__, str(value), os.getcwd(), tb_tuples)
        error_result = make_error(
            str(value), etype.__name__, traceback.format_list(tb_tuples), invoke_id
        )

    if error_result is not None:
        log_error(error_result, log_sink)
        header = {"type": "error", "error_type": error_result["errorType"]}
        cause = to_json(xray_fault)
        if len(cause.encode()) < _MAX_XRAY_CAUSE:
            header["xray_cause"] = cause
        return header, to_json(error_result).encode("utf-8")
    if not isinstance(result, bytes):
        result = result.encode("utf-8")
    return {"type": "response", "content_type": result_content_type}, result


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def _set_sys_path():
    """sys.path[0] = the task root (cwd), as `python -m awslambdaric` has it, followed by
    the layer directories Lambda adds (/opt/python/lib/pythonX.Y/site-packages, /opt/python)."""
    task_root = os.getcwd()
    layer_paths = [
        "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2],
        "/opt/python",
    ]
    rest = [p for p in sys.path[1:] if p not in layer_paths and p != task_root]
    sys.path[:] = [task_root] + layer_paths + rest


def _open_pipes():
    fd_in = int(os.environ.pop(ENV_FD_IN, "3"))
    fd_out = int(os.environ.pop(ENV_FD_OUT, "4"))
    for fd in (fd_in, fd_out):
        os.set_inheritable(fd, False)  # user subprocesses must not hold the RIC's pipes
    return os.fdopen(fd_in, "rb"), os.fdopen(fd_out, "wb")


# Starts the line that ends an invoke's output (crates/runtime-api/src/logs.rs; the golden
# frames file lists its bytes).
OUTPUT_MARK_PREFIX = b"\x1e\x1flamina-end "


def mark_output_end(request_id):
    """Tell lamina's emulator that this invoke's output is complete: a mark on stdout and on
    stderr, after everything the invoke wrote there (both are unbuffered), before the response.
    The emulator strips the marks; it asks for them with _LAMINA_OUTPUT_MARKS=1."""
    mark = OUTPUT_MARK_PREFIX + ("%s\n" % request_id).encode()
    for fd in (1, 2):
        try:
            os.write(fd, mark)
        except OSError:
            pass  # the handler closed it; the emulator falls back to waiting


# SnapStart (shared/reference/runtime-api.md §1.10, language-runtimes.md §6). AWS's managed
# Python runtimes ship `snapshot_restore_py` (PyPI snapshot-restore-py) for the hooks; this
# adapter provides the same API when the function does not bring its own copy.
_SNAPSHOT_RESTORE_PY = """
_before_snapshot_registry = []
_after_restore_registry = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot_registry.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore_registry.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return _before_snapshot_registry


def get_after_restore():
    return _after_restore_registry
"""
SNAP_START = "snap-start"
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"


def _install_snapshot_restore_py():
    import importlib.util
    import types

    try:
        if importlib.util.find_spec("snapshot_restore_py") is not None:
            return
    except (ImportError, ValueError):
        pass
    module = types.ModuleType("snapshot_restore_py")
    exec(_SNAPSHOT_RESTORE_PY, module.__dict__)
    sys.modules["snapshot_restore_py"] = module


def run_before_snapshot():
    """Before-snapshot hooks, last registered first (awslambdaric lambda_runtime_hooks_runner)."""
    module = sys.modules.get("snapshot_restore_py")
    if module is None:
        return
    hooks = module.get_before_snapshot()
    while hooks:
        func, args, kwargs = hooks.pop()
        func(*args, **kwargs)


def run_after_restore():
    """After-restore hooks, in the order they were registered."""
    module = sys.modules.get("snapshot_restore_py")
    if module is None:
        return
    for func, args, kwargs in module.get_after_restore():
        func(*args, **kwargs)


def _snapshot_and_restore(from_ric, to_ric, log_sink):
    """A snap-start environment: before-snapshot hooks, `ready` (lamina-ric then waits for the
    restore), and on its `restore`, the after-restore hooks. A hook that raises is the init's
    error (exit 64) or the restore's (exit 65), as AWS's client reports them."""
    try:
        run_before_snapshot()
    except Exception:
        _hook_failed(to_ric, log_sink, BEFORE_SNAPSHOT_ERROR, 64)
    write_message(to_ric, {"type": "ready"})
    message = read_message(from_ric)
    if message is None:
        sys.exit(0)  # the RIC is gone
    if message[0].get("type") != "restore":
        raise RuntimeError("lamina adapter: unexpected message %r" % message[0].get("type"))
    try:
        run_after_restore()
    except Exception:
        _hook_failed(to_ric, log_sink, AFTER_RESTORE_ERROR, 65)


def _hook_failed(to_ric, log_sink, error_type, exit_code):
    """Report the exception being handled as the hook's failure, then exit `exit_code`."""
    error_result = build_fault_result(sys.exc_info(), None)
    log_error(error_result, log_sink)
    write_message(
        to_ric,
        {"type": "init_error", "error_type": error_type},
        to_json(error_result).encode("utf-8"),
    )
    sys.exit(exit_code)


def run(handler, from_ric, to_ric):
    global _GLOBAL_AWS_REQUEST_ID, _GLOBAL_TENANT_ID
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    # Read once and hidden from the handler (and its subprocesses).
    marks = os.environ.pop(ENV_OUTPUT_MARKS, None) == "1"

    with create_log_sink() as log_sink:
        error_result = None
        try:
            _setup_logging(_AWS_LAMBDA_LOG_FORMAT, _AWS_LAMBDA_LOG_LEVEL, log_sink)
            _log_preview_runtime_warning()
            _install_snapshot_restore_py()
            request_handler = _get_handler(handler)
        except FaultException as e:
            error_result = make_error(e.msg, e.exception_type, e.trace)
        except Exception:
            error_result = build_fault_result(sys.exc_info(), None)

        if error_result is not None:
            logging.warning(LAMBDA_UNHANDLED_EXCEPTION_WARNING)
            log_error(error_result, log_sink)
            write_message(
                to_ric,
                {"type": "init_error", "error_type": error_result["errorType"]},
                to_json(error_result).encode("utf-8"),
            )
            sys.exit(1)

        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == SNAP_START:
            _snapshot_and_restore(from_ric, to_ric, log_sink)
        write_message(to_ric, {"type": "ready"})
        while True:
            message = read_message(from_ric)
            if message is None:
                return  # the RIC is gone
            header, body = message
            if header.get("type") != "invoke":
                raise RuntimeError("lamina adapter: unexpected message %r" % header.get("type"))
            _GLOBAL_AWS_REQUEST_ID = header["request_id"]
            _GLOBAL_TENANT_ID = header.get("tenant_id")
            update_xray_env_variable(header.get("trace_id"))
            reply, reply_body = handle_event_request(
                request_handler,
                header["request_id"],
                body,
                header.get("content_type"),
                header.get("client_context"),
                header.get("cognito_identity"),
                header.get("invoked_function_arn"),
                int(header["deadline_ms"]),
                header.get("tenant_id"),
                log_sink,
            )
            if marks:
                mark_output_end(header["request_id"])
            write_message(to_ric, reply, reply_body)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: bootstrap.py <handler>\n")
        sys.exit(2)
    _set_sys_path()
    from_ric, to_ric = _open_pipes()
    run(argv[1], from_ric, to_ric)


if __name__ == "__main__":
    main(sys.argv)
