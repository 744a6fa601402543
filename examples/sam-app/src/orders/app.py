"""POST /orders through API Gateway: the order, with what the function was configured with."""

import json
import os

from orders_common import order_id


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    return {
        "statusCode": 201,
        "body": json.dumps(
            {
                "id": order_id(order),
                "table": os.environ.get("TABLE_NAME"),
                "stage": os.environ["STAGE"],
                "greeting": os.environ["GREETING"],
                "function": context.function_name,
                "memory_mb": context.memory_limit_in_mb,
            }
        ),
    }
