"""``_HANDLER=exec:...`` and the Python wrappers end to end: the real ``bootstrap`` under the
local Lambda, as the invoker sees it (payload, error type, logs)."""

from __future__ import annotations

import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig, InvokeResult, LocalLambda
from tests.conftest import on_bootstrap, write_function
from tests.native.conftest import NativePrograms, wait_until_gone

PY311 = Path(sys.executable)


def _config(
    task_root: Path, handler: str, python: Path = PY311, timeout: float = 10.0, **env: str
) -> FunctionConfig:
    return on_bootstrap(task_root, python, env, handler=handler, timeout=timeout)


def _with_example(function_dir: Path, programs: NativePrograms) -> Path:
    """The example's binary in the function's bin/ and its library in lib/ (on LD_LIBRARY_PATH)."""
    for sub, name in (("bin", "analyze"), ("lib", "libstats.so.1")):
        (function_dir / sub).mkdir(exist_ok=True)
        target = function_dir / sub / name
        target.write_bytes((programs.example_build / sub / name).read_bytes())
        target.chmod(0o755)
    return function_dir


def _error(result: InvokeResult) -> dict[str, Any]:
    assert result.function_error == "Unhandled", result.payload
    body: dict[str, Any] = result.json()
    return body


def test_exec_handler_on_every_python(
    runtime_python: Path, function_dir: Path, native_programs: NativePrograms
) -> None:
    _with_example(function_dir, native_programs)
    with LocalLambda(_config(function_dir, "exec:bin/analyze", runtime_python)) as lam:
        first = lam.invoke({"values": [1, 2, 3]})
        second = lam.invoke({"values": [7]})
    assert first.function_error is None, first.payload
    assert first.json()["mean"] == 2 and second.json()["max"] == 7
    record = re.search(r"\[INFO\]\t\S+\t(\S+)\tanalyze: summarised 3 values", first.logs)
    assert record is not None and record.group(1) == first.request_id, first.logs


def test_arguments_from_the_environment(
    function_dir: Path, native_programs: NativePrograms
) -> None:
    _with_example(function_dir, native_programs)
    config = _config(
        function_dir,
        "exec:bin/analyze",
        LAMBDABOOT_EXEC_ARGS="--serve",
        LAMBDABOOT_EXEC_MODE="coprocess",
    )
    with LocalLambda(config) as lam:
        results = [lam.invoke({"values": [i, i + 2]}) for i in range(3)]
    assert [r.json()["mean"] for r in results] == [1, 2, 3]


def test_settings_from_the_config_file(function_dir: Path) -> None:
    write_function(
        function_dir,
        {
            "tool.sh": '#!/bin/sh\nprintf \'{"args": "%s", "event": \' "$*"; cat "$2"; echo "}"\n',
            "lambdaboot-exec.json": '{"args": ["--input", "{event_file}"], "output": "json"}',
        },
    )
    (function_dir / "tool.sh").chmod(0o755)
    with LocalLambda(_config(function_dir, "exec:tool.sh")) as lam:
        result = lam.invoke({"k": "v"})
    assert result.function_error is None, result.payload
    assert result.json()["event"] == {"k": "v"}
    assert result.json()["args"].startswith("--input /")


def test_exit_error_as_the_invoker_sees_it(
    function_dir: Path, native_programs: NativePrograms
) -> None:
    _with_example(function_dir, native_programs)
    with LocalLambda(_config(function_dir, "exec:bin/analyze")) as lam:
        result = lam.invoke({"no": "values"})
        after = lam.invoke({"values": [5]})  # the environment is still fine
    body = _error(result)
    assert result.error_type == "Function.NativeExitError"
    assert body["errorType"] == "NativeExitError"
    assert body["errorMessage"].endswith(
        "exited with status 2; the end of its stderr:\n"
        'analyze: the event has no "values" array of numbers'
    )
    assert body["requestId"] == result.request_id
    assert after.json()["max"] == 5


def test_signal_as_the_invoker_sees_it(function_dir: Path, native_programs: NativePrograms) -> None:
    with LocalLambda(_config(function_dir, f"exec:{native_programs.segfault}")) as lam:
        result = lam.invoke({})
    assert result.error_type == "Function.NativeSignal"
    assert "killed by SIGSEGV" in _error(result)["errorMessage"]


def test_deadline_kill_before_lambdas_own_timeout(function_dir: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    write_function(
        function_dir, {"hang.sh": f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nwait\n"}
    )
    (function_dir / "hang.sh").chmod(0o755)
    with LocalLambda(_config(function_dir, "exec:hang.sh", timeout=2.0)) as lam:
        result = lam.invoke({})
        child = int(pidfile.read_text())
        assert wait_until_gone(child), "the program's child outlived the deadline"
        after = lam.invoke({})  # the same environment serves on: it was not Lambda's timeout
    assert result.error_type == "Function.NativeTimeout", result.logs
    assert "deadline" in _error(result)["errorMessage"]
    assert "Task timed out" not in result.logs
    assert after.error_type == "Function.NativeTimeout"
    assert "INIT_START" not in after.logs


def test_coprocess_restarts_after_a_crash(function_dir: Path, tmp_path: Path) -> None:
    write_function(
        function_dir,
        {
            "server.sh": r"""#!/bin/sh
        n=0
        while read -r line; do
          n=$((n + 1))
          case "$line" in *crash*) kill -SEGV $$ ;; esac
          printf '{"n": %d, "pid": %d}\n' "$n" "$$"
        done
        """
        },
    )
    (function_dir / "server.sh").chmod(0o755)
    config = _config(function_dir, "exec:server.sh", LAMBDABOOT_EXEC_MODE="coprocess")
    with LocalLambda(config) as lam:
        before = [lam.invoke({}).json() for _ in range(2)]
        crash = lam.invoke({"crash": True})
        after = lam.invoke({}).json()
    assert [b["n"] for b in before] == [1, 2] and before[0]["pid"] == before[1]["pid"]
    assert crash.error_type == "Function.NativeSignal"
    assert after["n"] == 1 and after["pid"] != before[0]["pid"]
    assert wait_until_gone(after["pid"]), "the co-process outlived its environment"


@pytest.mark.parametrize(
    ("handler", "env", "error_type", "message"),
    [
        ("exec:missing-tool", {}, "Function.NativeStartError", "it does not exist"),
        ("exec:data.txt", {}, "Function.NativeStartError", "it is not executable"),
        (
            "exec:missing-tool",
            {"LAMBDABOOT_EXEC_MODE": "coprocess"},
            "Function.NativeStartError",
            "it does not exist",
        ),
        (
            "exec:data.txt",
            {"LAMBDABOOT_EXEC_MODE": "daemon"},
            "Runtime.NativeConfigError",
            "exec handler mode 'daemon' is not one of exec, coprocess",
        ),
        ("exec:", {}, "Runtime.NativeConfigError", "give the program's path"),
    ],
)
def test_init_errors(
    function_dir: Path, handler: str, env: dict[str, str], error_type: str, message: str
) -> None:
    write_function(function_dir, {"data.txt": "not a program\n"})
    with LocalLambda(_config(function_dir, handler, **env)) as lam:
        result = lam.invoke({})
    assert result.error_type == error_type, result.logs
    assert message in _error(result)["errorMessage"]


def test_python_handler_wrapping_a_program(
    function_dir: Path, native_programs: NativePrograms
) -> None:
    _with_example(function_dir, native_programs)
    write_function(
        function_dir,
        {
            "app.py": """
        from runtime_core import CoProcess, ExecHandler, NativeError

        ONCE = ExecHandler(["bin/analyze"])
        SERVER = CoProcess(["bin/analyze", "--serve"])
        SERVER.start()

        def handler(event, context):
            values = [float(v) for v in event["csv"].split(",")]
            try:
                return {"exec": ONCE({"values": values}), "coprocess": SERVER({"values": values})}
            except NativeError as exc:
                return {"failed": type(exc).__name__}
        """
        },
    )
    with LocalLambda(_config(function_dir, "app.handler")) as lam:
        result = lam.invoke({"csv": "1,2,6"})
    assert result.json()["exec"]["mean"] == 3 and result.json()["coprocess"]["mean"] == 3


def test_plain_python_handlers_do_not_pay_for_it(function_dir: Path) -> None:
    write_function(
        function_dir,
        {
            "app.py": """
        import sys

        def handler(event, context):
            return sorted(m for m in ("subprocess", "selectors", "runtime_core.native") \
if m in sys.modules)
        """
        },
    )
    with LocalLambda(_config(function_dir, "app.handler")) as lam:
        assert lam.invoke({}).json() == []


def _streaming_function(function_dir: Path, body: str) -> FunctionConfig:
    write_function(function_dir, {"tool.sh": "#!/bin/sh\n" + body})
    (function_dir / "tool.sh").chmod(0o755)
    return _config(function_dir, "exec:tool.sh", LAMBDABOOT_EXEC_OUTPUT="stream")


def test_large_output_is_streamed(function_dir: Path) -> None:
    size = 8_000_000  # past the 6,291,556 bytes of a buffered response
    config = _streaming_function(
        function_dir, f"echo 'working' >&2\nhead -c {size} /dev/zero | tr '\\000' a\n"
    )
    chunks: list[bytes] = []
    with LocalLambda(config) as lam:
        result = lam.invoke({}, on_chunk=chunks.append)
    assert result.function_error is None, result.logs
    assert sum(len(c) for c in chunks) == size and set(b"".join(chunks)) == {ord("a")}
    assert len(chunks) > 1  # it left as it came, not as one buffer
    assert f"{result.request_id}\tworking" in result.logs


def test_buffered_output_past_the_limit(function_dir: Path) -> None:
    write_function(function_dir, {"tool.sh": "#!/bin/sh\nhead -c 7000000 /dev/zero\n"})
    (function_dir / "tool.sh").chmod(0o755)
    with LocalLambda(_config(function_dir, "exec:tool.sh", LAMBDABOOT_EXEC_OUTPUT="bytes")) as lam:
        result = lam.invoke({})
    assert result.error_type == "Function.NativeOutputTooLarge"
    assert "more than 6291556 bytes" in _error(result)["errorMessage"]


def test_a_failure_after_streaming_began(function_dir: Path) -> None:
    config = _streaming_function(
        function_dir, "echo 'first part'\nexec 1>&-\necho 'out of memory' >&2\nexit 3\n"
    )
    chunks: list[bytes] = []
    with LocalLambda(config) as lam:
        result = lam.invoke({}, on_chunk=chunks.append)
    assert b"".join(chunks) == b"first part\n"
    assert result.function_error == "Unhandled", result.logs
    assert result.error_type == "Function.NativeExitError"
    assert f"{result.request_id}\tout of memory" in result.logs  # stderr read to its end


def test_stderr_records_in_json_log_format(
    function_dir: Path, native_programs: NativePrograms
) -> None:
    _with_example(function_dir, native_programs)
    config = _config(function_dir, "exec:bin/analyze")
    config.log_format = "JSON"
    with LocalLambda(config) as lam:
        result = lam.invoke({"values": [4]})
    lines = [json.loads(line) for line in result.logs.splitlines() if line.startswith("{")]
    records = [record for record in lines if record.get("logger") == "analyze"]
    assert [(r["level"], r["message"], r["requestId"]) for r in records] == [
        ("INFO", "analyze: summarised 1 values", result.request_id)
    ]


def test_coprocess_per_worker_under_managed_instances(function_dir: Path) -> None:
    """Sync handlers at AWS_LAMBDA_MAX_CONCURRENCY > 1 run in worker processes forked after
    init: each must talk to a co-process of its own, never to the parent's pipes."""
    write_function(
        function_dir,
        {
            "server.sh": r"""#!/bin/sh
        n=0
        while read -r line; do
          n=$((n + 1))
          sleep 0.05
          printf '{"n": %d, "pid": %d, "event": %s}\n' "$n" "$$" "$line"
        done
        """
        },
    )
    (function_dir / "server.sh").chmod(0o755)
    config = _config(function_dir, "exec:server.sh", LAMBDABOOT_EXEC_MODE="coprocess")
    config.max_concurrency = 2
    with LocalLambda(config) as lam, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: lam.invoke({"i": i}), range(12)))
    answers = [r.json() for r in results]
    assert [a["event"]["i"] for a in answers] == list(range(12)), (
        "an answer went to another request"
    )
    by_pid: dict[int, list[int]] = {}
    for answer in answers:
        by_pid.setdefault(answer["pid"], []).append(answer["n"])
    for counts in by_pid.values():  # each program served its own requests, one at a time
        assert sorted(counts) == list(range(1, len(counts) + 1))
