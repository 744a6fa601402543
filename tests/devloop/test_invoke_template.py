"""`lambdaboot invoke` with the development loop's options: --template, --event-source,
--env-file, --sam-local, --watch; and the one-line errors for bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import lambdaboot
from tests.devloop.conftest import Project

WAIT_S = 60


def test_invoke_a_template_function_with_a_sample_event(project: Project) -> None:
    (project.root / "src/api/app.py").write_text(
        "import os\ndef handler(event, context):\n"
        "    return {'path': event['path'], 'method': event['httpMethod'],"
        " 'sam': os.environ.get('AWS_SAM_LOCAL'), 'stage': os.environ.get('STAGE')}\n"
    )
    env_file = project.root / "env.json"
    env_file.write_text(json.dumps({"Parameters": {"STAGE": "all"}, "Api": {"STAGE": "api"}}))
    done = lambdaboot(
        "invoke", "--template", "template.yaml", "Api",
        "--event-source", "apigw-rest --method POST --path /orders",
        "--env-file", "env.json",
        cwd=project.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "path": "/orders",
        "method": "POST",
        "sam": "true",
        "stage": "api",
    }
    assert "REPORT RequestId:" in done.stderr


def test_aws_sam_local_is_set_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.environ.get('AWS_SAM_LOCAL')\n"
    )
    plain = lambdaboot("invoke", str(tmp_path), "--event", "{}", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout) is None  # AWS does not set it, neither do we by default
    marked = lambdaboot("invoke", str(tmp_path), "--event", "{}", "--sam-local", cwd=tmp_path)
    assert marked.returncode == 0, marked.stderr
    assert json.loads(marked.stdout) == "true"


def test_bad_input_is_one_line(project: Project) -> None:
    cases = [
        (
            ("invoke", "--template", "template.yaml", "Nope"),
            "the template has no function Nope: use one of Api, Stream, WithExtension",
        ),
        (
            ("invoke", "--template", "template.yaml"),
            "name the function to invoke: one of Api, Stream, WithExtension",
        ),
        (
            ("invoke", "--template", "template.yaml", "Api", "--event-source", "sqs --count 0"),
            "--count 0: give a number of records from 1 to 10000",
        ),
        (
            ("invoke", "--template", "template.yaml", "Api", "--parameter-overrides", "Gate"),
            "--parameter-overrides 'Gate' is not NAME=VALUE",
        ),
        (
            ("serve", "--template", "template.yaml", "--max-environments", "0"),
            "--max-environments 0: give at least 1",
        ),
        (
            ("serve", "--template", "template.yaml", "--snap-start"),
            "--snap-start does not apply to a template's functions: set"
            " SnapStart: {ApplyOn: PublishedVersions} on them in the template",
        ),
        (
            ("serve", "--template", "template.yaml", "--env-file", "missing.env"),
            "--env-file missing.env: cannot read it",
        ),
        (("invoke",), "give FUNCTION_DIR, the folder holding your handler's code (or --template)"),
        (
            ("invoke", "--template", "template.yaml", "Api", "--event-source", "s3 --nope x"),
            "--event-source 's3 --nope x': unrecognized arguments: --nope x",
        ),
        (
            ("invoke", "--template", "template.yaml", "Api", "--event-source", "s3 --key 'a"),
            '--event-source "s3 --key \'a": No closing quotation; check its quotes',
        ),
    ]
    for args, complaint in cases:
        done = lambdaboot(*args, cwd=project.root)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and complaint in lines[0], (args, done.stderr)


def test_invoke_watch_invokes_again_after_a_change(project: Project, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    command = ["invoke", "--template", "template.yaml", "Stream", "--watch", "--event", "{}"]
    with console.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "lambdaboot_cli", *command],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "part 0;part 1;part 2;\n", console.read_text()
        deadline = time.monotonic() + WAIT_S
        while "Watching" not in console.read_text():
            assert time.monotonic() < deadline, console.read_text()
            time.sleep(0.05)
        (project.root / "src/stream/app.py").write_text(
            "async def handler(event, context):\n    yield 'changed'\n"
        )
        assert process.stdout.readline() == "changed\n", console.read_text()
        assert "Reloaded Stream: src/stream/app.py changed" in console.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=WAIT_S)
    assert process.returncode == 128 + 15  # ended by SIGTERM


def test_a_bad_event_is_the_only_line_even_when_the_template_has_notes(tmp_path: Path) -> None:
    """The notes about a template (a variable left out) are not printed before the error."""
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Table: {Type: AWS::DynamoDB::Table}\n  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src\n      Handler: app.handler\n"
        "      Environment: {Variables: {TABLE: !Ref Table}}\n"
    )
    for event in (("--event", "{bad"), ("--event-source", "nope")):
        done = lambdaboot("invoke", "--template", "template.yaml", "Fn", *event, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "TABLE left out" not in done.stderr


def test_parameter_overrides_as_sam_cli_takes_them(tmp_path: Path) -> None:
    """Several in one argument (space-separated, quotes for spaces), and SAM's long form."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text(
        "import os\ndef handler(event, context):\n"
        "    return [os.environ[k] for k in ('STAGE', 'SIZE', 'COLOR')]\n"
    )
    params = "".join(
        f"  {n}: {{Type: String, Default: unset}}\n" for n in ("Stage", "Size", "Color")
    )
    (tmp_path / "template.yaml").write_text(
        f"Parameters:\n{params}Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src\n      Handler: app.handler\n"
        "      Environment: {Variables: {STAGE: !Ref Stage, SIZE: !Ref Size, COLOR: !Ref Color}}\n"
    )
    done = lambdaboot(
        "invoke", "--template", "template.yaml", "Fn", "--event", "{}",
        "--parameter-overrides", "Stage=prod Size='big one'",
        "--parameter-overrides", "ParameterKey=Color,ParameterValue=red Colour=blue",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["prod", "big one", "red"]
    # A name the template does not declare: SAM CLI ignores it without a word (CloudFormation
    # would refuse it at deploy time); here it is ignored too, with one line saying so.
    assert (
        "lambdaboot invoke: --parameter-overrides: Colour is not a parameter of the template"
        " (its parameters: Stage, Size, Color); ignored\n" in done.stderr
    )


def test_a_variable_left_out_is_not_reported_when_the_env_file_gives_it(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.environ.get('TABLE')\n"
    )
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Table: {Type: AWS::DynamoDB::Table}\n  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src\n      Handler: app.handler\n"
        "      Environment: {Variables: {TABLE: !Ref Table}}\n"
    )
    (tmp_path / "env.json").write_text(json.dumps({"Fn": {"TABLE": "local-table"}}))
    bare = lambdaboot("invoke", "--template", "template.yaml", "Fn", cwd=tmp_path)
    assert json.loads(bare.stdout) is None
    assert "Fn: environment variable TABLE left out" in bare.stderr
    given = lambdaboot(
        "invoke", "--template", "template.yaml", "Fn", "--env-file", "env.json", cwd=tmp_path
    )
    assert json.loads(given.stdout) == "local-table"
    assert "left out" not in given.stderr


PROBE = """
import os, sys

def handler(event, context):
    try:
        open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "new.txt"), "w")
        write = "written"
    except OSError as exc:
        write = exc.strerror
    return {"python": "%d.%d" % sys.version_info[:2], "write": write,
            "wrapper": os.environ.get("AWS_LAMBDA_EXEC_WRAPPER")}
"""


def test_a_template_python_function_runs_as_lambda_would_by_default(tmp_path: Path) -> None:
    """Its Runtime's managed runtime with lambdaboot's layer, /var/task read-only, as
    `invoke FUNCTION_DIR` does; --in-place keeps the writable run on this interpreter."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(PROBE)
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12}\n"
    )
    default = lambdaboot("invoke", "--template", "template.yaml", "Fn", "--event", "{}",
                         cwd=tmp_path)  # fmt: skip
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout) == {
        "python": "3.12",
        "write": "Read-only file system",
        "wrapper": "/opt/lambdaboot-wrapper",
    }
    in_place = lambdaboot("invoke", "--template", "template.yaml", "Fn", "--event", "{}",
                          "--in-place", cwd=tmp_path)  # fmt: skip
    assert in_place.returncode == 0, in_place.stderr
    seen = json.loads(in_place.stdout)
    assert seen["write"] == "written" and seen["wrapper"] is None
    assert seen["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
