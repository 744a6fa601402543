"""The function that goes with the telemetry-shipper extension: it logs, the extension ships."""

import logging

logger = logging.getLogger("orders")
logger.setLevel(logging.INFO)


def handler(event, context):
    for item in event.get("items", []):
        logger.info("processing item %s", item)
    print(f"done with {len(event.get('items', []))} items")
    return {"processed": len(event.get("items", []))}
