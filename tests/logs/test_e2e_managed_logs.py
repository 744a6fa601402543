"""What users see in CloudWatch on a managed python3.x runtime: lambdaboot (through its exec
wrapper and the real ``bootstrap``) against awslambdaric, the runtime AWS ships there.

The local Lambda emulates the managed runtime: it starts ``python3.X -m awslambdaric``
(or the exec wrapper, given that command line), hands it the telemetry log descriptor,
decodes the frames (one record = one event) and applies Lambda's log level.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import REPO, RUNTIME_PYTHONS, write_function

WRAPPER = str(REPO / "exec-wrapper")

APP = """
import asyncio, logging, os, threading

log = logging.getLogger("app")
boto_like = logging.getLogger("botocore.credentials")
verbose = logging.getLogger("verbose")
verbose.setLevel(logging.DEBUG)  # below Lambda's level with JSON: Lambda drops its frames

async def in_a_task():
    log.warning("in a task")

def handler(event, context):
    boto_like.info("Found credentials in environment variables.")
    verbose.debug("a verbose logger's detail")
    log.debug("debug detail")
    log.info("hello %s", event["name"])
    log.warning("two\\nlines")
    try:
        {}["missing"]
    except KeyError:
        log.exception("caught")
    worker = threading.Thread(target=log.warning, args=("from a thread",))
    worker.start()
    worker.join()
    asyncio.run(in_a_task())  # 3.12+: the JSON record has awslambdaric's "taskName"
    if event.get("fail"):
        raise ValueError("boom")
    return {"fd_left": "_LAMBDA_TELEMETRY_LOG_FD" in os.environ}
"""

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
JSON_TIME = re.compile(r'\{"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ')


def version_of(python: Path) -> str:
    return next(v for v, p in RUNTIME_PYTHONS.items() if p == python)


def app_events(events: list[str], request_id: str) -> list[Any]:
    """The function's own events, comparable across runtimes: byte for byte (what a log
    query or a metric filter matches), with only times and ids masked. A JSON record's
    ``timestamp`` is awslambdaric's shape, whole seconds, before it is masked."""
    out: list[Any] = []
    for event in events:
        if event.startswith(("INIT_START", "INIT_REPORT", "START", "END", "REPORT", '{"time"')):
            continue
        if event.startswith("{"):
            assert JSON_TIME.match(event), event
        out.append(TIME.sub("<time>", event, count=1).replace(request_id, "<id>"))
    return out


def records(events: list[Any]) -> list[Any]:
    """JSON events as values (for the checks on their fields)."""
    return [json.loads(e) if e.startswith("{") else e for e in events]


def run(
    function_dir: Path, python: Path, lambdaboot: bool, **settings: Any
) -> list[tuple[Any, list[Any]]]:
    write_function(function_dir, {"app.py": APP})
    env = {"AWS_LAMBDA_EXEC_WRAPPER": WRAPPER} if lambdaboot else {}
    config = FunctionConfig(
        command=[],
        runtime=f"python{version_of(python)}",
        task_root=function_dir,
        env=env,
        timeout=10.0,
        **settings,
    )
    with LocalLambda(config) as lam:
        results = [lam.invoke({"name": "ada"}), lam.invoke({"name": "bob", "fail": True})]
    return [(r.payload, app_events(r.log_events, r.request_id)) for r in results]


@pytest.mark.parametrize(
    "settings",
    [{"log_format": "Text"}, {"log_format": "JSON"}, {"log_format": "JSON", "log_level": "DEBUG"}],
)
def test_managed_runtime_logs_match_awslambdaric(
    function_dir: Path, runtime_python: Path, settings: dict[str, str]
) -> None:
    ours = run(function_dir, runtime_python, True, **settings)
    theirs = run(function_dir, runtime_python, False, **settings)
    (ok_payload, ok_events), (_, failed_events) = ours
    assert json.loads(ok_payload) == {"fd_left": False}  # removed before user code ran
    assert ok_events == theirs[0][1]
    # The failing invocation: the same records, awslambdaric's error record last.
    assert failed_events == theirs[1][1]
    if settings["log_format"] == "Text":
        texts = [e for e in ok_events if isinstance(e, str)]
        # Python's default level on AWS: no INFO lines from an unchanged handler or boto.
        assert not any(e.startswith("[INFO]") for e in texts)
        # A logger set to DEBUG by the handler itself still writes (no level, no filter).
        assert [e for e in texts if e.startswith("[DEBUG]")] == [
            "[DEBUG]\t<time>\t<id>\ta verbose logger's detail"
        ]
        traceback = [e for e in texts if "\tcaught\n" in e]
        assert len(traceback) == 1 and "\nKeyError: 'missing'" in traceback[0]  # one event
        assert "[WARNING]\t<time>\t<id>\ttwo\nlines" in texts
        assert failed_events[-1].startswith("[ERROR] ValueError: boom\nTraceback")
    else:
        parsed = records(ok_events)
        levels = [e["level"] for e in parsed]
        want = "DEBUG" if settings.get("log_level") == "DEBUG" else "INFO"
        assert min(levels, key=["DEBUG", "INFO", "WARNING", "ERROR"].index) == want
        assert records(failed_events)[-1]["errorType"] == "ValueError"
        verbose = [e for e in parsed if e["logger"] == "verbose"]
        assert len(verbose) == (1 if want == "DEBUG" else 0)  # awslambdaric's frame dropped


def test_lambda_filters_json_lines_by_their_level(function_dir: Path) -> None:
    """Lambda's own filter, whatever the runtime: a JSON line's ``level``, INFO without one."""
    write_function(
        function_dir,
        {
            "app.py": """
            import json
            def handler(event, context):
                print("plain text")
                for level in ("debug", "INFO", "warn", "Error", "bogus"):
                    print(json.dumps({"level": level, "msg": level}))
                return "ok"
            """
        },
    )
    config = FunctionConfig(
        command=[sys.executable, "-m", "awslambdaric", "app.handler"],
        task_root=function_dir,
        log_format="JSON",
        log_level="WARN",
    )
    with LocalLambda(config) as lam:
        result = lam.invoke({})
    shown = [json.loads(e)["msg"] for e in result.log_events if e.startswith('{"level"')]
    assert shown == ["warn", "Error"]
    assert "plain text" not in result.logs


def test_a_log_level_with_text_is_refused_as_lambda_refuses_it(function_dir: Path) -> None:
    with pytest.raises(
        ValueError, match='LogLevel is not supported when LogFormat is set to "Text"'
    ):
        FunctionConfig(command=["x"], task_root=function_dir, log_level="DEBUG")
    cli = [sys.executable, "-m", "lambdaboot_cli", "invoke", str(function_dir)]
    refused = subprocess.run([*cli, "--log-level", "DEBUG"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert (
        refused.stderr.count("\n") == 1 and "--log-level needs --log-format JSON" in refused.stderr
    )


def test_the_environment_gets_lambdas_logging_variables(function_dir: Path) -> None:
    write_function(
        function_dir,
        {
            "app.py": """
            import os
            def handler(event, context):
                return {k: os.environ.get(k) for k in \
("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL")}
            """
        },
    )
    seen = []
    for settings in ({}, {"log_format": "JSON"}, {"log_format": "JSON", "log_level": "ERROR"}):
        config = FunctionConfig(
            command=[sys.executable, "-m", "awslambdaric", "app.handler"],
            task_root=function_dir,
            **settings,  # type: ignore[arg-type]
        )
        with LocalLambda(config) as lam:
            seen.append(lam.invoke({}).json())
    assert seen == [
        {"AWS_LAMBDA_LOG_FORMAT": "Text", "AWS_LAMBDA_LOG_LEVEL": None},
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"},
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "ERROR"},
    ]


def test_a_multi_line_record_reads_well_in_the_terminal(function_dir: Path) -> None:
    write_function(
        function_dir, {"app.py": "def handler(event, context):\n    raise ValueError('boom')\n"}
    )
    cli = [sys.executable, "-m", "lambdaboot_cli", "invoke", str(function_dir), "--event", "{}"]
    shown = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1
    assert "\r" not in shown.stderr
    lines = shown.stderr.splitlines()
    start = lines.index("[ERROR] ValueError: boom")
    assert lines[start + 1] == "Traceback (most recent call last):"


BROKEN = """
import logging
logging.getLogger("app").warning("importing")
raise RuntimeError("no config")
"""

ASYNC_APP = """
import asyncio, logging
log = logging.getLogger("app")

async def handler(event, context):
    await asyncio.sleep(0)
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("caught in a coroutine")
    return "ok"
"""


def events_of(
    function_dir: Path, python: Path, source: str, lambdaboot: bool, log_format: str = "Text"
) -> list[Any]:
    write_function(function_dir, {"app.py": source})
    env = {"AWS_LAMBDA_EXEC_WRAPPER": WRAPPER} if lambdaboot else {}
    runtime = f"python{version_of(python)}"
    config = FunctionConfig(
        command=[], runtime=runtime, task_root=function_dir, env=env, log_format=log_format
    )
    with LocalLambda(config) as lam:
        result = lam.invoke({})
    return app_events(result.log_events, result.request_id)


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_init_error_records_match_awslambdaric(
    function_dir: Path, runtime_python: Path, log_format: str
) -> None:
    ours = events_of(function_dir, runtime_python, BROKEN, True, log_format)
    theirs = events_of(function_dir, runtime_python, BROKEN, False, log_format)
    assert ours == theirs  # byte for byte, the init error's frames included
    if log_format == "JSON":
        warning, error = records(ours)[-2:]
        assert warning["message"].startswith("LAMBDA_WARNING: Unhandled exception.")
        assert (error["errorType"], error["requestId"]) == ("RuntimeError", "")
        return
    assert any(
        e.startswith("[WARNING]\t<time>\t\tLAMBDA_WARNING: Unhandled exception.") for e in ours
    )
    error = [e for e in ours if e.startswith("[ERROR] RuntimeError: no config\n")]
    assert len(error) == 1 and "\nTraceback (most recent call last):" in error[0]


def test_async_engine_records_are_one_event_each(function_dir: Path, runtime_python: Path) -> None:
    events = events_of(function_dir, runtime_python, ASYNC_APP, lambdaboot=True)
    [record] = [e for e in events if "caught in a coroutine" in e]
    assert record.startswith("[ERROR]\t<time>\t<id>\tcaught in a coroutine\nTraceback")
    assert record.endswith("KeyError: 'missing'")


LMI_APP = """
import logging, os, stat

def handler(event, context):
    logging.getLogger("app").info("served")
    return {
        "stdout_is_socket": stat.S_ISSOCK(os.fstat(1).st_mode),
        "stderr_is_socket": stat.S_ISSOCK(os.fstat(2).st_mode),
        "fd_left": "_LAMBDA_TELEMETRY_LOG_FD" in os.environ,
    }
"""


@pytest.mark.parametrize(
    ("lambdaboot", "source"),
    [
        (True, LMI_APP),
        (True, LMI_APP.replace("def handler", "async def handler")),
        (False, LMI_APP),
    ],
    ids=["lambdaboot-workers", "lambdaboot-async", "awslambdaric"],
)
def test_managed_instances_workers_log_through_the_provider_socket(
    function_dir: Path, lambdaboot: bool, source: str
) -> None:
    write_function(function_dir, {"app.py": source})
    env = {"AWS_LAMBDA_EXEC_WRAPPER": WRAPPER} if lambdaboot else {}
    config = FunctionConfig(
        command=[], runtime="python3.12", task_root=function_dir, env=env, max_concurrency=2
    )
    with LocalLambda(config) as lam:
        result = lam.invoke({})
    assert result.json() == {"stdout_is_socket": True, "stderr_is_socket": True, "fd_left": False}
    [record] = [json.loads(e) for e in result.log_events if '"served"' in e]
    assert (record["level"], record["requestId"]) == ("INFO", result.request_id)


SUBSCRIBER = """
ident = register(["INVOKE"])
record(subscribed=subscribe(ident, os.environ["PORT"], timeoutMs=25)[0])
while True:
    next_event(ident)
"""

TRACEBACK_APP = """
import logging

def handler(event, context):
    try:
        raise KeyError("missing")
    except KeyError:
        logging.getLogger("app").exception("caught")
    return "ok"
"""


def test_a_framed_record_is_one_telemetry_record_and_one_tail_event(
    tmp_path: Path, function_dir: Path
) -> None:
    from tests.local_lambda.test_extensions_kit import TelemetryListener, extension, make_layer

    write_function(function_dir, {"app.py": TRACEBACK_APP})
    listener = TelemetryListener()
    layer = make_layer(tmp_path / "layer.zip", {"extensions/subscriber": extension(SUBSCRIBER)})
    env = {
        "AWS_LAMBDA_EXEC_WRAPPER": WRAPPER,
        "RECORD": str(tmp_path / "record.jsonl"),
        "PORT": str(listener.port),
    }
    config = FunctionConfig(
        command=[], runtime="python3.12", task_root=function_dir, layers=[layer], env=env
    )
    try:
        with LocalLambda(config) as lam:
            result = lam.invoke({}, log_tail=True)
            listener.wait_for("platform.report", requestId=result.request_id)
    finally:
        listener.close()
    function = [i["record"] for i in listener.records if i["type"] == "function"]
    [caught] = [r for r in function if "\tcaught\n" in r]
    assert caught.endswith("KeyError: 'missing'") and "\nTraceback" in caught
    assert caught in result.log_events
    assert result.log_result is not None
    assert caught in base64.b64decode(result.log_result).decode()


@pytest.mark.parametrize("lambdaboot", [True, False], ids=["lambdaboot", "awslambdaric"])
def test_managed_instances_worker_pool_record_at_debug(
    function_dir: Path, lambdaboot: bool
) -> None:
    write_function(function_dir, {"app.py": LMI_APP})
    env = {"AWS_LAMBDA_EXEC_WRAPPER": WRAPPER} if lambdaboot else {}
    config = FunctionConfig(
        command=[], runtime="python3.12", task_root=function_dir, env=env, max_concurrency=2,
        log_level="DEBUG",
    )  # fmt: skip
    with LocalLambda(config) as lam:
        lam.invoke({})
        output = lam.output
    records = [json.loads(line) for line in output.splitlines() if "worker_pool" in line]
    for record in records:
        record.pop("timestamp")
    assert records == [
        {
            "level": "DEBUG",
            "message": {
                "event": "runtime_worker_pool_initializing",
                "workerCount": 2,
                "executionEnvironmentMaxConcurrency": 2,
            },
            "logger": "root",
            "requestId": "",
        }
    ]


STRUCTLOG_APP = """
import threading
import runtime_core

log = runtime_core.get_logger("orders", service="shop")

def handler(event, context):
    log.debug("hidden")
    log.info("placed", order=7)
    try:
        {}["missing"]
    except KeyError:
        log.exception("caught")
    worker = threading.Thread(target=log.warning, args=("from a thread",))
    worker.start()
    worker.join()
    return "ok"
"""


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_structlog_records_are_one_framed_event_each(
    function_dir: Path, runtime_python: Path, log_format: str
) -> None:
    """structlog's door on a managed runtime: each record one frame (one event, its
    real newlines), from a thread too, filtered at Lambda's level with JSON."""
    events = events_of(function_dir, runtime_python, STRUCTLOG_APP, True, log_format)
    app = [e for e in events if "hidden" in e or "placed" in e or "caught" in e or "thread" in e]
    if log_format == "Text":  # get_logger() starts at WARNING, as stdlib loggers on AWS
        caught, thread = app
        assert caught.startswith("[ERROR]\t<time>\t<id>\tcaught service=shop\n")
        assert "\nTraceback (most recent call last):\n" in caught
        assert caught.endswith("KeyError: 'missing'")
        assert thread == "[WARNING]\t<time>\t<id>\tfrom a thread service=shop"
        return
    placed, caught, thread = records(app)  # INFO and up: Lambda's default level
    assert (placed["level"], placed["message"], placed["order"]) == ("INFO", "placed", 7)
    assert (caught["level"], caught["errorType"]) == ("ERROR", "KeyError")
    assert (thread["level"], thread["requestId"]) == ("WARNING", "<id>")
