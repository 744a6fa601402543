"""Code both functions share, shipped as a layer (/opt/python on Lambda)."""

import hashlib
import json


def order_id(order):
    return hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()[:12]
