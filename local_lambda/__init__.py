"""The local Lambda: AWS's side of Lambda on this machine, to run and measure runtimes.

Runtime API, a minimal Extensions API, an AWS-compatible invoke API, the lifecycle
(lazy init, timeouts, crashes, shutdown) and the platform's log lines. It never imports
``runtime_core``: it is an independent implementation of the protocol, proven against
awslambdaric. See docs/local_lambda.md.
"""

from .emulator import LocalLambda
from .model import FunctionConfig, InvokeResult, Report, ShutdownResult, Timings

__all__ = ["FunctionConfig", "InvokeResult", "LocalLambda", "Report", "ShutdownResult", "Timings"]
