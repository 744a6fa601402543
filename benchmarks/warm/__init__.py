"""The warm-path kit: Runtime API stubs (Go net/http, Python), the C floor, and the harness.

Suites (``benchmarks.warm_path``, ``benchmarks.event_sizes``) start one stub per
contender on one core and the runtimes on the other (``taskset``), then hand each runtime
blocks of invocations in turn, so drift on a shared machine hits every contender alike.
"""
