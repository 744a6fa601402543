"""Cold start of a function with real dependencies, packaged by lambdaboot vs the common way.

All three run on the same runtime (lambdaboot's managed-mode layer on python3.12,
read-only ``/opt`` and ``/var/task`` in the local Lambda), so only the packaging differs:

- ``lambdaboot``: ``lambdaboot build --function`` (unchecked-hash pycs, trimmed, stripped);
- ``pip -t + zip``: ``pip install -t`` for the same target and a plain zip, no bytecode;
- ``pip -t + compileall + zip``: the same, byte-compiled first (``compileall
  --invalidation-mode unchecked-hash`` by a python3.12): the baseline that isolates what
  bytecode alone is worth.

Each cold start is a fresh environment; the figure is Init Duration + Duration from the
REPORT line (what a first caller waits for, minus the local Lambda's own set-up), and the
wall time around the first invoke. Runs alternate (A B A B) so machine drift cancels out.
Also records the runtime layer's own zipped and unzipped sizes.

    python -m benchmarks.layer_coldstart [--runs 15] [--out benchmarks/results/layer_coldstart]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchmarks import charts
from benchmarks.environments import HEAVY_REQUIREMENTS, compile_unchecked_hash, pip_target
from benchmarks.stats import pairwise_ratios, summarize
from layer_build.build import Options, build
from layer_build.targets import Target
from local_lambda import FunctionConfig, LocalLambda

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "wheels"
TARGET = Target(arch="x86_64", python="3.12", os="al2023")
REQUIREMENTS = "".join(f"{line}\n" for line in HEAVY_REQUIREMENTS)
HANDLER = """
import boto3, numpy, pydantic

class Item(pydantic.BaseModel):
    name: str
    size: int

def handler(event, context):
    item = Item(name="x", size=int(numpy.arange(10).sum()))
    return {"item": item.model_dump(), "boto3": boto3.__version__}
"""
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambdaboot-wrapper"}


def common_package(source: Path, work: Path, bytecode: bool = False) -> Path:
    """``pip install -t`` for the target platform, then a plain zip (what most guides do);
    with ``bytecode``, ``compileall --invalidation-mode unchecked-hash`` by a python3.12
    before zipping, the skeptic's baseline: bytecode alone, without lambdaboot."""
    target = work / ("pip-t-compiled" if bytecode else "pip-t")
    platforms = [arg for tag in TARGET.wheel_platforms for arg in ("--platform", tag)]
    requirements = (source / "requirements.txt").read_text().split()
    pip_target(
        target, requirements, TARGET.python, "--implementation", "cp", "--find-links", str(CACHE),
        *platforms,
    )  # fmt: skip
    (target / "app.py").write_text(HANDLER)
    if bytecode:
        compile_unchecked_hash(target, TARGET.python)
    out = work / ("compiled.zip" if bytecode else "common.zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(target.rglob("*")):
            if path.is_file() and (bytecode or "__pycache__" not in path.parts):
                archive.write(path, path.relative_to(target).as_posix())
    return out


def cold_start(package: Path, layer: Path) -> tuple[float, float]:
    """(REPORT init + duration ms, wall ms around the first invoke) of one fresh environment."""
    config = FunctionConfig(
        command=[],
        task_root=package,
        handler="app.handler",
        layers=[layer],
        runtime="python3.12",
        env=WRAPPER,
        init_timeout=120,
        timeout=60,
    )
    with LocalLambda(config) as lam:
        started = time.perf_counter()
        result = lam.invoke({})
        wall = (time.perf_counter() - started) * 1000
        if result.function_error:
            raise SystemExit(f"{package.name} failed: {result.payload!r}\n{lam.output}")
        report = result.report
        return (report.init_duration_ms or 0.0) + report.duration_ms, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "layer_coldstart"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="layer-bench-") as tmp:
        work = Path(tmp)
        source = work / "fn"
        source.mkdir()
        (source / "app.py").write_text(HANDLER)
        (source / "requirements.txt").write_text(REQUIREMENTS)
        layer = build(TARGET, Options(out=work / "dist", cache=CACHE)).zip
        ours = build(
            TARGET,
            Options(
                out=work / "dist",
                cache=CACHE,
                function=source,
                requirements=source / "requirements.txt",
            ),
        )
        theirs = common_package(source, work)
        compiled = common_package(source, work, bytecode=True)
        sizes = {
            name: {
                "zipped": path.stat().st_size,
                "unzipped": sum(i.file_size for i in zipfile.ZipFile(path).infolist()),
            }
            for name, path in (
                ("runtime layer", layer),
                ("lambdaboot function", ours.zip),
                ("pip -t + zip function", theirs),
                ("pip -t + compileall + zip function", compiled),
            )
        }
        samples: dict[str, dict[str, list[float]]] = {
            "lambdaboot": {"report": [], "wall": []},
            "pip -t + compileall + zip": {"report": [], "wall": []},
            "pip -t + zip": {"report": [], "wall": []},
        }
        packages_by_name = {
            "lambdaboot": ours.zip,
            "pip -t + compileall + zip": compiled,
            "pip -t + zip": theirs,
        }
        for _ in range(args.runs):
            for name, package in packages_by_name.items():
                report_ms, wall_ms = cold_start(package, layer)
                samples[name]["report"].append(report_ms)
                samples[name]["wall"].append(wall_ms)
    summary = {name: {k: summarize(v) for k, v in s.items()} for name, s in samples.items()}
    speedup = {
        k: round(summary["pip -t + zip"][k]["median"] / summary["lambdaboot"][k]["median"], 2)
        for k in ("report", "wall")
    }
    result = {
        "command": "python -m benchmarks.layer_coldstart "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "what": "cold round trip (REPORT Init Duration + Duration, "
        "and wall around the first invoke), ms; "
        "same runtime (lambdaboot layer, python3.12 managed mode), read-only /opt and /var/task",
        "requirements": REQUIREMENTS.split(),
        "sizes_bytes": sizes,
        "samples_ms": samples,
        "summary_ms": summary,
        "paired_ratio_report": summarize(
            pairwise_ratios(samples["lambdaboot"]["report"], samples["pip -t + zip"]["report"])
        ),
        "speedup_median": speedup,
        "speedup_median_vs_compileall": {
            k: round(
                summary["pip -t + compileall + zip"][k]["median"]
                / summary["lambdaboot"][k]["median"],
                2,
            )
            for k in ("report", "wall")
        },
        "paired_ratio_report_vs_compileall": summarize(
            pairwise_ratios(
                samples["lambdaboot"]["report"], samples["pip -t + compileall + zip"]["report"]
            )
        ),
        "bar": "lambdaboot >= 2x faster",
        "bar_met": speedup["report"] >= 2.0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    _plot(summary, sizes, args.out.with_suffix(".png"))
    print(
        json.dumps(
            {
                "sizes_bytes": sizes,
                "speedup_median": speedup,
                "median_ms": {n: s["report"]["median"] for n, s in summary.items()},
            },
            indent=2,
        )
    )
    return 0


def _plot(
    summary: dict[str, dict[str, dict[str, float]]], sizes: dict[str, dict[str, int]], path: Path
) -> None:
    plt = charts.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    names = list(summary)
    baseline = names[-1]
    charts.bars_with_ratios(
        left,
        names=names,
        medians=[summary[n]["report"]["median"] for n in names],
        lows=[summary[n]["report"]["min"] for n in names],
        highs=[summary[n]["report"]["p90"] for n in names],
        ratios=[
            summary[n]["report"]["median"] / summary[baseline]["report"]["median"] for n in names
        ],
        baseline=baseline,
        fmt="{:.0f} ms",
    )
    left.set_ylabel("cold round trip, ms (Init + Duration; whiskers min-p90)")
    left.set_title("Function with boto3, pydantic, numpy")
    labels = list(sizes)
    right.bar(
        [f"{label}\nzipped" for label in labels],
        [sizes[k]["zipped"] / 2**20 for k in labels],
        color="#58c",
    )
    right.bar(
        [f"{label}\nunzipped" for label in labels],
        [sizes[k]["unzipped"] / 2**20 for k in labels],
        color="#9bd",
    )
    right.set_ylabel("MB")
    right.set_title("Sizes")
    right.tick_params(axis="x", labelsize=7, labelrotation=60)
    n = summary[names[0]]["report"].get("n", 0)
    charts.suptitle(
        fig,
        (
            "Packaging: the same function packaged three ways, "
            "cold start on python3.12 + lambdaboot's layer"
        ),
        runtime="managed mode, read-only /opt and /var/task in the local Lambda",
        n=f"{n:.0f} cold starts each, alternating; ratio to {baseline}",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
