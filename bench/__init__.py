"""Benchmarks, run from the repository root as modules: `python -m bench.<script>` (see Makefile).

Importing this package is the one set-up every benchmark shares: TFX 1.16 needs
tf.keras to be Keras 2, and that must be set before TensorFlow is first imported,
which running a script as `bench.<script>` guarantees (the package loads first).
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
