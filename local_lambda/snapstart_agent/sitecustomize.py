"""The local Lambda's SnapStart agent: runs INSIDE the runtime's interpreter.

Lambda snapshots a whole microVM while the runtime waits on ``GET /runtime/restore/next``
and resumes copies of it for cold starts. No memory snapshot can be taken on this machine
(CRIU cannot run here), so the local Lambda forks the runtime's process at that moment:
the parent has run init and the before-snapshot hooks; the child is the restored copy and
runs the restore path. Nothing in the runtime under test is changed or told.

``local_lambda.snapstart`` puts this directory first on ``PYTHONPATH`` (only in SnapStart
mode), so ``site`` imports this module at interpreter start. It puts ``PYTHONPATH`` back as
it was, leaves ``sys.path`` without this directory, imports the function's own
``sitecustomize`` if there is one, and waits for the local Lambda's signal:

- the local Lambda has received ``restore/next`` (on the connection whose client port it
  wrote to a file) and sends the signal; the handler forks;
- the child replaces that connection's descriptor with a new connection on which it asks
  ``restore/next`` again, so the runtime reads the answer meant for this copy and shares
  no connection with the parent; then it returns into the runtime, which goes on;
- the parent stays as the snapshot's holder: it forwards signals to the child and exits
  with the child's status, so the local Lambda sees one runtime process end as usual.

Only the standard library, and nothing imported until it is needed: this module is on
every SnapStart start-up.
"""

import os
import sys

_SPEC = "_LOCAL_LAMBDA_SNAPSHOT"  # "<signal number>:<port file>"
_PYTHONPATH = "_LOCAL_LAMBDA_PYTHONPATH"  # "=<the function's PYTHONPATH>" or "" (unset)
_HERE = os.path.dirname(os.path.abspath(__file__))
_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def _install() -> None:
    spec = os.environ.pop(_SPEC, "")
    original = os.environ.pop(_PYTHONPATH, "")
    if original.startswith("="):
        os.environ["PYTHONPATH"] = original[1:]
    else:
        os.environ.pop("PYTHONPATH", None)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    me = sys.modules.pop(__name__)
    try:  # the function's (or the interpreter's) own sitecustomize, now that ours is gone
        import sitecustomize  # noqa: F401
    except ImportError:
        sys.modules[__name__] = me  # the import system expects to find the module it ran
    if not spec:
        return
    import signal

    number, port_file = spec.split(":", 1)
    with open(port_file + ".agent", "w") as ready:  # tells the local Lambda it can fork
        ready.write(str(os.getpid()))
    signal.signal(int(number), lambda _signum, _frame: _snapshot(port_file))


def _snapshot(port_file: str) -> None:
    with open(port_file) as source:
        port = int(source.read())
    fd = _connection_fd(port)
    child = os.fork()
    if child == 0:
        _reconnect(fd)
        return  # back into the runtime, which reads restore/next's answer
    _hold(child)


def _connection_fd(port: int) -> int:
    """The descriptor of the runtime's connection whose local port is ``port``."""
    import socket
    import stat

    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if probe.getsockname()[1] == port:
                return fd
        except (OSError, IndexError, TypeError):
            pass
        finally:
            probe.close()
    raise RuntimeError(f"local Lambda SnapStart agent: no connection from port {port}")


def _reconnect(fd: int) -> None:
    import socket

    address = os.environ["AWS_LAMBDA_RUNTIME_API"]
    host, _, port = address.rpartition(":")
    fresh = socket.create_connection((host.strip("[]"), int(port)))
    fresh.sendall(
        b"GET /2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: "
        + address.encode("ascii")
        + b"\r\n\r\n"
    )
    os.dup2(fresh.fileno(), fd, inheritable=False)
    fresh.close()


def _hold(child: int) -> None:
    """The parent from now on: the snapshot, until the restored copy ends."""
    import signal

    for name in _FORWARDED:
        signal.signal(getattr(signal, name), lambda signum, _frame: _forward(child, signum))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: end the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _forward(child: int, signum: int) -> None:
    try:  # noqa: SIM105 (contextlib would be one more import at every start)
        os.kill(child, signum)
    except ProcessLookupError:
        pass


_install()
