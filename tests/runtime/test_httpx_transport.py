"""``LAMBDABOOT_TRANSPORT=httpx``: the comparison driver serves the same invocations.

httpx is not a runtime dependency, so this runs on the suite's own interpreter (3.11),
the only one that has it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local_lambda import LocalLambda
from tests.conftest import on_bootstrap, write_function


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_httpx_transport_serves(function_dir: Path, kind: str) -> None:
    prefix = "async " if kind == "async" else ""
    write_function(
        function_dir,
        {
            "app.py": f"""
        import sys
        {prefix}def handler(event, context):
            return {{"event": event, "httpx": "httpx" in sys.modules, "id": context.aws_request_id}}
    """
        },
    )
    config = on_bootstrap(function_dir, env={"LAMBDABOOT_TRANSPORT": "httpx"})
    with LocalLambda(config) as lam:
        for n in range(2):
            result = lam.invoke({"n": n})
            assert result.function_error is None, lam.output
            assert result.json() == {"event": {"n": n}, "httpx": True, "id": result.request_id}
        lam.inject_fault("response", status=413)
        assert lam.invoke({"n": 2}).function_error == "Unhandled"
        assert "answered 413" in lam.output
        assert lam.invoke({"n": 3}).json()["event"] == {"n": 3}
