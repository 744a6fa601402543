"""HTTP triggers: API Gateway REST (payload 1.0), HTTP APIs (2.0), Function URLs, ALB.

Shapes follow AWS's documentation of each payload: "Input format of a Lambda function
for proxy integration" (REST), "Working with AWS Lambda proxy integrations for HTTP
APIs" (2.0), "Invoking Lambda function URLs" (payload section) and "Lambda functions
as targets" (ALB). Header names are as each service passes them: REST keeps the
client's case, HTTP APIs, Function URLs and ALB lower-case them.
"""

from __future__ import annotations

import base64
import re
import time
import urllib.parse

from .source import (
    Event,
    EventSource,
    Option,
    Values,
    alnum_id,
    arn,
    clf_time,
    epoch_ms,
    hex_id,
    new_uuid,
    now,
)

SOURCE_IP = "192.0.2.1"  # a documentation address (RFC 5737)
USER_AGENT = "curl/8.5.0"

REQUEST_OPTIONS = (
    Option("--method", "the HTTP method", "GET"),
    Option("--path", "the request path", "/"),
    Option("--body", "the request body (text; JSON for most APIs)"),
    Option("--header", "a request header NAME=VALUE (repeatable)", kind="pairs"),
    Option("--query", "a query-string parameter NAME=VALUE (repeatable)", kind="pairs"),
    Option("--base64", "send the body base64-encoded (isBase64Encoded: true)", kind="flag"),
)


def trace_header() -> str:
    return f"Root=1-{int(time.time()):08x}-{hex_id(24)}"


def _body(values: Values) -> tuple[str | None, bool]:
    body: str | None = values["body"]
    if body is None or not values["base64"]:
        return body, False
    return base64.b64encode(body.encode()).decode(), True


def _client_headers(values: Values, host: str) -> list[tuple[str, str]]:
    """What a client and the front door send, then the user's own (which win)."""
    headers = [
        ("Accept", "*/*"),
        ("Host", host),
        ("User-Agent", USER_AGENT),
        ("X-Amzn-Trace-Id", trace_header()),
        ("X-Forwarded-For", SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    if values["body"] is not None:
        headers.append(("Content-Type", "application/json"))
        headers.append(("Content-Length", str(len(values["body"].encode()))))
    given = {name.lower() for name, _ in values["header"]}
    return [h for h in headers if h[0].lower() not in given] + list(values["header"])


def _single(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Payload 1.0's single-value maps: the last value of a repeated name."""
    return {name: value for name, value in pairs}


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return multi


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Payload 2.0's maps: repeated names joined with commas."""
    return {name: ",".join(values) for name, values in _multi(pairs).items()}


def path_parameters(template: str, path: str) -> dict[str, str] | None:
    """``{name}`` and greedy ``{name+}`` segments of a resource or route matched against
    ``path`` (None when the template has none); a ValueError when they do not match."""
    names = re.findall(r"\{([^}+]+)\+?\}", template)
    if not names:
        return None
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            pattern += "(.+)" if piece.endswith("+}") else "([^/]+)"
        else:
            pattern += re.escape(piece)
    found = re.fullmatch(pattern, path)
    if found is None:
        raise ValueError(f"--path {path} does not match {template}: give a path the route matches")
    return dict(zip(names, found.groups(), strict=True))


def _method(values: Values) -> str:
    method: str = values["method"].upper()
    allowed = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
    if method not in allowed:
        raise ValueError(f"--method {values['method']}: use one of {', '.join(allowed)}")
    return method


def apigw_rest(values: Values) -> Event:
    """A REST API's Lambda proxy integration event (payload format 1.0)."""
    at, api_id, method, path = now(), alnum_id(10), _method(values), values["path"]
    domain = f"{api_id}.execute-api.{values['region']}.amazonaws.com"
    resource, stage = values["resource"] or path, values["stage"]
    headers = _client_headers(values, domain)
    query = list(values["query"])
    body, encoded = _body(values)
    return {
        "version": "1.0",  # as HTTP APIs send payload 1.0; Powertools reads it
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": _single(headers),
        "multiValueHeaders": _multi(headers),
        "queryStringParameters": _single(query) or None,
        "multiValueQueryStringParameters": _multi(query) or None,
        "requestContext": {
            "accountId": values["account_id"],
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "extendedRequestId": alnum_id(16) + "=",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": SOURCE_IP,
                "user": None,
                "userAgent": USER_AGENT,
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": new_uuid(),
            "requestTime": clf_time(at),
            "requestTimeEpoch": epoch_ms(at),
            "resourceId": alnum_id(6),
            "resourcePath": resource,
            "stage": stage,
        },
        "pathParameters": path_parameters(resource, path),
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": encoded,
    }


def _payload_v2(values: Values, api_id: str, domain: str, route: str, stage: str) -> Event:
    at, method, path = now(), _method(values), values["path"]
    headers = [(name.lower(), value) for name, value in _client_headers(values, domain)]
    cookies = [c.strip() for name, value in headers if name == "cookie" for c in value.split(";")]
    headers = [h for h in headers if h[0] != "cookie"]  # 2.0 moves cookies to their own list
    query = list(values["query"])
    event: Event = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": urllib.parse.urlencode(query),
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = _joined(headers)
    if query:
        event["queryStringParameters"] = _joined(query)
    event["requestContext"] = {
        "accountId": values["account_id"],
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": api_id,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": SOURCE_IP,
            "userAgent": USER_AGENT,
        },
        "requestId": alnum_id(16) + "=",
        "routeKey": route,
        "stage": stage,
        "time": clf_time(at),
        "timeEpoch": epoch_ms(at),
    }
    body, encoded = _body(values)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def apigw_http(values: Values) -> Event:
    """An HTTP API's Lambda integration event (payload format 2.0)."""
    api_id = alnum_id(10)
    domain = f"{api_id}.execute-api.{values['region']}.amazonaws.com"
    route = values["route"]
    event = _payload_v2(values, api_id, domain, route, values["stage"])
    if route != "$default":
        _, _, template = route.partition(" ")
        params = path_parameters(template, values["path"])
        if params is not None:
            event["pathParameters"] = params
    return event


def function_url(values: Values) -> Event:
    """A Function URL request: payload 2.0 with ``$default`` for API Gateway's fields."""
    url_id = alnum_id(32)
    domain = f"{url_id}.lambda-url.{values['region']}.on.aws"
    return _payload_v2(values, url_id, domain, "$default", "$default")


def alb(values: Values) -> Event:
    """An Application Load Balancer's request to a Lambda target (multi-value headers off)."""
    host = f"my-alb-{alnum_id(8)}.{values['region']}.elb.amazonaws.com"
    headers = [(name.lower(), value) for name, value in _client_headers(values, host)]
    body, encoded = _body(values)
    group = f"targetgroup/{values['target_group']}/{hex_id(16)}"
    return {
        "requestContext": {"elb": {"targetGroupArn": arn("elasticloadbalancing", values, group)}},
        "httpMethod": _method(values),
        "path": values["path"],
        "queryStringParameters": _single(values["query"]),
        "headers": _single(headers),
        "body": body or "",
        "isBase64Encoded": encoded,
    }


SOURCES = (
    EventSource(
        "apigw-rest",
        "API Gateway REST API, Lambda proxy integration (payload 1.0)",
        (
            *REQUEST_OPTIONS,
            Option("--resource", "the resource, e.g. /users/{id} or /{proxy+} (default: the path)"),
            Option("--stage", "the stage name", "Prod"),
        ),
        apigw_rest,
    ),
    EventSource(
        "apigw-http",
        "API Gateway HTTP API (payload 2.0)",
        (
            *REQUEST_OPTIONS,
            Option("--route", "the route key, e.g. 'GET /users/{id}'", "$default"),
            Option("--stage", "the stage name", "$default"),
        ),
        apigw_http,
    ),
    EventSource("function-url", "Lambda Function URL request", REQUEST_OPTIONS, function_url),
    EventSource(
        "alb",
        "Application Load Balancer request to a Lambda target group",
        (*REQUEST_OPTIONS, Option("--target-group", "the target group's name", "my-targets")),
        alb,
    ),
)
