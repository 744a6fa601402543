"""The loops that serve invocations: ``blocking`` for sync handlers, ``aio`` for the rest.

Both do the same thing per invocation (``/next`` → trace env → handler → post), through
``client.RuntimeClient`` or its async twin; they differ only in what they import.
"""
