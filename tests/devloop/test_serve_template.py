"""`lambdaboot serve --template`: a SAM project's functions at one endpoint, called by boto3.

End to end: the real command in a subprocess, real runtimes (lambdaboot's bootstrap), a
real layer and a real external extension, boto3 as the caller.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.devloop.conftest import Project, Served

WAIT_S = 60  # an upper bound for things to happen on a loaded machine, not a speed check


def _json(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def test_three_functions_by_logical_id_and_name(serve: Any, project: Project) -> None:
    served: Served = serve()
    client = served.client()
    by_id = client.invoke(FunctionName="Api", Payload=b"{}")
    body = _json(by_id)
    assert body["greeting"] == "hello"
    assert body["shared"] == "shared says hi to api"  # the layer's code, from /opt/python
    assert body["sam_local"] == "true"  # under --template, as sam local sets it
    assert by_id["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"] == "Api#1"
    by_name = client.invoke(FunctionName="local-api", Payload=b"{}")  # FunctionName resolved
    assert _json(by_name)["log_stream"] == body["log_stream"]  # the same warm environment
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Api"
    assert _json(client.invoke(FunctionName=arn, Payload=b"{}"))["greeting"] == "hello"

    stream = client.invoke_with_response_stream(FunctionName="Stream", Payload=b"{}")
    events = list(stream["EventStream"])
    payload = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert payload == b"part 0;part 1;part 2;"
    assert events[-1] == {"InvokeComplete": {}}

    with_ext = client.invoke(FunctionName="WithExtension", Payload=b"{}")
    request_id = _json(with_ext)["request_id"]
    queued = client.invoke(FunctionName="WithExtension", InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202  # answered at once, run in an environment's queue
    assert client.invoke(FunctionName="Api", InvocationType="DryRun")["StatusCode"] == 204

    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="Nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as too_large:  # Lambda's 6 MB request limit
        client.invoke(FunctionName="Api", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert too_large.value.response["Error"]["Code"] == "RequestTooLargeException"

    assert served.stop() == 128 + 15  # ended by SIGTERM, as the plain serve reports it
    records = [json.loads(line) for line in project.record.read_text().splitlines()]
    assert {"type": "INVOKE", "requestId": request_id} in records
    assert records[-1]["type"] == "SHUTDOWN"  # the shutdown phase ran on Ctrl-C/SIGTERM
    console = served.log()
    streamed = re.search(
        r"^\[Stream#1\] REPORT RequestId: \S+\tDuration: ([\d.]+) ms", console, re.M
    )
    assert streamed is not None, console
    assert float(streamed.group(1)) >= 150  # from the event's delivery to the stream's end
    assert re.search(rf"^\[WithExtension#1\] START RequestId: {request_id}", console, re.M)


def test_every_name_form_reaches_a_function_as_it_reaches_one_environment(
    serve: Any,
) -> None:
    """The Invoke API's name forms (API_Invoke.html): bare, name:QUALIFIER, a partial and a
    full ARN, and ?Qualifier=; by logical id or FunctionName. Only $LATEST exists locally."""
    client = serve().client()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    reached = [
        {"FunctionName": "Api:$LATEST"},
        {"FunctionName": "local-api:$LATEST"},
        {"FunctionName": "local-api", "Qualifier": "$LATEST"},
        {"FunctionName": "123456789012:function:Api"},
        {"FunctionName": f"{arn}local-api:$LATEST"},
        {"FunctionName": f"{arn}Api", "Qualifier": "$LATEST"},
    ]
    for form in reached:
        response = client.invoke(Payload=b"{}", **form)
        assert _json(response)["greeting"] == "hello", form
        assert response["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"] == "Api#1"
    stream = client.invoke_with_response_stream(FunctionName=f"{arn}Stream:$LATEST")
    assert list(stream["EventStream"])[-1] == {"InvokeComplete": {}}

    refused = [
        ({"FunctionName": "Api:prod"}, 404, "ResourceNotFoundException", f"{arn}local-api:prod"),
        ({"FunctionName": "Api", "Qualifier": "1"}, 404, "ResourceNotFoundException", ":1"),
        ({"FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:Api"}, 404,
         "ResourceNotFoundException", "eu-west-1"),
        ({"FunctionName": "arn:aws:lambda:us-east-1:999999999999:function:Api"}, 403,
         "AccessDeniedException", "999999999999:function:local-api"),
        ({"FunctionName": "Api:$LATEST", "Qualifier": "1"}, 400,
         "InvalidParameterValueException", "does not match"),
        ({"FunctionName": "not a name!"}, 400, "InvalidParameterValueException", "not a name!"),
        ({"FunctionName": "Nope:$LATEST"}, 404,
         "ResourceNotFoundException", "function:Nope:$LATEST"),
    ]  # fmt: skip
    for form, status, code, message in refused:
        with pytest.raises(ClientError) as caught:
            client.invoke(Payload=b"{}", **form)
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == status, form
        assert error["Error"]["Code"] == code, form
        assert message in error["Error"]["Message"], form


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_concurrent_invokes_scale_out_then_429(serve: Any, project: Project) -> None:
    served: Served = serve("--max-environments", "2")
    client = served.client()
    results: list[Any] = []

    def held() -> None:
        response = client.invoke(FunctionName="Api", Payload=json.dumps({"hold": True}).encode())
        results.append(
            (
                response["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"],
                _json(response),
            )
        )

    threads = [threading.Thread(target=held) for _ in range(2)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: len(list(project.gate.glob("in-*"))) == 2, "two invocations in flight")

    with pytest.raises(ClientError) as throttled:  # both environments allowed are busy
        client.invoke(FunctionName="Api", Payload=b"{}")
    error = throttled.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

    (project.gate / "release").touch()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    labels = sorted(label for label, _ in results)
    assert labels == ["Api#1", "Api#2"]
    assert len({body["log_stream"] for _, body in results}) == 2  # two environments

    warm = client.invoke(FunctionName="Api", Payload=b"{}")  # reused, no new environment
    label = warm["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"]
    assert label in ("Api#1", "Api#2")

    def reports() -> list[str]:
        return re.findall(r"^\[(Api#\d)\] REPORT .*$", served.log(), re.M)

    # answered when the runtime posted; its REPORT follows at the runtime's next /next
    _wait_for(lambda: len(reports()) == 3, "the warm invocation's REPORT")
    assert len(reports()) == 3
    cold = [
        line
        for line in re.findall(r"^\[Api#\d\] REPORT .*$", served.log(), re.M)
        if "Init Duration" in line
    ]
    assert sorted(re.match(r"\[(Api#\d)\]", line).group(1) for line in cold) == ["Api#1", "Api#2"]  # type: ignore[union-attr]


def test_watch_replaces_the_environment_when_code_changes(serve: Any, project: Project) -> None:
    served: Served = serve("--watch")
    served.read_stdout_until("Watching")
    client = served.client()
    first = _json(client.invoke(FunctionName="Api", Payload=b"{}"))
    assert first["version"] == 1
    stream_before = _json(client.invoke(FunctionName="WithExtension", Payload=b"{}"))

    project.api_source(2)
    reloaded = served.read_stdout_until("Reloaded")
    assert reloaded.strip() == "Reloaded Api: src/api/app.py changed"
    renewed = client.invoke(FunctionName="Api", Payload=b"{}")
    second = _json(renewed)
    assert second["version"] == 2
    assert second["log_stream"] != first["log_stream"]  # a new environment
    # ... with a label of its own, so its log lines are told from the old one's
    assert renewed["ResponseMetadata"]["HTTPHeaders"]["x-lambdaboot-environment"] == "Api#2"
    # The other functions keep their warm environments.
    assert (
        client.invoke(FunctionName="WithExtension", Payload=b"{}")["ResponseMetadata"][
            "HTTPHeaders"
        ]["x-lambdaboot-environment"]
        == "WithExtension#1"
    )
    assert stream_before

    text = project.template.read_text().replace("GREETING: hello", "GREETING: bonjour")
    project.template.write_text(text)
    assert served.read_stdout_until("Reloaded").strip() == "Reloaded Api: template.yaml changed"
    assert _json(client.invoke(FunctionName="Api", Payload=b"{}"))["greeting"] == "bonjour"

    project.template.write_text("Resources: [")  # mid-edit: the old version keeps serving
    _wait_for(
        lambda: "reload failed, still serving the previous version" in served.log(),
        "the reload error",
    )
    assert _json(client.invoke(FunctionName="Api", Payload=b"{}"))["greeting"] == "bonjour"
