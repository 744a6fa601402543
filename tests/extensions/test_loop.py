"""The extension event loop as a real process against a scripted Extensions API.

What a user checks: the extension registers under its file name for the events it
handles, its callbacks see INVOKE and SHUTDOWN with their fields, telemetry still in flight
at SHUTDOWN reaches the callback before the shutdown callback runs, and failures are
reported with init/error or exit/error and a non-zero exit.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.extensions.conftest import start_extension, write_extension
from tests.extensions.fake_extensions_api import FakeExtensionsApi, report, telemetry

RECORDER = """
    import json, os, sys
    from runtime_core.extensions import Extension

    ext = Extension()
    out = open(os.environ["OUT"], "a")

    def note(**fields):
        out.write(json.dumps(fields) + "\\n")
        out.flush()

    @ext.on_init
    async def init(registration):
        note(what="init", function=registration.function_name, id=registration.extension_id)

    @ext.on_invoke
    async def invoked(event):
        note(what="invoke", id=event.request_id, arn=event.invoked_function_arn,
             tracing=event.tracing, left=event.remaining_ms())

    @ext.on_telemetry(types=("platform", "function"))
    async def telemetry(events):
        for e in events:
            note(what="telemetry", type=e.type, cls=type(e).__name__,
                 message=getattr(e, "message", None))

    @ext.on_shutdown
    async def shutdown(event):
        note(what="shutdown", reason=event.reason, left=event.remaining_ms())

    ext.run()
"""


def _notes(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_full_life_of_an_extension(tmp_path: Path, fake_api: FakeExtensionsApi) -> None:
    out = tmp_path / "notes.jsonl"
    script = write_extension(tmp_path, "recorder", RECORDER)
    process = start_extension(script, fake_api, {"OUT": str(out)})
    try:
        register = fake_api.wait_for("/extension/register")[0]
        assert register.headers["lambda-extension-name"] == "recorder"
        assert register.json() == {"events": ["INVOKE", "SHUTDOWN"]}
        fake_api.wait_for("/event/next")
        subscription = fake_api.subscription
        assert subscription is not None
        assert subscription["types"] == ["platform", "function"]
        assert subscription["destination"]["protocol"] == "HTTP"
        assert subscription["buffering"] == {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100}
        assert [
            c.headers["lambda-extension-identifier"] for c in fake_api.wait_for("/telemetry")
        ] == [fake_api.extension_id]

        fake_api.invoke("req-1", trace="Root=1-abc;Parent=def;Sampled=1")
        fake_api.wait_for("/event/next", 2)
        assert fake_api.deliver(
            [telemetry("function", "hello from the handler\n"), report("req-1")]
        ) == (
            200,
            b"OK",
        )
        fake_api.shutdown(reason="SPINDOWN")
        fake_api.wait_taken()
        # Lambda may still deliver the last records after SHUTDOWN: they must not be lost.
        assert (
            fake_api.deliver([telemetry("platform.runtimeDone", {"requestId": "req-1"})])[0] == 200
        )
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        process.wait()

    notes = _notes(out)
    assert notes[0] == {"what": "init", "function": "shipper-test", "id": fake_api.extension_id}
    invoke = notes[1]
    assert invoke["what"] == "invoke" and invoke["id"] == "req-1"
    assert invoke["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:shipper-test"
    assert invoke["tracing"] == "Root=1-abc;Parent=def;Sampled=1"
    assert 0 < int(invoke["left"]) <= 3000  # type: ignore[call-overload]
    telemetry_notes = [
        (n["type"], n["cls"], n["message"]) for n in notes if n["what"] == "telemetry"
    ]
    assert telemetry_notes == [
        ("function", "LogRecord", "hello from the handler\n"),
        ("platform.report", "ReportRecord", None),
        ("platform.runtimeDone", "PlatformRecord", None),
    ]
    assert notes[-1]["what"] == "shutdown" and notes[-1]["reason"] == "spindown"


def test_without_an_invoke_callback_only_shutdown_is_asked_for(
    tmp_path: Path, fake_api: FakeExtensionsApi
) -> None:
    script = write_extension(
        tmp_path,
        "quiet-one",
        """
        from runtime_core.extensions import Extension
        Extension().run()
        """,
    )
    process = start_extension(script, fake_api)
    try:
        assert fake_api.wait_for("/register")[0].json() == {"events": ["SHUTDOWN"]}
        fake_api.wait_for("/event/next")
        fake_api.shutdown()
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


def test_a_failing_init_is_reported_with_init_error(
    tmp_path: Path, fake_api: FakeExtensionsApi
) -> None:
    script = write_extension(
        tmp_path,
        "broken-init",
        """
        from runtime_core.extensions import Extension
        ext = Extension()

        @ext.on_init
        async def init(registration):
            raise RuntimeError("no endpoint configured")

        ext.run()
        """,
    )
    process = start_extension(script, fake_api)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    error = fake_api.wait_for("/init/error")[0]
    assert error.headers["lambda-extension-function-error-type"] == "Extension.RuntimeError"
    assert error.headers["lambda-extension-identifier"] == fake_api.extension_id
    assert error.json()["errorMessage"] == "no endpoint configured"
    assert "no endpoint configured" in stderr
    assert not [c for c in fake_api.calls if c.path.endswith("/event/next")]


def test_a_refused_telemetry_subscription_fails_the_init(
    tmp_path: Path, fake_api: FakeExtensionsApi
) -> None:
    fake_api.refuse_subscription = (400, "ValidationError")
    script = write_extension(tmp_path, "recorder", RECORDER)
    process = start_extension(script, fake_api, {"OUT": str(tmp_path / "notes.jsonl")})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    error = fake_api.wait_for("/init/error")[0]
    assert error.headers["lambda-extension-function-error-type"] == "Extension.ValidationError"
    assert "PUT /telemetry answered 400 ValidationError" in error.json()["errorMessage"]
    assert "buffering.timeoutMs" in stderr
    assert (tmp_path / "notes.jsonl").read_text() == ""  # on_init never ran


def test_a_failing_invoke_callback_is_reported_with_exit_error(
    tmp_path: Path, fake_api: FakeExtensionsApi
) -> None:
    script = write_extension(
        tmp_path,
        "broken-invoke",
        """
        from runtime_core.extensions import Extension
        ext = Extension()

        @ext.on_invoke
        async def invoked(event):
            raise KeyError(event.request_id)

        ext.run()
        """,
    )
    process = start_extension(script, fake_api)
    fake_api.wait_for("/event/next")
    fake_api.invoke("req-9")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    error = fake_api.wait_for("/exit/error")[0]
    assert error.headers["lambda-extension-function-error-type"] == "Extension.KeyError"
    assert "req-9" in error.json()["errorMessage"]
    assert "invoke callback failed" in stderr


def test_without_the_runtime_api_address_it_exits_with_a_clear_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    script = write_extension(
        tmp_path, "lost", "from runtime_core.extensions import Extension\nExtension().run()\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        env={"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "AWS_LAMBDA_RUNTIME_API is not set" in result.stderr
