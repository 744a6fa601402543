"""Names of the runtime's own settings that more than one module reads.

Here, not in the module that parses each one, so that start-up can check whether a
setting is set without importing that module (``runtime_core.deadline`` costs ~7 ms:
threading), and without copying the name.
"""

__all__ = ["MARGIN_ENV"]

#: The deadline margin (``runtime_core.deadline``).
MARGIN_ENV = "LAMBDABOOT_DEADLINE_MARGIN_MS"
