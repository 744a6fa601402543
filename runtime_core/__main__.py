"""``python -m runtime_core [module.handler]``: the entry point for container images.

Like ``python -m awslambdaric``: the handler comes from the argument, else ``_HANDLER``.
"""

from runtime_core.main import main

main()
