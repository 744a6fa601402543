"""``lambdaboot bench`` end to end: the real bootstrap and awslambdaric on the example function."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import matplotlib.image

from lambdaboot_bench import importtime, report
from lambdaboot_bench.runner import PHASES
from local_lambda import default_runtime
from tests.conftest import REPO, lambdaboot, write_function

HELLO = REPO / "examples" / "hello"
SUMMARY_KEYS = {"n", "median", "p90", "min", "max", "mean"}


def bench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {"LAMBDABOOT_PYTHON": sys.executable, "COLUMNS": "160"}
    return lambdaboot("bench", *args, env=env, cwd=cwd, timeout=300)


def _phases_complete(config: dict[str, Any], cold: int, warm: int) -> None:
    for phase in PHASES:
        figures = config["phases"][phase]
        expected = warm if phase == "warm_ms" else cold
        assert len(figures["samples"]) == expected, phase
        assert set(figures["summary"]) == SUMMARY_KEYS, phase
        assert (
            figures["summary"]["min"] <= figures["summary"]["median"] <= figures["summary"]["max"]
        )
        assert all(value > 0 for value in figures["samples"]), phase


def test_comparison_with_awslambdaric_writes_json_chart_and_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    chart = tmp_path / "bench.png"
    done = bench(
        str(HELLO),
        "--cold",
        "3",
        "--warm",
        "5",
        "--event",
        '{"name": "bench"}',
        "--vs-runtime-cmd",
        f"{sys.executable} -s -m awslambdaric app.handler",
        "--json",
        str(out),
        "--chart",
        str(chart),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["runs"] == {"cold": 3, "warm": 5}
    assert result["memory_enforced"] is False and "does not enforce" in result["memory_note"]
    assert result["command"].startswith("lambdaboot bench ")
    lambdaboot, ric = result["configs"]["lambdaboot"], result["configs"]["awslambdaric"]
    # what the chart's title says each configuration ran: the runtime by its name
    assert lambdaboot["runtime"] == "python3.12"
    assert report._describe(lambdaboot) == "python3.12 runtime + 1 layer(s)"
    assert report._describe(ric).startswith("awslambdaric")
    for config in (lambdaboot, ric):
        _phases_complete(config, 3, 5)
    for config in (lambdaboot, ric):
        phases = config["phases"]
        assert phases["first_response_ms"]["title"] == "First response"
        assert phases["billed_cold_start_ms"]["title"] == "Billed cold start"
        for init, first, response, billed in zip(
            phases["init_ms"]["samples"],
            phases["first_invoke_ms"]["samples"],
            phases["first_response_ms"]["samples"],
            phases["billed_cold_start_ms"]["samples"],
            strict=True,
        ):
            # the first caller waits from the spawn: Init, then the event to its response
            assert response >= init + first - 1e-6
            # billed = Init + the first Duration, which ends at the next /next, not before
            # the response was posted
            assert billed >= init + first - 1e-6
    # the import profile says what each init is made of
    assert "runtime_core" in lambdaboot["import_profile_ms"]
    assert (
        "awslambdaric" in ric["import_profile_ms"]
        and "runtime_core" not in ric["import_profile_ms"]
    )
    # comparison: B/A pair by pair, one ratio per interleaved pair
    comparison = result["comparison"]
    assert (comparison["a"], comparison["b"]) == ("lambdaboot", "awslambdaric")
    init_pairs = comparison["phases"]["init_ms"]["pairs"]
    a, b = lambdaboot["phases"]["init_ms"]["samples"], ric["phases"]["init_ms"]["samples"]
    assert init_pairs == [y / x for x, y in zip(a, b, strict=True)]
    assert len(comparison["phases"]["warm_ms"]["pairs"]) == 5
    # a valid PNG with something drawn on it
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(str(chart))
    assert pixels.shape[0] > 400 and pixels.shape[1] > 800
    # the table a user reads
    assert (
        "Init Duration" in done.stdout
        and "awslambdaric" in done.stdout
        and "B/A median" in done.stdout
    )
    assert "Import time during init" in done.stdout


# A runtime that answers at once, then works 0.3 s before asking for the next event.
ANSWERS_THEN_WORKS = """
import http.client, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
base = "/2018-06-01/runtime/invocation/"
while True:
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("GET", base + "next")
    reply = conn.getresponse()
    reply.read()
    request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.request("POST", base + request_id + "/response", b'"answered"')
    conn.getresponse().read()
    conn.close()
    time.sleep(0.3)
"""


def test_work_after_the_response_is_billed_but_not_waited_for(tmp_path: Path) -> None:
    root = write_function(tmp_path / "fn", {"runtime.py": ANSWERS_THEN_WORKS})
    done = bench(
        str(root),
        "--runtime-cmd",
        f"{sys.executable} {root / 'runtime.py'}",
        "--cold",
        "2",
        "--warm",
        "0",
        "--no-profile",
        "--json",
        "-",
    )
    assert done.returncode == 0, done.stderr
    (config,) = json.loads(done.stdout)["configs"].values()
    phases = config["phases"]
    responses = phases["first_response_ms"]["samples"]
    billed = phases["billed_cold_start_ms"]["samples"]
    assert len(responses) == len(billed) == 2
    # the caller got its answer; the 0.3 s after it are billed (Duration ends at /next)
    assert all(r < b for r, b in zip(responses, billed, strict=True))
    assert "First response" in done.stderr and "Billed cold start" in done.stderr


def test_zipped_function_with_layer_and_json_on_stdout(tmp_path: Path) -> None:
    source = write_function(
        tmp_path / "src",
        {
            "app.py": """
        import greet

        def handler(event, context):
            return {"word": greet.WORD}
        """
        },
    )
    package = tmp_path / "function.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(source / "app.py", "app.py")
    layer = write_function(tmp_path / "layer", {"python/greet.py": "WORD = 'from a layer'\n"})
    done = bench(
        str(package),
        "--layer",
        str(layer),
        "--cold",
        "2",
        "--warm",
        "2",
        "--no-profile",
        "--json",
        "-",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    config = result["configs"]["lambdaboot"]  # named by its runtime, not "A"
    _phases_complete(config, 2, 2)
    # lambdaboot's layer first (the default run), then the function's own
    assert config["layers"] == [str(default_runtime.layer()), str(layer.resolve())]
    assert config["import_profile_ms"] == {}
    assert "comparison" not in result


def test_a_failing_function_is_reported_not_measured(tmp_path: Path) -> None:
    root = write_function(
        tmp_path / "fn",
        {
            "app.py": """
        def handler(event, context):
            raise ValueError("not today")
        """
        },
    )
    done = bench(str(root), "--cold", "1", "--warm", "0", "--no-profile")
    assert done.returncode == 1
    assert (
        "lambdaboot bench: lambdaboot: the invocation failed" in done.stderr
        and "not today" in done.stderr
    )


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    missing = bench(str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_event = bench(str(HELLO), "--event", "{nope")
    assert bad_event.returncode == 2 and "--event is not valid JSON" in bad_event.stderr


def test_import_profile_parses_real_importtime_output() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import json, email.parser"],
        capture_output=True,
        text=True,
        check=True,
    )
    profile = importtime.parse(done.stderr)
    assert {"json", "email", "encodings"} <= set(profile)
    assert not any("." in name for name in profile)
    assert list(profile.values()) == sorted(profile.values(), reverse=True)
    shown = importtime.top(profile, 2)
    assert len(shown) == 3 and "(other)" in shown
    assert abs(sum(shown.values()) - sum(profile.values())) < 1e-9
