"""``lambdaboot bench``: cold and warm figures for any function on any runtime, measured black-box.

The runtime is started as the local Lambda starts it (never imported), so the same tool
measures lambdaboot, awslambdaric or a user's own ``bootstrap``. See ``runner`` for what is
measured and ``report`` for how it is shown.
"""
