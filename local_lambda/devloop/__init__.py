"""The dev loop: SAM CLI's ``local`` commands, as a layer on top of the local Lambda's core.

Templates (with their intrinsics and env files), file watching and reloading, pools of
environments behind one endpoint, and sample trigger events (``lambdaboot event``). It
is kept apart because it only *uses* the core (emulator, Runtime and invoke APIs,
lifecycle, sandbox): the core never imports it, so the emulator stays small and can be
read, tested and reused without any of SAM's concerns. tests/test_import_graph.py keeps
it that way.
"""
