"""Frames on Lambda's telemetry log descriptor, byte for byte against awslambdaric 4.2.2.

The same records are logged by lambdaboot (``runtime_core.logs`` given a pipe as
``_LAMBDA_TELEMETRY_LOG_FD``) and by awslambdaric (its own ``_setup_logging`` with its
``FramedTelemetryLogSink`` on a pipe), each in a fresh process; the frames are decoded
by the local Lambda's decoder and compared: type, message, and a timestamp in µs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from local_lambda.log_frames import Frame, FrameDecoder
from tests.logs.helpers import REPO

# Logged by both runtimes (the request id is awslambdaric's global, lambdaboot's context).
RECORDS = """
import logging, threading
log = logging.getLogger("app")
log.debug("debug detail")
log.info("hello %s", "ada")
log.warning("two\\nlines")
try:
    {}["missing"]
except KeyError:
    log.exception("caught")
log.error({"kind": "dict"})
log.critical("stop", extra={"order": 7})
log.warning("extras", extra={"errorType": "mine", "location": "here", \
"gone": None, "tenantId": "x"})
threads = [threading.Thread(target=log.warning, args=("from a thread %d" % n,)) for n in range(3)]
for t in threads: t.start()
for t in threads: t.join()
"""

LAMBDABOOT = """
import os, runtime_core.logs as logs
from runtime_core.dispatch import Serving
from runtime_core.invocation import Invocation
logs.install(FORMAT, LEVEL, os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD"))
Serving(Invocation("req-1", 0, "arn", b""), alone=True).__enter__()  # as the engines do
assert "_LAMBDA_TELEMETRY_LOG_FD" not in os.environ
"""

AWSLAMBDARIC = """
import logging, os
from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_log_utils import _get_log_level_from_env_var
bootstrap._GLOBAL_AWS_REQUEST_ID = "req-1"
sink = bootstrap.create_log_sink().__enter__()
bootstrap._setup_logging(0 if FORMAT == "JSON" else 1, _get_log_level_from_env_var(LEVEL), sink)
"""

# Text: milliseconds; JSON: whole seconds (both awslambdaric's).
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
JSON_TIMESTAMP = re.compile(r'^\{"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ')


def frames_of(
    prelude: str,
    log_format: str,
    log_level: str | None,
    body: str,
    execution_env: str | None = None,
) -> list[Frame]:
    read_fd, write_fd = os.pipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_LAMBDA"))}
    env["PYTHONPATH"] = str(REPO)
    env["_LAMBDA_TELEMETRY_LOG_FD"] = str(write_fd)
    if log_format == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    if execution_env:
        env["AWS_EXECUTION_ENV"] = execution_env
    # The body runs as a file of its own, so that line numbers agree whatever the prelude.
    source = (
        f"FORMAT, LEVEL = {log_format!r}, {log_level!r}\n"
        + textwrap.dedent(prelude)
        + f"\nexec(compile({body!r}, '/var/task/app.py', 'exec'))\n"
    )
    started_us = time.time_ns() // 1000
    proc = subprocess.run(
        [sys.executable, "-c", source],
        env=env,
        pass_fds=[write_fd],
        capture_output=True,
        timeout=60,
    )
    os.close(write_fd)
    data = b""
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"", "records went to stdout instead of the descriptor"
    frames = FrameDecoder().feed(data)
    assert all(started_us <= f.timestamp_us <= time.time_ns() // 1000 for f in frames)
    return frames


def comparable(frames: list[Frame]) -> list[tuple[str, str]]:
    """Type and message, byte for byte but the time: a log query or a metric filter
    matching text (``"level": "ERROR"``) sees what it sees on AWS. A JSON record's
    ``timestamp`` must be awslambdaric's shape (whole seconds) before it is masked."""
    out = []
    for f in frames:
        if f.is_json:
            assert JSON_TIMESTAMP.match(f.message), f.message
        out.append((hex(f.frame_type), TIMESTAMP.sub("<time>", f.message, count=1)))
    return sorted(out)  # threads finish in any order


@pytest.mark.parametrize(
    ("log_format", "log_level"),
    [("Text", None), ("Text", "DEBUG"), ("JSON", "INFO"), ("JSON", "TRACE")],
)
def test_application_records_frame_as_awslambdaric_frames_them(
    log_format: str, log_level: str | None
) -> None:
    ours = frames_of(LAMBDABOOT, log_format, log_level, RECORDS)
    theirs = frames_of(AWSLAMBDARIC, log_format, log_level, RECORDS)
    assert comparable(ours) == comparable(theirs)
    assert len(ours) == len(theirs) > 3
    traceback = [f for f in ours if "caught" in f.message]
    assert len(traceback) == 1  # one record, one frame
    if log_format == "Text":  # with its real newlines
        assert "\nTraceback (most recent call last):\n" in traceback[0].message


def test_the_invocation_error_record_is_one_error_frame() -> None:
    stack = ['  File "/var/task/app.py", line 3, in handler\n    raise ValueError("boom")\n']
    ours = frames_of(
        LAMBDABOOT, "Text", None, f"logs.log_invocation_error('ValueError', 'boom', {stack!r})"
    )
    theirs = frames_of(
        AWSLAMBDARIC,
        "Text",
        None,
        "bootstrap.log_error(bootstrap.make_error('boom', 'ValueError', "
        f"{stack!r}, 'req-1'), sink)",
    )
    assert [(f.frame_type, f.message) for f in ours] == [(f.frame_type, f.message) for f in theirs]
    assert ours[0].frame_type == 0xA55A0017  # Text ERROR, whatever the level setting
    assert ours[0].message.split("\n")[:2] == [
        "[ERROR] ValueError: boom",
        "Traceback (most recent call last):",
    ]


@pytest.mark.parametrize("execution_env", ["AWS_Lambda_python3.11", "AWS_Lambda_python3.12"])
def test_the_json_invocation_error_record_is_awslambdaric_s(execution_env: str) -> None:
    """JSON: awslambdaric's error payload after timestamp and level, in its encoder's
    bytes (non-ASCII escaped before python3.12), one ERROR frame."""
    stack = ['  File "/var/task/app.py", line 3, in handler\n    raise ValueError("bööm")\n']
    ours = frames_of(
        LAMBDABOOT,
        "JSON",
        None,
        f"logs.log_invocation_error('ValueError', 'bööm', {stack!r})",
        execution_env,
    )
    theirs = frames_of(
        AWSLAMBDARIC,
        "JSON",
        None,
        "bootstrap.log_error(bootstrap.make_error('bööm', 'ValueError', "
        f"{stack!r}, 'req-1'), sink)",
        execution_env,
    )
    assert comparable(ours) == comparable(theirs)
    assert [f.frame_type for f in ours] == [0xA55A0016]
    assert ("bööm" in ours[0].message) is execution_env.endswith("3.12")


def test_structlog_records_are_framed_with_their_level() -> None:
    frames = frames_of(
        LAMBDABOOT,
        "JSON",
        "INFO",
        "import runtime_core\nlog = runtime_core.get_logger('s')\n"
        "log.debug('hidden'); log.info('i'); log.warning('w'); log.error('e')",
    )
    assert [f.frame_type for f in frames] == [0xA55A000E, 0xA55A0012, 0xA55A0016]


def test_without_the_descriptor_records_stay_stdout_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_LAMBDA"))}
    env["PYTHONPATH"] = str(REPO)
    code = (
        "import runtime_core.logs as logs\nlogs.install('Text', None, None)\n"
        "import logging\nlogging.warning('a\\nb')"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert proc.stdout.endswith(b"\ta\rb\n")
