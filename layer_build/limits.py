"""Lambda's package quotas, in one place for ``build`` and ``check``."""

from __future__ import annotations

MB = 1024 * 1024
DIRECT_UPLOAD_ZIPPED = 50 * MB  # larger zips must go through S3
UNZIPPED_TOTAL = 250 * MB  # function + all its layers, unzipped
MAX_LAYERS = 5


def mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
