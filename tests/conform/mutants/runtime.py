"""A deliberately small Python custom runtime for testing the conformance kit, with faults to plant.

Clean (``CONFORM_FAULT`` unset) it follows the contract the kit checks; with
``CONFORM_FAULT=<name>`` it breaks exactly one rule, so that exactly one check must fail
(tests/conform/test_mutants.py). Standard library only; one ``http.client`` connection per
worker thread.
"""

import asyncio
import base64
import http.client
import importlib
import inspect
import json
import os
import signal
import sys
import threading
import time
import traceback

FAULT = os.environ.get("CONFORM_FAULT", "")
FAULTS = {
    "double-post": "invoke-success",
    "init-no-exit": "init-error",
    "error-no-stack": "error-shape",
    "no-xray": "xray-cause",
    "stale-trace": "trace-id",
    "no-tenant": "context-headers",
    "no-invocation-id": "invocation-id",
    "empty-header-crash": "empty-headers",
    "error-after-413": "response-too-large",
    "exit-on-410": "gone-410",
    "ignore-500": "server-error-500",
    "hang-on-drop": "dropped-connection",
    "stream-no-mode": "streaming",
    "trailer-not-base64": "stream-trailers",
    "serial": "concurrency",
    "block-sigterm": "sigterm",
}
BASE = "/2018-06-01/runtime"
_trace_set = False


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers["lambda-runtime-aws-request-id"]
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))
        self.tenant_id = (
            None if FAULT == "no-tenant" else (headers.get("lambda-runtime-aws-tenant-id") or None)
        )
        client = headers.get("lambda-runtime-client-context")
        if FAULT == "empty-header-crash":
            self.client_context = _Obj(json.loads(client)) if client is not None else None
        else:
            self.client_context = _Obj(json.loads(client)) if client else None
        identity = headers.get("lambda-runtime-cognito-identity")
        data = json.loads(identity) if identity else {}
        self.identity = (
            _Obj({"cognito_identity_id": data.get("cognitoIdentityId")}) if data else None
        )

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _Obj:
    def __init__(self, values):
        self.__dict__.update(values)


def error_object(exc):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])

    def request(self, method, path, body=None, headers=None):
        try:
            self.conn.request(method, BASE + path, body=body, headers=headers or {})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            if FAULT == "hang-on-drop":
                time.sleep(3600)
            sys.exit(1)  # the connection to the Runtime API is gone: nothing sane is left to do
        if response.status == 500 and FAULT != "ignore-500":
            sys.stderr.write("runtime API error 500: exiting\n")
            sys.exit(1)
        if response.status == 410 and FAULT == "exit-on-410":
            sys.exit(1)
        return response, data

    def post_result(self, request_id, path_kind, body, headers):
        response, _ = self.request("POST", f"/invocation/{request_id}/{path_kind}", body, headers)
        if response.status == 413 and FAULT == "error-after-413":
            self.request(
                "POST",
                f"/invocation/{request_id}/error",
                json.dumps(
                    {"errorMessage": "too large", "errorType": "TooLarge", "stackTrace": []}
                ).encode(),
                {},
            )
        if response.status not in (202,):
            sys.stderr.write(f"runtime API answered {response.status} to /{path_kind}\n")
        return response

    def stream(self, request_id, headers, agen):
        conn = self.conn
        conn.putrequest("POST", f"{BASE}/invocation/{request_id}/response")
        if FAULT != "stream-no-mode":
            conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader(
            "Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
        )
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        trailer = b""

        async def pump():
            async for chunk in agen:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))

        try:
            asyncio.run(pump())
        except Exception as exc:
            body = json.dumps(error_object(exc)).encode()
            encoded = body if FAULT == "trailer-not-base64" else base64.b64encode(body)
            trailer = (
                b"Lambda-Runtime-Function-Error-Type: Function."
                + type(exc).__name__.encode()
                + b"\r\n"
                b"Lambda-Runtime-Function-Error-Body: " + encoded + b"\r\n"
            )
        conn.send(b"0\r\n" + trailer + b"\r\n")
        response = conn.getresponse()
        response.read()


def serve(handler):
    global _trace_set
    client = Client()
    while True:
        response, event = client.request("GET", "/invocation/next")
        headers = {k.lower(): v for k, v in response.getheaders()}
        context = Context(headers)
        trace = headers.get("lambda-runtime-trace-id")
        if trace and not (FAULT == "stale-trace" and _trace_set):
            os.environ["_X_AMZN_TRACE_ID"] = trace
            _trace_set = True
        echo = {}
        if headers.get("lambda-runtime-invocation-id") and FAULT != "no-invocation-id":
            echo["Lambda-Runtime-Invocation-Id"] = headers["lambda-runtime-invocation-id"]
        request_id = context.aws_request_id
        try:
            result = handler(json.loads(event or b"null"), context)
        except Exception as exc:
            error = error_object(exc)
            if FAULT == "error-no-stack":
                del error["stackTrace"]
            post_headers = dict(
                echo, **{"Lambda-Runtime-Function-Error-Type": "Function." + type(exc).__name__}
            )
            if FAULT != "no-xray":
                cause = {
                    "working_directory": os.getcwd(),
                    "exceptions": [{"message": str(exc), "type": type(exc).__name__, "stack": []}],
                    "paths": [],
                }
                post_headers["Lambda-Runtime-Function-XRay-Error-Cause"] = json.dumps(cause)
            client.post_result(request_id, "error", json.dumps(error).encode(), post_headers)
            continue
        if inspect.isasyncgen(result):
            client.stream(request_id, echo, result)
            continue
        body = json.dumps(result).encode()
        client.post_result(
            request_id, "response", body, dict(echo, **{"Content-Type": "application/json"})
        )
        if FAULT == "double-post":
            client.post_result(
                request_id, "response", body, dict(echo, **{"Content-Type": "application/json"})
            )


def main():
    if FAULT == "block-sigterm":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:
        body = json.dumps(error_object(exc)).encode()
        Client().request(
            "POST",
            "/init/error",
            body,
            {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
        )
        if FAULT != "init-no-exit":
            sys.exit(1)
        Client().request("GET", "/invocation/next")
        return
    workers = int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") or 1)
    if FAULT == "serial":
        workers = 1
    for _ in range(workers - 1):
        threading.Thread(target=serve, args=(handler,), daemon=True).start()
    serve(handler)


if __name__ == "__main__":
    main()
