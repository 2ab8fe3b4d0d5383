"""Keep AutoGraph off tf_keras's own code, as TensorFlow keeps it off `keras`.

AutoGraph leaves the packages on TensorFlow's do-not-convert list as written. `keras` is
on that list; `tf_keras`, the Keras 2 we run (TF_USE_LEGACY_KERAS=1), is not, so the first
`fit` of every process transpiles hundreds of tf_keras's training functions, a large
share of a short Trainer's time (BENCHMARKS.md, "A process's first `fit`"). tf_keras is
Keras 2's code under a new name, written to run unconverted as `keras` always did; code
outside it (ours, the user's) is still converted.

Written by hand because TensorFlow has no public API for the list: this puts one rule in
front of its private CONVERSION_RULES, and if that module ever moves, logs why and leaves
AutoGraph as it is (slower, still correct).
"""

from __future__ import annotations

import logging

PACKAGE = "tf_keras"
progress = logging.getLogger("visionpipe.progress")


def leave_tf_keras_unconverted() -> bool:
    """Adds the do-not-convert rule for tf_keras (once); True when the rule is in place."""
    try:
        from tensorflow.python.autograph.core import config, config_lib
    except ImportError as error:  # a TensorFlow without the private module
        progress.warning("AutoGraph rules not changed (%s): the first fit is slower", error)
        return False
    rule = config_lib.DoNotConvert(PACKAGE)
    if not any(isinstance(r, config_lib.DoNotConvert) and r.matches(PACKAGE + ".x")
               for r in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (rule, *config.CONVERSION_RULES)
    return True
