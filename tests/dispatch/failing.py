"""The failing function both error tests run: ``test_errors`` in-process beside
awslambdaric's ``handle_event_request``, ``test_error_bytes`` end to end beside
awslambdaric's process. ``event["kind"]`` picks the failure; line numbers matter (the
stack traces name them), so new kinds go at the end of ``handler``.
"""

from __future__ import annotations

FAILING = {
    "app.py": """
        import helper

        class Not_Nice_name(Exception):
            pass

        def handler(event, context):
            kind = event["kind"]
            if kind == "value":
                return helper.check(event)
            if kind == "unicode":
                raise ValueError("héllo 🐍 \\u2028 \\x7f \\"quoted\\" </tag> \\\\ tab\\there")
            if kind == "lines":
                raise RuntimeError("first line\\nsecond line\\r\\nthird")
            if kind == "empty":
                raise RuntimeError()
            if kind == "key":
                return {}["missing"]
            if kind == "odd":
                raise Not_Nice_name("odd name")
            if kind == "chained":
                try:
                    helper.check(event)
                except ValueError as exc:
                    raise LookupError("looked up") from exc
            if kind == "multiline":
                return helper.add(
                    1,
                    None,
                )
            if kind == "set":
                return {1, 2}
            if kind == "huge":
                raise RuntimeError("x" * event["size"])
            if kind == "exit":
                raise SystemExit(3)
            return {"ok": True}

        async def ahandler(event, context):
            return helper.check(event)
        """,
    "helper.py": """
        def check(event):
            raise ValueError(f"bad value: {event.get('value')!r}")

        def add(a, b):
            return a + b
        """,
}
