"""Orders from the queue: the batch's message ids, each processed (here: counted)."""


def handler(event, context):
    return {"processed": [record["messageId"] for record in event["Records"]]}
