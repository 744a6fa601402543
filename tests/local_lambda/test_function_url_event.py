"""The Function URL front builds its event as Lambda's URL integration does (payload
format 2.0): repeated query keys and headers joined with a comma, no space; every Cookie
header's cookies moved to ``cookies``. Real sockets, a real runtime (awslambdaric)."""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path

from local_lambda import FunctionConfig, LocalLambda
from local_lambda.function_url import FunctionUrl

ECHO = (
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': __import__('json').dumps(event)}\n"
)


def test_repeated_query_keys_headers_and_cookies(function_dir: Path) -> None:
    (function_dir / "app.py").write_text(ECHO)
    config = FunctionConfig(
        command=[sys.executable, "-m", "awslambdaric", "app.handler"], task_root=function_dir
    )
    with LocalLambda(config) as lam, FunctionUrl(lam) as url:
        host, port = url.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.putrequest("GET", "/p?a=1&b=x&a=2&c=%20sp")
        for name, value in [("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "s=1; t=2"),
                            ("Cookie", "u=3")]:  # fmt: skip
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 200
        event = json.loads(response.read())
        conn.close()
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x", "c": " sp"}
    assert event["rawQueryString"] == "a=1&b=x&a=2&c=%20sp"
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "t=2", "u=3"]


def test_a_body_over_6_mb_is_413_and_the_function_is_not_called(function_dir: Path) -> None:
    (function_dir / "app.py").write_text(
        "def handler(event, context):\n    print('CALLED', flush=True)\n    return 'x'\n"
    )
    config = FunctionConfig(
        command=[sys.executable, "-m", "awslambdaric", "app.handler"], task_root=function_dir
    )
    with LocalLambda(config) as lam, FunctionUrl(lam) as url:
        host, port = url.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/", body=b"x" * (6 * 1024 * 1024 + 1))
        response = conn.getresponse()
        assert response.status == 413 and response.read() == (
            b'{"Message":"Request Entity Too Large"}'
        )
        conn.request("POST", "/", body=b"x" * 1024)  # the connection goes on serving
        assert conn.getresponse().status == 200
        conn.close()
        assert lam.output.count("CALLED") == 1
