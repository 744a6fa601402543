"""Run logging snippets in a fresh interpreter, the way the runtime would host them.

Logging is process-wide state (the root logger, an import hook, the chosen format), so
each case gets its own real process: ``install`` is called first, as the runtime does at
start-up, then the snippet runs, and the test reads what reached stdout and stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Snippet prelude that makes the code run "inside" an invocation, as an engine would.
IN_INVOCATION = (
    "from runtime_core.dispatch import Serving\n"
    "from runtime_core.invocation import Invocation\n"
    "Serving(Invocation('req-1', 0, 'arn:aws:lambda:us-east-1:1:function:f', b'',"
    " tenant_id=TENANT)).__enter__()\n"
)


@dataclass
class Output:
    """What a snippet wrote. ``lines`` splits on ``\\n`` only: ``\\r`` stays inside a record."""

    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stdout.split("\n") if line]


#: ``run_logging``'s default level: what Lambda sets (``AWS_LAMBDA_LOG_LEVEL=INFO`` with the
#: JSON format, nothing with Text). Pass ``None`` for "not set at all".
AS_LAMBDA_SETS_IT = "as Lambda sets it"


def run_logging(
    code: str,
    log_format: str | None = "Text",
    log_level: str | None = AS_LAMBDA_SETS_IT,
    *,
    invocation: bool = True,
    tenant_id: str | None = None,
    install_first: bool = True,
    python: Path | str = sys.executable,
) -> Output:
    """Run ``code`` after ``install(log_format, log_level)`` in a new process."""
    if log_level == AS_LAMBDA_SETS_IT:
        log_level = "INFO" if (log_format or "").upper() == "JSON" else None
    prelude = f"import runtime_core.logs as _logs\n_logs.install({log_format!r}, {log_level!r})\n"
    body = textwrap.dedent(code)
    if invocation:
        body = IN_INVOCATION.replace("TENANT", repr(tenant_id)) + body
    source = prelude + body if install_first else body + "\n" + prelude
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [str(python), "-c", source],
        capture_output=True,  # bytes: text mode would turn the records' "\r" into "\n"
        cwd=REPO,
        env=env,
        timeout=60,
    )
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, f"snippet failed:\n{stderr}"
    return Output(stdout, stderr)
