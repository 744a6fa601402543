"""Every status code of the Runtime API, produced by scripted misbehaving runtimes."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from pathlib import Path

from local_lambda import LocalLambda

from .conftest import read_records


def test_next_headers_and_response_codes(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        status, headers, event = next_event()
        rid = headers["lambda-runtime-aws-request-id"]
        record(next=status, headers=headers, event=event.decode())
        record(wrong_id=post("not-the-id", "response", b"{}")[0])
        status, _, body = post(rid, "response", b'{"fine": 1}',
                               {"Lambda-Runtime-Invocation-Id": \
headers["lambda-runtime-invocation-id"]})
        record(first=status, body=body.decode())
        record(again=post(rid, "response", b"{}")[0], error_after=post(rid, "error", b"{}")[0])
        next_event()
        """
    )
    r = lam.invoke(
        {"a": 1},
        tenant_id="t-9",
        client_context={"custom": {"x": 1}},
        cognito_identity={"cognitoIdentityId": "i"},
    )
    assert r.payload == b'{"fine": 1}' and r.function_error is None
    first, wrong, accepted, again = read_records(record_file)
    headers = first["headers"]
    assert first["next"] == 200 and first["event"] == '{"a": 1}'
    assert headers["lambda-runtime-aws-request-id"] == r.request_id
    assert int(headers["lambda-runtime-deadline-ms"]) > 1_600_000_000_000
    assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:test-function")
    assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
    assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"x": 1}}
    assert json.loads(headers["lambda-runtime-cognito-identity"]) == {"cognitoIdentityId": "i"}
    assert headers["lambda-runtime-aws-tenant-id"] == "t-9"
    assert headers["lambda-runtime-invocation-id"]
    assert headers["content-type"] == "application/json"
    assert wrong == {"wrong_id": 400}
    assert accepted == {"first": 202, "body": '{"status":"OK"}\n'}
    assert again == {"again": 403, "error_after": 403}
    t = r.timings
    assert (
        0
        < t.next_answered_ns
        <= t.result_received_ns
        <= t.accepted_written_ns
        <= t.following_next_ns
    )


def test_response_too_large_is_413(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        while True:
            status, headers, event = next_event()
            rid = headers["lambda-runtime-aws-request-id"]
            size = json.loads(event)["size"]
            status, _, body = post(rid, "response", b"x" * size)
            record(status=status, body=json.loads(body) if status != 202 else None,
                   error_after=post(rid, "error", b"{}")[0])
        """
    )
    r = lam.invoke({"size": 6_291_557})
    assert r.function_error == "Unhandled"
    assert r.json() == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size (6291557 bytes) exceeded "
        "maximum allowed payload size (6291556 bytes).",
    }
    exact = lam.invoke({"size": 6_291_556})
    assert len(exact.payload) == 6_291_556 and exact.function_error is None
    too_large, fits = read_records(record_file)
    assert too_large["status"] == 413
    assert too_large["body"]["errorType"] == "RequestEntityTooLarge"
    assert too_large["error_after"] == 403  # after a 413 the invoke has failed already
    assert fits["status"] == 202


def test_error_post_is_passed_through(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        status, headers, event = next_event()
        rid = headers["lambda-runtime-aws-request-id"]
        error = json.dumps({"errorMessage": "nope", "errorType": "KeyError", \
"stackTrace": []}).encode()
        record(status=post(rid, "error", error, \
{"Lambda-Runtime-Function-Error-Type": "Function.KeyError"})[0])
        next_event()
        """
    )
    r = lam.invoke({})
    assert r.function_error == "Unhandled"
    assert r.json() == {"errorMessage": "nope", "errorType": "KeyError", "stackTrace": []}
    assert read_records(record_file) == [{"status": 202}]


def test_post_after_timeout_is_410(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        status, headers, event = next_event()
        record(rid=headers["lambda-runtime-aws-request-id"])
        time.sleep(60)
        """,
        timeout=0.5,
    )
    r = lam.invoke({})
    assert r.json()["errorType"] == "Sandbox.Timedout"
    # The environment is gone; a late post (as a frozen-then-thawed runtime would send) gets 410.
    (rid,) = [rec["rid"] for rec in read_records(record_file)]
    host, port = lam.runtime_api.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body=b"{}")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 410
    assert json.loads(body) == {
        "errorMessage": "Invoke timeout",
        "errorType": "InvokeTimeout",
    }


def test_init_error_202_then_403(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        body = json.dumps({"errorMessage": "bad config", "errorType": "ConfigError", \
"stackTrace": []}).encode()
        hdr = {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigError"}
        first = call("POST", BASE + "/init/error", body, hdr)
        record(first=first[0], body=first[2].decode(), \
second=call("POST", BASE + "/init/error", body, hdr)[0])
        sys.exit(1)
        """
    )
    r = lam.invoke({})
    assert r.function_error == "Unhandled"
    assert r.json()["errorMessage"] == "bad config"
    assert "Status: error\tError Type: Runtime.ConfigError" in r.logs
    assert read_records(record_file) == [{"first": 202, "body": '{"status":"OK"}\n', "second": 403}]


def test_chunked_body_with_trailers(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        def chunked(rid, chunks, trailers):
            sock = socket.create_connection((HOST, int(PORT)))
            head = (f"POST {BASE}/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
                    "Transfer-Encoding: chunked\\r\\n"
                    "Trailer: Lambda-Runtime-Function-Error-Type, \
Lambda-Runtime-Function-Error-Body\\r\\n\\r\\n")
            data = head.encode() + b"".join(b"%x\\r\\n%s\\r\\n" % (len(c), c) for c in chunks) \
+ b"0\\r\\n"
            data += "".join(f"{k}: {v}\\r\\n" for k, v in trailers.items()).encode() + b"\\r\\n"
            sock.sendall(data)
            reply = sock.recv(65536).decode()
            sock.close()
            return int(reply.split()[1])

        while True:
            status, headers, event = next_event()
            rid = headers["lambda-runtime-aws-request-id"]
            if json.loads(event).get("fail"):
                error = base64.b64encode(json.dumps({"errorType": "Boom", \
"errorMessage": "midway"}).encode()).decode()
                trailers = {"Lambda-Runtime-Function-Error-Type": "Function.Boom",
                            "Lambda-Runtime-Function-Error-Body": error}
            else:
                trailers = {}
            record(status=chunked(rid, [b"hello ", b"chunked ", b"world"], trailers))
        """
    )
    ok = lam.invoke({})
    assert ok.payload == b"hello chunked world" and ok.function_error is None
    failed = lam.invoke({"fail": True})
    assert failed.function_error == "Unhandled"
    assert failed.json() == {"errorType": "Boom", "errorMessage": "midway"}
    assert read_records(record_file) == [{"status": 202}, {"status": 202}]


def test_injected_faults(scripted_lambda: Callable[..., LocalLambda], record_file: Path) -> None:
    lam = scripted_lambda(
        """
        while True:
            status, headers, event = next_event()
            if status != 200:
                record(next=status)
                continue
            rid = headers["lambda-runtime-aws-request-id"]
            status, _, body = post(rid, "response", b'"ok"')
            record(response=status, body=body.decode())
            if status == 500:
                sys.exit(7)
        """
    )
    lam.inject_fault("next", 403)
    lam.inject_fault("response", 500)
    r = lam.invoke({})
    assert r.json()["errorType"] == "Runtime.ExitError"
    assert r.json()["errorMessage"].endswith("exit status 7")
    assert read_records(record_file) == [
        {"next": 403},
        {
            "response": 500,
            "body": '{"errorMessage": "Internal Server Error", '
            '"errorType": "InternalServerError"}\n',
        },
    ]
    assert lam.invoke({}).payload == b'"ok"'  # a fresh environment serves the next invoke


def test_extension_registration(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        import threading
        EXT = "/2020-01-01/extension"
        status, headers, body = call("POST", EXT + "/register", b'{"events": []}', \
{"Lambda-Extension-Name": "probe"})
        ext_id = headers["lambda-extension-identifier"]
        record(register=status, body=json.loads(body))
        threading.Thread(target=call, args=("GET", EXT + "/event/next", None, \
{"Lambda-Extension-Identifier": ext_id}),
                         daemon=True).start()
        status, headers, event = next_event()
        late = call("POST", EXT + "/register", b'{"events": []}', {"Lambda-Extension-Name": "late"})
        record(late=late[0], late_type=json.loads(late[2])["errorType"])
        post(headers["lambda-runtime-aws-request-id"], "response", b"1")
        next_event()
        """
    )
    assert lam.invoke({}).payload == b"1"
    registered, late = read_records(record_file)
    assert registered == {
        "register": 200,
        "body": {
            "functionName": "test-function",
            "functionVersion": "$LATEST",
            "handler": "app.handler",
        },
    }
    assert late == {"late": 403, "late_type": "Extension.RegistrationClosed"}


def test_init_waits_for_extensions(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        import threading
        EXT = "/2020-01-01/extension"
        _, headers, _ = call("POST", EXT + "/register", b'{"events": []}', \
{"Lambda-Extension-Name": "slow"})
        ext_id = headers["lambda-extension-identifier"]
        def poll_later():
            time.sleep(0.3)
            record(extension_polls=time.monotonic())
            call("GET", EXT + "/event/next", None, {"Lambda-Extension-Identifier": ext_id})
        threading.Thread(target=poll_later, daemon=True).start()
        status, headers, event = next_event()
        record(event_at=time.monotonic())
        post(headers["lambda-runtime-aws-request-id"], "response", b"1")
        next_event()
        """
    )
    r = lam.invoke({})
    assert r.payload == b"1"
    polled, delivered = read_records(record_file)
    assert (
        delivered["event_at"] >= polled["extension_polls"]
    )  # no event before every extension is ready
    assert (
        r.report is not None
        and r.report.init_duration_ms is not None
        and r.report.init_duration_ms >= 300
    )


def test_log_tail_payload(scripted_lambda: Callable[..., LocalLambda]) -> None:
    lam = scripted_lambda(
        """
        status, headers, event = next_event()
        print("x" * 5000, flush=True)
        print("last line", flush=True)
        post(headers["lambda-runtime-aws-request-id"], "response", b"1")
        next_event()
        """
    )
    r = lam.invoke({}, log_tail=True)
    assert r.log_result is not None
    tail = base64.b64decode(r.log_result).decode()
    assert len(tail) == 4096
    assert "last line" in tail and tail.rstrip().splitlines()[-1].startswith("REPORT RequestId:")


def test_second_streamed_response_while_streaming_is_403(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path, tmp_path: Path
) -> None:
    """As on Lambda, one streamed response per invocation: a second one for the same id,
    posted while the first is still streaming, is refused and the first one is delivered."""
    seen = tmp_path / "first-chunk-seen"
    lam = scripted_lambda(
        """
        def open_stream(rid):
            sock = socket.create_connection((HOST, int(PORT)))
            sock.sendall((f"POST {BASE}/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
                          "Lambda-Runtime-Function-Response-Mode: streaming\\r\\n"
                          "Transfer-Encoding: chunked\\r\\n\\r\\n").encode())
            return sock

        def send_chunk(sock, data):
            sock.sendall(b"%x\\r\\n%s\\r\\n" % (len(data), data))

        def status_and_body(sock):
            head, _, body = sock.recv(65536).decode().partition("\\r\\n\\r\\n")
            sock.close()
            return int(head.split()[1]), body

        status, headers, event = next_event()
        rid = headers["lambda-runtime-aws-request-id"]
        first = open_stream(rid)
        send_chunk(first, b"first ")
        while not os.path.exists(os.environ["SEEN"]):  # the caller has the first chunk
            time.sleep(0.01)
        second = open_stream(rid)
        send_chunk(second, b"second")
        status, body = status_and_body(second)
        record(second=status, error_type=json.loads(body)["errorType"])
        send_chunk(first, b"stream")
        first.sendall(b"0\\r\\n\\r\\n")
        record(first=status_and_body(first)[0])
        next_event()
        """,
        env={"SEEN": str(seen)},
    )
    chunks: list[bytes] = []

    def on_chunk(chunk: bytes) -> None:
        chunks.append(chunk)
        seen.touch()

    r = lam.invoke({}, on_chunk=on_chunk)
    assert r.function_error is None
    assert b"".join(chunks) == b"first stream"
    assert read_records(record_file) == [
        {"second": 403, "error_type": "InvalidStateTransition"},
        {"first": 202},
    ]
