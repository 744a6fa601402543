"""lambdaboot's own executables, as files: ``bootstrap`` and the managed-mode exec wrapper.

In a checkout these are links to the repository's top-level files (their one source);
a wheel holds copies (setuptools packages what a link points at), so the tools find them
at the same place either way. ``local_lambda`` starts them as files and never imports
``runtime_core``; ``layer_build`` packs them into the layer.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Resolved: in a checkout, the repository's own file, so bootstrap finds runtime_core beside it.
BOOTSTRAP = (_HERE / "bootstrap").resolve()
EXEC_WRAPPER = (_HERE / "exec-wrapper").resolve()
