"""What a package is built for: architecture, Python minor version, Amazon Linux release.

Wheels and native binaries are judged against the target's glibc, never the build
machine's: AL2023 ships glibc 2.34, AL2 ships 2.26 (the release notes of each Amazon Linux).
"""

from __future__ import annotations

from dataclasses import dataclass

from layer_build.errors import BuildError

ARCHES = ("x86_64", "arm64")
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
#: What ``lambdaboot build`` targets without --python, and so what the local Lambda runs by default.
DEFAULT_PYTHON = "3.12"
OSES = ("al2023", "al2")
MODES = ("managed", "provided")

GLIBC: dict[str, tuple[int, int]] = {"al2023": (2, 34), "al2": (2, 26)}
# The machine name in wheel tags and the ELF e_machine number, per Lambda architecture.
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
# Managed python runtimes and the Amazon Linux each runs on.
MANAGED_OS = {"3.11": "al2", "3.12": "al2023", "3.13": "al2023", "3.14": "al2023"}


def parse_glibc(text: str) -> tuple[int, int]:
    """``"2.35"`` -> ``(2, 35)``, with an error that says what a version looks like."""
    try:
        major, minor = (int(part) for part in text.split("."))
    except ValueError:
        raise BuildError(f"--glibc {text!r} is not a version like 2.35") from None
    return major, minor


@dataclass(frozen=True)
class Target:
    """One artifact's platform. ``glibc`` is the newest glibc its native code may need."""

    arch: str
    python: str
    os: str
    mode: str = "managed"
    glibc: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for value, allowed, flag in (
            (self.arch, ARCHES, "--arch"),
            (self.python, PYTHONS, "--python"),
            (self.os, OSES, "--os"),
            (self.mode, MODES, "--mode"),
        ):
            if value not in allowed:
                raise BuildError(
                    f"{flag} {value!r} is not supported: choose one of {', '.join(allowed)}"
                )
        if self.mode == "managed" and MANAGED_OS[self.python] != self.os:
            raise BuildError(
                f"the python{self.python} managed runtime runs on {MANAGED_OS[self.python]}, "
                f"not {self.os}: use --os {MANAGED_OS[self.python]}, "
                "or --mode provided to ship your own interpreter"
            )

    @property
    def max_glibc(self) -> tuple[int, int]:
        """The target OS's glibc, or the newer one admitted explicitly with ``--glibc``."""
        return max(GLIBC[self.os], self.glibc or (0, 0))

    @property
    def cp_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def name(self) -> str:
        """Used in file names: ``lambdaboot-managed-py3.12-al2023-x86_64``."""
        return f"{self.mode}-py{self.python}-{self.os}-{self.arch}"

    @property
    def wheel_platforms(self) -> list[str]:
        """Every manylinux tag the target's glibc can load, newest first (pip does not expand
        them)."""
        machine = WHEEL_ARCH[self.arch]
        major, minor = GLIBC[self.os]  # wheels follow the OS, --glibc admits binaries only
        tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 16, -1)]
        tags.append(f"manylinux2014_{machine}")
        if machine == "x86_64":
            tags += [f"manylinux_2_{m}_{machine}" for m in (12, 5)]
            tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
        return tags

    @property
    def compatible_runtimes(self) -> list[str]:
        if self.mode == "managed":
            return [f"python{self.python}"]
        return [f"provided.{self.os}"]
