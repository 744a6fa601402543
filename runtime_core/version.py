"""The runtime's version, in a module of its own.

``protocol`` needs it for the ``User-Agent`` header; if it read it from the package's
``__init__`` it would import everything that ``__init__`` imports (shutdown, invocation),
and those import ``protocol`` back: a circle.
"""

__version__ = "0.1.0"
