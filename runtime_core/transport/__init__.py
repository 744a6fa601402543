"""Drivers that move the protocol's bytes: each one only sends requests and returns responses.

``blocking`` (a plain socket, for the blocking engine), ``aio`` (uvloop/asyncio, for the
async engine) and ``httpx_driver`` (for comparison, ``LAMBDABOOT_TRANSPORT=httpx``). None
of them interprets a status code: that is ``runtime_core.protocol``'s job.
"""
