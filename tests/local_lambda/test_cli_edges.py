"""The command line's edges, as a user meets them: real subprocesses, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pty
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

LAMBDABOOT = str(Path(sys.executable).parent / "lambdaboot")


def test_serve_host_moves_only_the_invoke_api(function_dir: Path) -> None:
    (function_dir / "app.py").write_text("def handler(e, c):\n    return e\n")
    serve = subprocess.Popen(
        [LAMBDABOOT, "serve", str(function_dir), "--host", "0.0.0.0", "--function-url-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        lines = [serve.stdout.readline() for _ in range(3)]
    finally:
        serve.terminate()
        serve.wait(60)
    shown = dict(line.strip().split(": ", 1) for line in lines)
    assert shown["Invoke API"].startswith("http://0.0.0.0:")
    assert shown["Function URL"].startswith("http://0.0.0.0:")
    assert shown["Runtime API"].startswith("127.0.0.1:")  # and the Extensions API with it


def test_serve_on_an_ipv6_host_prints_urls_that_work_as_printed(function_dir: Path) -> None:
    """An IPv6 address goes in brackets in a URL: the printed lines are pasted as they are."""
    try:  # a kernel or container without an IPv6 loopback cannot serve on ::1 at all
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError as exc:
        pytest.skip(f"this machine cannot listen on ::1 ({exc})")
    (function_dir / "app.py").write_text("def handler(e, c):\n    return e\n")
    serve = subprocess.Popen(
        [LAMBDABOOT, "serve", str(function_dir), "--host", "::1", "--port", "0",
         "--function-url-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        shown = dict(serve.stdout.readline().strip().split(": ", 1) for _ in range(3))
        invoked = urllib.request.urlopen(shown["Invoke API"], data=b'{"a": 1}', timeout=60)
        assert json.loads(invoked.read()) == {"a": 1}
        assert shown["Function URL"].startswith("http://[::1]:")
        assert urllib.request.urlopen(shown["Function URL"] + "x?q=1", timeout=60).status == 200
    finally:
        serve.terminate()
        serve.wait(60)


def test_every_subcommand_has_a_description_and_every_option_help() -> None:
    from lambdaboot_cli.main import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    for name, sub in commands.choices.items():
        if not (helps.get(name) and sub.description):
            missing.append(f"{name}: no description")
        for action in sub._actions:
            if not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
        if "``" in sub.format_help():  # plain text, not a docstring's reST
            missing.append(f"{name}: reST markup in its help")
    assert not missing, missing


def test_version() -> None:
    done = subprocess.run([LAMBDABOOT, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and re.fullmatch(r"lambdaboot \d+\.\d+\.\d+\n", done.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoke", "FN", "--memory", "127"], "--memory: 127 is out of range: use 128-10240 MB"),
        (["invoke", "FN", "--memory", "10241"], "out of range: use 128-10240 MB"),
        (["invoke", "FN", "--timeout", "901"], "--timeout: 901 is out of range: use 1-900"),
        (["invoke", "FN", "--timeout", "0.5"], "out of range: use 1-900 seconds"),
        (["serve", "FN", "--port", "65536"], "--port: '65536' is not a port: use 1-65535"),
        (["serve", "FN", "--function-url-port", "-1"], "is not a port"),
        (["serve", "FN", "--host", "10.255.255.1"], "--host must be an address of this machine"),
        (["serve", "FN", "--host", "no-such-host.invalid"], "check --host"),
        (["invoke", "FN", "--runtime-cmd", "python 'x"], '--runtime-cmd "python \'x": No closing'),
        (["invoke", "FN", "--event-file", "missing.json"], "--event-file missing.json: No such"),
        (["invoke", "FN", "--event-file", "bad.json"], "--event-file bad.json is not valid JSON"),
        (
            ["invoke", "FN", *["--layer", "FN"] * 5],
            "lambdaboot's layer (the default run) and 5 --layer make 6: a function can use"
            " at most 5; give at most 4, or use --in-place or --runtime",
        ),
    ],
)
def test_bad_input_is_one_line_naming_it(
    function_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (function_dir / "app.py").write_text("def handler(e, c):\n    return e\n")
    (tmp_path / "bad.json").write_text("{")
    argv = [str(function_dir) if a == "FN" else a for a in args]
    done = subprocess.run(
        [LAMBDABOOT, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_port_in_use_is_one_line(function_dir: Path) -> None:
    (function_dir / "app.py").write_text("def handler(e, c):\n    return e\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [LAMBDABOOT, "serve", str(function_dir), "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2 and "choose another port" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with socket.socket() as taken:  # the Function URL's port: the line names its flag
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [LAMBDABOOT, "serve", str(function_dir), "--port", "0", "--in-place",
             "--function-url-port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith(
        f"lambdaboot serve: --function-url-port {port} is in use: choose another port,"
        " or 0 for any free port\n"
    )
    assert "Traceback" not in done.stderr


def test_missing_aws_credentials_and_unreachable_endpoint_are_one_line(
    tmp_path: Path, built_layer: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    env |= {"AWS_EC2_METADATA_DISABLED": "true"}
    no_creds = subprocess.run(
        [LAMBDABOOT, "publish", str(built_layer), "--region", "eu-west-1"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert no_creds.returncode in (1, 2) and "no AWS credentials found" in no_creds.stderr
    assert "Traceback" not in no_creds.stderr
    env |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    env |= {"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    unreachable = subprocess.run(
        [LAMBDABOOT, "publish", str(built_layer), "--region", "eu-west-1",
         "--endpoint-url", f"http://127.0.0.1:{_closed_port()}"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert unreachable.returncode in (1, 2), unreachable.stderr
    assert "--endpoint-url" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr
    bad_region = subprocess.run(
        [LAMBDABOOT, "publish", str(built_layer), "--region", "not a region"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert bad_region.returncode in (1, 2), bad_region.stderr
    assert "region" in bad_region.stderr and "Traceback" not in bad_region.stderr
    assert len(bad_region.stderr.strip().splitlines()) == 1, bad_region.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_missing_extra_is_named(tmp_path: Path) -> None:
    """As if rich were not installed: a stand-in that fails to import as a missing one does."""
    (tmp_path / "rich").mkdir()
    (tmp_path / "rich" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'rich'\", name='rich')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [LAMBDABOOT, "conform", "--list"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'lambdaboot[local]'" in done.stderr and "rich" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


ECHO = (
    "import sys\n\ndef handler(event, context):\n"
    "    return {'event': event, 'python': sys.executable}\n"
)


def test_an_empty_piped_stdin_sends_an_empty_object(function_dir: Path) -> None:
    (function_dir / "app.py").write_text(ECHO)
    done = subprocess.run(
        [LAMBDABOOT, "invoke", str(function_dir)],
        input="", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["event"] == {}
    blank = subprocess.run(
        [LAMBDABOOT, "invoke", str(function_dir)],
        input="\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert blank.returncode == 2
    assert blank.stderr.startswith("lambdaboot invoke: the event read from stdin is not valid")
    assert blank.stderr.count("\n") == 1


def test_in_a_terminal_the_result_is_a_line_of_its_own(function_dir: Path) -> None:
    """stdout and stderr on one terminal: END RequestId must not run on from the result."""
    (function_dir / "app.py").write_text("def handler(e, c):\n    return {'ok': 1}\n")
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [LAMBDABOOT, "invoke", str(function_dir), "--event", "{}"],
            stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, timeout=60,
        )  # fmt: skip
        os.close(secondary)
        seen = b""
        with contextlib.suppress(OSError):  # EIO once everything written has been read
            while chunk := os.read(primary, 65536):
                seen += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0, seen
    lines = seen.decode().replace("\r\n", "\n").split("\n")
    assert '{"ok":1}' in lines or '{"ok": 1}' in lines, lines
    assert any(line.startswith("END RequestId: ") for line in lines), lines


def test_runtime_cmd_placeholders_name_the_runtimes_python_and_the_handler(
    function_dir: Path, tmp_path: Path
) -> None:
    (function_dir / "main.py").write_text(ECHO)
    done = subprocess.run(
        [LAMBDABOOT, "invoke", str(function_dir), "--runtime", "python3.12", "--handler",
         "main.handler", "--runtime-cmd", "{python} -m awslambdaric {handler}", "--event", "[1]"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["event"] == [1]
    python = subprocess.run(
        [seen["python"], "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert python.stdout.strip() == "3.12"


def test_conform_keeps_handler_for_each_check_and_passes_lambdaboot(tmp_path: Path) -> None:
    """conform fills {handler} per check itself: the shared parser must leave it alone."""
    from local_lambda.cli import runtime_command

    assert runtime_command("{python} -m awslambdaric {handler}")[1:] == [
        "-m", "awslambdaric", "{handler}",
    ]  # fmt: skip
    done = subprocess.run(
        [LAMBDABOOT, "conform", "--check", "invoke-success", "--check", "error-shape",
         "--runtime-cmd", "{python} -m awslambdaric {handler}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
