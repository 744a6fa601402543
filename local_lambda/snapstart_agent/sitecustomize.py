"""The local Lambda's SnapStart agent: runs INSIDE the runtime's interpreter.

Lambda snapshots a whole microVM while the runtime waits on ``GET /runtime/restore/next``
(once per published version) and resumes copies of it for cold starts. No memory snapshot
can be taken on this machine (CRIU cannot run here), so the local Lambda forks the
runtime's process at that moment: the process that ran init and the before-snapshot hooks
stays as the snapshot, and every execution environment of the function runs a fork of
it, which takes the restore path. Nothing in the runtime under test is changed or told.

``local_lambda.snapstart`` puts this directory first on ``PYTHONPATH`` (only in SnapStart
mode), so ``site`` imports this module at interpreter start. It puts ``PYTHONPATH`` back as
it was, leaves ``sys.path`` without this directory, imports the function's own
``sitecustomize`` if there is one, and waits for the local Lambda's signal:

- the local Lambda has received ``restore/next`` (on the connection whose client port it
  wrote to a file) and sends the signal; the handler forks twice:
- the **holder** (the first fork) leaves the environment (a process group of its own) and
  serves the function's later environments: it connects to the local Lambda's control
  socket and, for each request (which carries the new environment's output pipe, its
  gate and its telemetry pipe), forks a copy into a process group of its own, reports
  its pid, and later its exit status;
- a **copy** (the second fork, made once the holder is out of the first environment, for
  that environment; a fork of the holder for the others) replaces the snapshot
  connection's descriptor with a new connection on which it asks ``restore/next`` again,
  so the runtime reads the answer meant for this copy and shares no connection with the
  snapshot; then it returns into the runtime, which goes on;
- the runtime process the first environment started stays as its copy's stand-in: it
  forwards signals to the copy's main thread and exits with its status, so the local
  Lambda sees that environment's runtime process end as usual.

Only the standard library, and nothing imported until it is needed: this module is on
every SnapStart start-up.
"""

import os
import sys

_SPEC = "_LOCAL_LAMBDA_SNAPSHOT"  # "<signal number>:<port file>" (control socket: + ".sock")
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
    import signal

    with open(port_file) as source:
        port = int(source.read())
    fd = _connection_fd(port)
    handlers = {name: signal.getsignal(getattr(signal, name)) for name in _FORWARDED}
    left, gone = os.pipe()
    if os.fork() == 0:
        os.close(left)
        _serve(fd, port_file + ".sock", handlers, gone)
        return  # a copy for a later environment: back into the runtime
    os.close(gone)
    # Until the holder has left this environment (its process group and cgroups), the
    # environment's freeze and reset reach it: a copy that went on first could be served,
    # frozen and reset with a holder that had not run yet (a loaded machine), and the
    # snapshot was lost. It closes its end of the pipe once out (or ends).
    os.read(left, 1)
    os.close(left)
    child = os.fork()
    if child == 0:
        _reconnect(fd)
        return  # back into the runtime, which reads restore/next's answer
    _hold(child)


def _serve(fd: int, control_path: str, handlers: dict, gone: int) -> None:
    """The holder: fork a copy per request of the local Lambda; returns only in a copy.
    ``gone`` is closed once it has left the first environment."""
    import select
    import signal
    import socket

    # Out of the first environment's process group (its reset must not end us), but in the
    # local Lambda's session, so that an environment's extensions can join a copy's group.
    os.setpgid(0, 0)
    quiet = os.open(os.devnull, os.O_RDWR)  # and off its output pipe (each copy gets its own)
    for standard in (0, 1, 2):
        os.dup2(quiet, standard)
    os.close(quiet)
    for name in _FORWARDED:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    control.connect(control_path)
    control.sendall(b"holder %d" % os.getpid())
    control.recv(16)  # "out": the local Lambda has moved us into the snapshot's cgroups
    os.close(gone)
    copies = {}  # pidfd -> pid
    while True:
        ready, _, _ = select.select([control, *copies], [], [])
        for what in ready:
            if what is not control:
                pid = copies.pop(what)
                os.close(what)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                control.sendall(b"exit %d %d" % (pid, code))
                continue
            message, fds, _, _ = socket.recv_fds(control, 256, 3)
            if not message:
                os._exit(0)  # the local Lambda is gone, and the snapshot with it
            child = os.fork()
            if child == 0:
                control.close()
                for pidfd in copies:
                    os.close(pidfd)
                for name, handler in handlers.items():
                    if handler is not None:
                        signal.signal(getattr(signal, name), handler)
                _become(fd, fds, message.split()[1:])
                return
            # The copy's group, made here too (as a shell does for its jobs): the local
            # Lambda starts the environment's extensions in it once it has the pid, which
            # may be before the copy has run at all.
            try:  # noqa: SIM105 (contextlib would be one more import)
                os.setpgid(child, child)
            except OSError:  # it has ended already: its exit is reported as usual
                pass
            for passed in fds:
                os.close(passed)
            copies[os.pidfd_open(child)] = child
            control.sendall(b"pid %d" % child)


def _become(fd: int, fds: list, telemetry: list) -> None:
    """A copy: its environment's group (the holder makes it too), output and telemetry
    pipe; then, at its gate's "go", the restore (or, the gate closed unopened, an end)."""
    os.setpgid(0, 0)
    output, gate = fds[0], fds[1]
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    if telemetry:
        os.dup2(fds[2], int(telemetry[0]))
        os.close(fds[2])
    said = os.read(gate, 3)
    os.close(gate)
    if said != b"go\n":
        os._exit(0)
    _reconnect(fd)


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
    """The first environment's runtime process from now on: its copy's stand-in.

    It waits for the copy on a pidfd and on a signal wake-up pipe, not in ``waitpid``: the
    runtime's other threads live on in this process (runtime_core's shutdown-extension
    poller, started during init), and the kernel may give a signal sent to the process to
    one of them, e.g. while the main thread is just thawed and has not run yet. Python then
    only notes the signal, and the main thread would not run the handler until ``waitpid``
    returned: the copy never got its SIGTERM, and the shutdown ended in SIGKILL. The
    wake-up pipe is written from whichever thread took the signal."""
    import select
    import signal

    wake, woken = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(woken, warn_on_full_buffer=False)
    for name in _FORWARDED:
        signal.signal(getattr(signal, name), lambda signum, _frame: _forward(child, signum))
    ended = os.pidfd_open(child)
    while ended not in select.select([ended, wake], [], [])[0]:
        try:  # noqa: SIM105 (contextlib would be one more import at every start)
            os.read(wake, 256)  # the handlers have run (back in the interpreter)
        except BlockingIOError:
            pass
    try:
        _, status = os.waitpid(child, 0)
    except ChildProcessError:
        os._exit(1)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: end the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _forward(child: int, signum: int) -> None:
    """Pass ``signum`` on to the copy's main thread (``tgkill``), not to the process.

    The local Lambda thaws the environment and waits (briefly) for this stand-in's main
    thread, not for the copy's: a thread just thawed keeps the freezer's wake-up flag until
    it runs, and the kernel gives a signal sent to the process to another thread meanwhile
    (one the function started), where Python only notes it: the copy's main thread, back
    in its ``recv``, would run the runtime's SIGTERM handler late or never. A signal for
    the main thread waits for it, and interrupts its ``recv`` once it runs. A copy whose
    main thread blocks the signal gets it as a process's, to let its other threads take it."""
    try:
        with open(f"/proc/{child}/task/{child}/status") as status:
            masks = dict(line.split(":", 1) for line in status if line.startswith("SigBlk"))
        main_takes_it = not int(masks["SigBlk"], 16) & (1 << (signum - 1))
        if main_takes_it:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.tgkill(child, child, signum) == 0:
                return
    except (OSError, KeyError, ValueError, AttributeError):  # ended, or a libc without tgkill
        pass
    try:  # noqa: SIM105 (contextlib would be one more import at every start)
        os.kill(child, signum)
    except ProcessLookupError:
        pass


_install()
