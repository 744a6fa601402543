"""The smallest honest custom runtime: stdlib urllib and json, one handler, no error niceties.

It is the baseline the seeds' tutorial sample stands for (that one uses `requests`; this one
uses only the standard library so it can run in a bare interpreter). It is a benchmark
contender, not something to deploy: no context object beyond a dict, no init-error
reporting, a new HTTP connection per request.
"""

import importlib
import json
import os
import sys
import traceback
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"


def post(path: str, body: bytes) -> None:
    request = urllib.request.Request(API + path, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request).read()


def main() -> None:
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    while True:
        with urllib.request.urlopen(API + "next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read() or b"null")
            context = {"aws_request_id": request_id}
            trace = response.headers.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            result = json.dumps(handler(event, context)).encode()
        except Exception as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            post(request_id + "/error", json.dumps(error).encode())
            continue
        post(request_id + "/response", result)


if __name__ == "__main__":
    main()
