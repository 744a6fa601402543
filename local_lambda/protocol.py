"""AWS's side of the Lambda protocols, as constants: paths, header names, limits, error bodies.

They live here once for the whole local Lambda, and never in common with ``runtime_core``:
the two sides are independent readings of the protocol (see CONTRIBUTING.md), so a
misreading on one side shows up as a failing test instead of passing everywhere.
Facts and bodies follow docs/runtime-api.md (as AWS's emulator renders them).
"""

from __future__ import annotations

import json
import secrets
import time

RUNTIME_PREFIX = "/2018-06-01/runtime"
EXTENSION_PREFIX = "/2020-01-01/extension"
INVOKE_PREFIX = "/2015-03-31/functions/"

# Largest buffered response (and request) RIE accepts: 6 MiB + 100 bytes.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 + 100
# AWS's limit on a synchronous invoke's request body.
MAX_INVOKE_REQUEST_BYTES = 6 * 1024 * 1024
# AWS's limit on an asynchronous (Event) invoke's request body.
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024
# The invoker's log tail (X-Amz-Log-Result) is the last 4 KB of the invocation's log.
LOG_TAIL_BYTES = 4096
# Lambda allows at most this many extensions per function.
MAX_EXTENSIONS = 10

# Headers sent to the runtime on /next.
H_REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
H_DEADLINE = "Lambda-Runtime-Deadline-Ms"
H_FUNCTION_ARN = "Lambda-Runtime-Invoked-Function-Arn"
H_TRACE_ID = "Lambda-Runtime-Trace-Id"
H_CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
H_COGNITO_IDENTITY = "Lambda-Runtime-Cognito-Identity"
H_TENANT_ID = "Lambda-Runtime-Aws-Tenant-Id"
H_INVOCATION_ID = "Lambda-Runtime-Invocation-Id"
# Headers the runtime sends (lower case: that is how requests are parsed).
H_ERROR_TYPE = "lambda-runtime-function-error-type"
H_ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
# Extensions API.
H_EXTENSION_NAME = "lambda-extension-name"
H_EXTENSION_ID = "Lambda-Extension-Identifier"
H_EXTENSION_EVENT_ID = "Lambda-Extension-Event-Identifier"
H_EXTENSION_ACCEPT_FEATURE = "lambda-extension-accept-feature"
H_EXTENSION_ERROR_TYPE = "lambda-extension-function-error-type"
# Telemetry API and the older Logs API it superseded (spec §6).
TELEMETRY_PATH = "/2022-07-01/telemetry"
LOGS_PATH = "/2020-08-15/logs"
# A file in the merged /opt whose presence disables external extensions (spec §5).
DISABLE_EXTENSIONS_FILE = "disable-extensions-jwigqn8j"

# The account and region in the ARNs the local Lambda makes up.
ACCOUNT_ID = "123456789012"
RUNTIME_VERSION = "provided:al2023.local"
RUNTIME_VERSION_ARN = "arn:aws:lambda:us-east-1::runtime:local_lambda"
# The function versions the local Lambda serves (FunctionConfig.function_version picks one):
# the unpublished one, and the one version a SnapStart function is published as (SnapStart
# applies to published versions only; https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html).
LATEST_VERSION = "$LATEST"
PUBLISHED_VERSION = "1"


def new_trace_id() -> str:
    """An X-Ray trace header like Lambda's when tracing is passive (not sampled)."""
    root = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"{root};Parent={secrets.token_hex(8)};Sampled=0"


def error_body(error_type: str, message: str) -> bytes:
    """An error body the way RIE renders it (Go's json.Encoder: a trailing newline)."""
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode() + b"\n"


ACCEPTED = b'{"status":"OK"}\n'
INVALID_REQUEST_ID = error_body("InvalidRequestID", "Invalid request ID")
TOO_LARGE = error_body(
    "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
)
INVOKE_TIMEOUT = error_body("InvokeTimeout", "Invoke timeout")
INTERNAL_ERROR = error_body("InternalServerError", "Internal Server Error")


def invalid_state(from_state: str, to_state: str) -> bytes:
    """403 body for a request the current state does not allow (e.g. a second response)."""
    return error_body(
        "InvalidStateTransition",
        f"State transition from {from_state} to {to_state} failed for runtime. "
        "Error: State transition is not allowed",
    )


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def response_too_large_for_invoker(size: int) -> bytes:
    """What the invoker gets when the runtime's response was answered with 413."""
    return json.dumps(
        {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed "
            f"payload size ({MAX_PAYLOAD_BYTES} bytes).",
        }
    ).encode()


def platform_error(request_id: str, error_type: str, detail: str) -> bytes:
    """A platform-made error for the invoker: timeouts, runtime exits, missing responses."""
    message = f"RequestId: {request_id} Error: {detail}"
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
