"""Layer zips through S3: the path for zips over the 50 MB direct-upload limit.

Lambda reads a layer's code only from a bucket in the layer's own region, so each region
gets its bucket (``REGION=BUCKET`` or a ``{region}`` template), and every bucket's region
is checked before anything is uploaded anywhere. The key is the zip's sha256, so an
object already there is the same bytes and is not uploaded again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from layer_build.aws import AwsError, Target, is_not_found
from layer_build.limits import DIRECT_UPLOAD_ZIPPED, MB

# Parts of a multipart upload: S3's minimum is 5 MB; 16 MB keeps a 250 MB layer under 20 parts.
PART_SIZE = 16 * MB


def goes_through_s3(size: int, requested: bool) -> bool:
    """Lambda takes at most 50 MB zipped in the request itself; larger zips go through S3."""
    return requested or size > DIRECT_UPLOAD_ZIPPED


@dataclass(frozen=True)
class Buckets:
    """``--s3-bucket`` values: ``REGION=BUCKET`` entries, or one name (``{region}`` expanded)."""

    by_region: dict[str, str]
    default: str | None
    prefix: str = ""

    @classmethod
    def parse(cls, specs: list[str], prefix: str = "") -> Buckets:
        by_region: dict[str, str] = {}
        default = None
        for spec in specs:
            region, sep, bucket = spec.partition("=")
            if sep:
                if not region or not bucket:
                    raise AwsError(f"--s3-bucket {spec!r}: write REGION=BUCKET")
                by_region[region] = bucket
            elif default is not None:
                raise AwsError(
                    "--s3-bucket: give one bucket name (with {region}) or REGION=BUCKET entries"
                )
            else:
                default = spec
        prefix = prefix.strip("/")
        return cls(by_region, default, f"{prefix}/" if prefix else "")

    def bucket(self, region: str) -> str:
        if region in self.by_region:
            return self.by_region[region]
        if self.default is not None:
            return self.default.replace("{region}", region)
        raise AwsError(
            f"no bucket for {region}: add --s3-bucket {region}=BUCKET "
            "(Lambda reads layer code only from a bucket in the layer's region)"
        )

    def key(self, sha256_hex: str) -> str:
        return f"{self.prefix}{sha256_hex}.zip"


def bucket_region(target: Target, bucket: str) -> str:
    """The region a bucket lives in (S3 answers None for us-east-1 and EU for eu-west-1)."""
    s3 = target.client("s3")
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except Exception as exc:
        if is_not_found(exc):
            raise AwsError(
                f"bucket {bucket} does not exist: create it in {target.region} "
                "or name another with --s3-bucket"
            ) from None
        raise
    named = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    return str(named)


def check_bucket(target: Target, bucket: str) -> None:
    """Refuse a bucket outside the target's region: Lambda would not read it."""
    where = bucket_region(target, bucket)
    if where != target.region:
        raise AwsError(
            f"bucket {bucket} is in {where}, not {target.region}: Lambda reads layer code only "
            f"from a bucket in the layer's region; give --s3-bucket {target.region}=BUCKET"
        )


def upload(
    target: Target,
    bucket: str,
    key: str,
    zip_path: Path,
    progress: Callable[[int, int], None],
    part_size: int = PART_SIZE,
) -> bool:
    """Put the zip at ``bucket/key`` unless an object of its size is there; True if uploaded."""
    from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

    s3 = target.client("s3")
    size = zip_path.stat().st_size
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if int(head["ContentLength"]) == size:
            return False  # content-addressed: same key, same size, same bytes
    except Exception as exc:
        if not is_not_found(exc):
            raise
    done = 0
    lock = threading.Lock()

    def advance(count: int) -> None:
        nonlocal done
        with lock:
            done += count
            progress(done, size)

    config = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)
    s3.upload_file(str(zip_path), bucket, key, Config=config, Callback=advance)
    return True
