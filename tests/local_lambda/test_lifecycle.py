"""Environment lifecycle: init timeout, bad entrypoints, dropped connections, memory figures."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda

from .conftest import read_records

SERVE_FOREVER = """
    while True:
        status, headers, event = next_event()
        if status != 200:
            record(next=status)
            continue
        blob = bytearray(json.loads(event).get("allocate_mb", 0) * 1024 * 1024)
        for i in range(0, len(blob), 4096):
            blob[i] = 1  # touch every page so it is really used
        status, _, _ = post(headers["lambda-runtime-aws-request-id"], "response", b'"done"')
        record(response=status)
"""


def test_init_timeout(scripted_lambda: Callable[..., LocalLambda]) -> None:
    lam = scripted_lambda("time.sleep(60)\n", init_timeout=0.5)
    r = lam.invoke({})
    assert r.function_error == "Unhandled"
    assert r.json()["errorType"] == "Sandbox.Timedout"
    assert "Init timed out after 0.50 seconds" in r.json()["errorMessage"]
    assert "Phase: init\tStatus: timeout" in r.logs


def test_missing_runtime_is_invalid_entrypoint(
    function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> None:
    lam = open_lambda(command=["./bootstrap"], task_root=function_dir)
    r = lam.invoke({})
    assert r.function_error == "Unhandled"
    assert r.json()["errorType"] == "Runtime.InvalidEntrypoint"
    assert "./bootstrap does not exist" in r.json()["errorMessage"]


def test_dropped_connection_then_retry(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        status, headers, event = next_event()
        rid = headers["lambda-runtime-aws-request-id"]
        try:
            post(rid, "response", b'"first"')
        except (http.client.HTTPException, OSError) as exc:
            record(dropped=type(exc).__name__)
        record(retry=post(rid, "response", b'"second"')[0])
        next_event()
        """
    )
    lam.inject_fault("response", drop=True)
    assert lam.invoke({}).payload == b'"second"'
    dropped, retry = read_records(record_file)
    assert "dropped" in dropped and retry == {"retry": 202}


def test_missing_response_ends_the_invocation(scripted_lambda: Callable[..., LocalLambda]) -> None:
    lam = scripted_lambda(
        """
        next_event()
        next_event()
        """
    )
    r = lam.invoke({})
    assert r.json()["errorType"] == "Runtime.MissingResponse"


@pytest.mark.parametrize("measure", ["auto", "pss"])
def test_max_memory_used_follows_the_runtime(
    measure: str, scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    if measure == "auto" and not os.access("/sys/fs/cgroup/memory", os.W_OK):
        pytest.fail("the cgroup v1 memory controller is not writable here: run the suite as root")
    lam = scripted_lambda(SERVE_FOREVER, memory_measure=measure)
    small = lam.invoke({})
    big = lam.invoke({"allocate_mb": 64})
    assert small.report is not None and big.report is not None
    assert 5 < small.report.max_memory_used_mb < 200
    # the environment's peak holds the 64 MB the handler touched
    assert big.report.max_memory_used_mb >= small.report.max_memory_used_mb + 50
    assert read_records(record_file) == [{"response": 202}, {"response": 202}]


def test_environment_is_lambdas_not_the_hosts(
    function_dir: Path, open_lambda: Callable[..., LocalLambda], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST_ONLY_SECRET", "leak")
    script = function_dir / "dump_env.py"
    script.write_text(
        "import json, os, http.client\n"
        "h, p = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')\n"
        "c = http.client.HTTPConnection(h, int(p)); "
        "c.request('GET', '/2018-06-01/runtime/invocation/next')\n"
        "r = c.getresponse(); r.read(); rid = r.getheader('Lambda-Runtime-Aws-Request-Id')\n"
        "c.request('POST', f'/2018-06-01/runtime/invocation/{rid}/response', "
        "json.dumps(dict(os.environ)))\n"
        "c.getresponse().read(); "
        "c.request('GET', '/2018-06-01/runtime/invocation/next'); c.getresponse()\n"
    )
    lam = open_lambda(
        command=[sys.executable, str(script)],
        task_root=function_dir,
        env={"MY_VAR": "1"},
        function_name="fn",
        memory_mb=512,
        log_format="JSON",
        log_level="DEBUG",
    )
    env = lam.invoke({}).json()
    assert "HOST_ONLY_SECRET" not in env
    assert env["MY_VAR"] == "1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_RUNTIME_API"] == lam.runtime_api
    assert env["AWS_LAMBDA_LOG_LEVEL"] == "DEBUG"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(function_dir)
    assert env["TZ"] == ":UTC"
    assert env["PATH"].endswith(":/opt/bin")
    assert "/opt/lib" in env["LD_LIBRARY_PATH"]


def test_bad_config_is_a_clear_error(function_dir: Path) -> None:
    with pytest.raises(ValueError, match="log_format must be 'Text' or 'JSON'"):
        FunctionConfig(command=["x"], task_root=function_dir, log_format="yaml")
    with pytest.raises(ValueError, match="command is empty"):
        FunctionConfig(command=[], task_root=function_dir)
