"""Log records from threads a sync handler starts carry the invocation's request id.

A ThreadPoolExecutor does not copy context variables into its threads; awslambdaric keeps
the request id process-wide, so existing handlers expect those lines to be attributed.
"""

from __future__ import annotations

import json
from pathlib import Path

from local_lambda import LocalLambda
from tests.conftest import on_bootstrap, write_function

HANDLER = """
    import logging
    from concurrent.futures import ThreadPoolExecutor

    def work(n):
        logging.getLogger("worker").info("from a thread %d", n)
        return n

    def handler(event, context):
        with ThreadPoolExecutor(2) as pool:
            return {"sum": sum(pool.map(work, range(3)))}
"""


def test_thread_logs_carry_the_request_id(function_dir: Path, runtime_python: Path) -> None:
    write_function(function_dir, {"app.py": HANDLER})
    config = on_bootstrap(function_dir, runtime_python, log_format="JSON")
    with LocalLambda(config) as lam:
        results = [lam.invoke({}) for _ in range(2)]
    for result in results:
        assert result.json() == {"sum": 3}
        records = [
            json.loads(line)
            for line in result.logs.splitlines()
            if line.startswith("{") and "from a thread" in line
        ]
        assert len(records) == 3
        assert {record["requestId"] for record in records} == {result.request_id}
