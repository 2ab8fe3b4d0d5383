"""Benchmarks, run from the repository root as modules: `python -m bench.<script>` (see Makefile).

Importing this package loads `components` first, which sets what TensorFlow needs in the
environment before it is first imported (components/__init__.py).
"""

import components  # noqa: F401 - sets TensorFlow's environment before anything imports it
