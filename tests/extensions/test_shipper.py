"""The telemetry-shipper example: what the function logged reaches a real HTTP sink.

The extension file (examples/telemetry-shipper/extension/telemetry-shipper) runs as a real
process against a scripted Extensions API; its httpx client POSTs to a real HTTP server
in the test. Nothing may be lost on a normal shutdown, and a full buffer drops the oldest
records and says how many.
"""

from __future__ import annotations

from tests.conftest import REPO
from tests.extensions.conftest import Sink, start_extension
from tests.extensions.fake_extensions_api import FakeExtensionsApi, report, telemetry

SHIPPER = REPO / "examples" / "telemetry-shipper" / "extension" / "telemetry-shipper"


def test_every_log_line_and_report_reaches_the_sink(
    fake_api: FakeExtensionsApi, sink: Sink
) -> None:
    process = start_extension(SHIPPER, fake_api, {"SHIPPER_ENDPOINT": sink.url})
    try:
        register = fake_api.wait_for("/register")[0]
        assert register.headers["lambda-extension-name"] == "telemetry-shipper"
        assert register.json() == {"events": ["SHUTDOWN"]}  # no INVOKE: nothing added per invoke
        fake_api.wait_for("/event/next")
        assert fake_api.subscription is not None
        assert fake_api.subscription["types"] == ["platform", "function"]

        expected_lines = []
        for invocation in range(3):
            request_id = f"req-{invocation}"
            lines = [f"line {n} of {request_id}" for n in range(90)]
            expected_lines += lines
            batch = [telemetry("platform.start", {"requestId": request_id})]
            batch += [telemetry("function", line + "\n") for line in lines]
            batch += [
                report(
                    request_id,
                    duration_ms=10.0 + invocation,
                    init_ms=99.5 if invocation == 0 else None,
                )
            ]
            assert fake_api.deliver(batch)[0] == 200
        fake_api.shutdown(budget_s=2.0)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        process.wait()

    records = sink.records()
    assert [r["message"] for r in records if r["kind"] == "log"] == expected_lines
    reports = [r for r in records if r["kind"] == "report"]
    assert [(r["requestId"], r["durationMs"], r["initDurationMs"]) for r in reports] == [
        ("req-0", 10.0, 99.5),
        ("req-1", 11.0, None),
        ("req-2", 12.0, None),
    ]
    assert reports[0]["billedDurationMs"] == 11 and reports[0]["memorySizeMB"] == 128
    assert all(body["function"] == "shipper-test" and body["dropped"] == 0 for body in sink.bodies)
    assert max(len(body["records"]) for body in sink.bodies) <= 100  # SHIPPER_BATCH_SIZE's default


def test_a_full_buffer_keeps_the_newest_records_and_counts_the_rest(
    fake_api: FakeExtensionsApi, sink: Sink
) -> None:
    sink.status = 503  # the endpoint is down while the records come in
    env = {
        "SHIPPER_ENDPOINT": sink.url,
        "SHIPPER_MAX_RECORDS": "5",
        "SHIPPER_FLUSH_INTERVAL_MS": "20",
    }
    process = start_extension(SHIPPER, fake_api, env)
    try:
        fake_api.wait_for("/event/next")
        assert fake_api.deliver([telemetry("function", f"line {n}") for n in range(12)])[0] == 200
        assert sink.refused.wait(30)
        sink.status = 200  # back up for the shutdown flush
        fake_api.shutdown(budget_s=2.0)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    assert [r["message"] for r in sink.records()] == [f"line {n}" for n in range(7, 12)]
    assert sum(body["dropped"] for body in sink.bodies) == 7


def test_without_an_endpoint_the_init_fails_with_a_clear_error(fake_api: FakeExtensionsApi) -> None:
    process = start_extension(SHIPPER, fake_api)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    error = fake_api.wait_for("/init/error")[0]
    assert error.headers["lambda-extension-function-error-type"] == "Extension.ValueError"
    assert "SHIPPER_ENDPOINT is not set" in error.json()["errorMessage"]
    assert "SHIPPER_ENDPOINT is not set" in stderr
