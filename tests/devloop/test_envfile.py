"""--env-file in SAM's JSON shape and as dotenv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_lambda.devloop.envfile import EnvFileError, read_env_file


def test_sam_shape_function_entries_win_over_parameters(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(
        json.dumps(
            {
                "Parameters": {"STAGE": "local", "TABLE": "shared"},
                "Api": {"TABLE": "api-table", "PORT": 8080, "DEBUG": True},
                "Worker": {"QUEUE": "q"},
            }
        )
    )
    env = read_env_file(path)
    assert env.for_function("Api") == {
        "STAGE": "local",
        "TABLE": "api-table",
        "PORT": "8080",
        "DEBUG": "true",
    }
    assert env.for_function("Worker") == {"STAGE": "local", "TABLE": "shared", "QUEUE": "q"}
    assert env.for_function("Other", "other-name") == {"STAGE": "local", "TABLE": "shared"}
    assert env.unknown(["Api"]) == ["Worker"]


def test_dotenv_applies_to_every_function(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        '# local settings\nexport STAGE=local\nGREETING="hello world"\nURL=http://${HOST_PART}x\nHOST_PART=h\nEMPTY=\n'
    )
    env = read_env_file(path)
    assert env.for_function("Anything") == {
        "STAGE": "local",
        "GREETING": "hello world",
        "URL": "http://x",  # expanded from what is defined above it (nothing yet)
        "HOST_PART": "h",
        "EMPTY": "",
    }
    assert env.unknown(["Anything"]) == []


@pytest.mark.parametrize(
    ("name", "text", "complaint"),
    [
        ("env.json", '{"Api": ', "not valid JSON"),
        ("env.json", '{"Api": "x"}', "'Api' must map variable names to values"),
        ("env.json", '{"Api": {"A": [1]}}', "Api.A must be a string, number or boolean"),
        (".env", "A=1\nnot a line\n", ".env:2: not NAME=VALUE: 'not a line'"),
        (".env", "A=1\nB\n", ".env:2: B has no value: write B=VALUE"),
    ],
)
def test_bad_env_files_are_one_line_errors(
    tmp_path: Path, name: str, text: str, complaint: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    assert complaint in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError, match="cannot read it"):
        read_env_file(tmp_path / "nope.env")
