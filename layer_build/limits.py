"""Lambda's package quotas for ``build``, ``check`` and ``publish``.

They are defined once, in ``local_lambda.package_rules`` (which the local Lambda enforces
too); this module only names them for the build tools.
"""

from __future__ import annotations

from local_lambda.package_rules import (
    DIRECT_UPLOAD_ZIPPED,
    MAX_LAYERS,
    MB,
    UNZIPPED_TOTAL,
    mb,
)

__all__ = ["DIRECT_UPLOAD_ZIPPED", "MAX_LAYERS", "MB", "UNZIPPED_TOTAL", "mb"]
