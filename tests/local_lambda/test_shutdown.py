"""The shutdown phase: SIGTERM first when an extension registered, else SIGKILL at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from local_lambda import LocalLambda

from .conftest import read_records

RUNTIME = """
    import signal, threading
    def on_term(signum, frame):
        record(signal="SIGTERM")
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    if os.environ.get("REGISTER"):
        EXT = "/2020-01-01/extension"
        _, headers, _ = call("POST", EXT + "/register", b'{"events": []}', \
{"Lambda-Extension-Name": "sigterm"})
        ext_id = headers["lambda-extension-identifier"]
        threading.Thread(target=call, args=("GET", EXT + "/event/next", None, \
{"Lambda-Extension-Identifier": ext_id}),
                         daemon=True).start()
    def serve():
        while True:
            status, headers, event = next_event()
            post(headers["lambda-runtime-aws-request-id"], "response", b"1")
    threading.Thread(target=serve, daemon=True).start()
    while True:
        time.sleep(0.05)
"""


def test_sigterm_when_an_extension_registered(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(RUNTIME, env={"REGISTER": "1"})
    assert lam.invoke({}).payload == b"1"
    result = lam.shutdown()
    assert result.signals == ["SIGTERM"]
    assert result.exit_status == 0
    assert read_records(record_file) == [{"signal": "SIGTERM"}]


def test_sigkill_past_the_budget(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    stubborn = RUNTIME.replace(
        'record(signal="SIGTERM")\n        sys.exit(0)', 'record(signal="SIGTERM")'
    )
    lam = scripted_lambda(stubborn, env={"REGISTER": "1"}, shutdown_internal_ms=200)
    lam.start()
    result = lam.shutdown()
    assert result.signals == ["SIGTERM", "SIGKILL"]
    assert result.exit_status == -9
    assert result.duration_ms >= 200
    assert read_records(record_file) == [{"signal": "SIGTERM"}]


def test_sigkill_at_once_without_extensions(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(RUNTIME)
    assert lam.invoke({}).payload == b"1"
    result = lam.shutdown()
    assert result.signals == ["SIGKILL"]
    assert result.exit_status == -9
    assert read_records(record_file) == []
    assert not lam.shutdown().ran  # nothing left to shut down
    again = lam.invoke({})  # a new environment starts after a shutdown
    assert again.payload == b"1"
    assert again.report is not None and again.report.init_duration_ms is not None
