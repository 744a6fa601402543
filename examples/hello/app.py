"""The example function `make run` invokes: a greeting, and what Lambda told it."""

import logging

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)  # Python's default is WARNING, on AWS too


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    logger.info("greeting %s", name)
    return {
        "message": f"Hello, {name}!",
        "request_id": context.aws_request_id,
        "function": context.function_name,
        "memory_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
