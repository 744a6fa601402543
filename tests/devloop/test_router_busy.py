"""The dev-loop router counts an environment busy until it is idle, as Lambda does.

On Lambda an environment is free again only when its runtime and every extension have
asked for the next event, not when its answer has gone out. Here an external extension
holds its ``/event/next`` after each INVOKE until the test creates a file named for that
request, so an environment that has answered stays busy: a second request must go to
another environment (scale-out), a third (past the limit) is throttled, and none waits
behind the held one. Without timing: a request sent to the held environment would never be
answered (a read timeout, a failure), since the test releases it only afterwards. A
streamed answer through the router comes chunk by chunk, complete while the extension holds.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_lambda import FunctionConfig
from local_lambda.devloop.function_set import FunctionSet, ServedFunction
from tests.conftest import BOOTSTRAP, RUNTIME_PYTHONS, bootstrap_env, write_function
from tests.local_lambda.test_extensions_kit import extension, make_layer
from tests.streaming.test_answer_moments import strict_client
from tests.streaming.test_streaming import APP as STREAMING_APP

APP = """
def handler(event, context):
    return {"request_id": context.aws_request_id}
"""
# After each INVOKE, holds the environment until $RELEASE_DIR/<request id> (or .../all) exists.
HOLDER = """
ident = register(["INVOKE"])
while True:
    event = next_event(ident)
    names = [os.path.join(os.environ["RELEASE_DIR"], n) for n in (event["requestId"], "all")]
    while not any(os.path.exists(name) for name in names):
        time.sleep(0.01)
"""


@contextlib.contextmanager
def held_function(
    function_dir: Path, tmp_path: Path, app: str, handler: str, **config_options: Any
) -> Iterator[tuple[Any, Path, list[str]]]:
    """The function ``Held`` (``app``'s ``handler``, ``config_options`` on top) behind the
    router, at most two environments, its extension holding each invocation; boto3 for
    it, the release folder, and the log lines as the router labels them."""
    release = tmp_path / "release"
    release.mkdir()
    layer = make_layer(tmp_path / "holder.zip", {"extensions/holder": extension(HOLDER)})
    env = bootstrap_env(config_options.pop("python", RUNTIME_PYTHONS["3.11"]))
    env |= {"RELEASE_DIR": str(release), "RECORD": str(tmp_path / "record.jsonl")}
    config = FunctionConfig(
        command=[str(BOOTSTRAP)],
        task_root=write_function(function_dir, {"app.py": app}),
        handler=f"app.{handler}",
        function_name="Held",
        env=env,
        layers=[layer],
        timeout=120.0,
        **config_options,
    )
    lines: list[str] = []
    lock = threading.Lock()

    def on_log(label: str, line: str) -> None:
        with lock:
            lines.append(f"[{label}] {line}")

    functions = FunctionSet(on_log=on_log)
    functions.open()
    try:
        functions.replace([ServedFunction(config, ("Held",), 2)])
        yield strict_client(functions.endpoint), release, lines
    finally:
        (release / "all").touch()
        functions.close()


@pytest.fixture
def served(
    function_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, Path, list[str]]]:
    """``held_function`` of ``app.handler`` above, or (``indirect`` parameter) of one of
    the streaming tests' app."""
    app, handler = (STREAMING_APP, request.param) if hasattr(request, "param") else (APP, "handler")
    with held_function(function_dir, tmp_path, app, handler) as held:
        yield held


def _invoke(boto: Any) -> tuple[str, str]:
    """(environment label, request id) of one synchronous invoke."""
    response = boto.invoke(FunctionName="Held", Payload=b"{}")
    assert "FunctionError" not in response
    label = response["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"]
    return label, response["ResponseMetadata"]["RequestId"]


def _reported(lines: list[str], request_id: str) -> bool:
    return any(re.search(rf"REPORT RequestId: {request_id}\b", line) for line in list(lines))


def test_an_environment_that_has_answered_stays_busy_until_its_extension_is_back(
    served: tuple[Any, Path, list[str]],
) -> None:
    boto, release, lines = served
    first_env, first = _invoke(boto)  # answered; its extension holds the environment
    assert first_env == "Held#1" and not _reported(lines, first)

    second_env, second = _invoke(boto)  # not behind the held one: a second environment
    assert second_env == "Held#2"
    assert not _reported(lines, first) and not _reported(lines, second)

    with pytest.raises(ClientError) as throttled:  # both allowed environments are busy
        boto.invoke(FunctionName="Held", Payload=b"{}")
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert throttled.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

    (release / first).touch()  # the first environment's invocation may end now
    for _ in range(6000):  # at most 60 s, then the assertion below fails
        if _reported(lines, first):
            break
        threading.Event().wait(0.01)
    assert _reported(lines, first)
    third_env, _ = _invoke(boto)  # the freed environment serves; the held one still holds
    assert third_env == "Held#1"
    assert not _reported(lines, second)


@pytest.mark.parametrize("served", ["gated"], indirect=True)
def test_a_stream_through_the_router_arrives_as_the_runtime_sends_it(
    served: tuple[Any, Path, list[str]], tmp_path: Path
) -> None:
    """The router passes each chunk on as it comes: the handler sends its second chunk only
    once the first has reached boto3, and the answer is complete while the extension still
    holds the environment."""
    boto, _, lines = served
    gate = tmp_path / "gate"
    response = boto.invoke_with_response_stream(
        FunctionName="Held", Payload=json.dumps({"gate": str(gate)}).encode()
    )
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"] == "Held#1"
    seen = []
    for event in response["EventStream"]:
        seen.append(event)
        gate.touch()
    assert seen == [
        {"PayloadChunk": {"Payload": b"first"}},
        {"PayloadChunk": {"Payload": b"second"}},
        {"InvokeComplete": {}},
    ]
    assert not _reported(lines, response["ResponseMetadata"]["RequestId"])
