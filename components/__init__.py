"""What runs inside the pipeline's components, one folder per component (see docs/design.md).

Importing this package sets what TensorFlow must find in the environment before it loads:
TFX 1.16 needs `tf.keras` to be Keras 2 (tf-keras), which TensorFlow decides once, at its
own import, from TF_USE_LEGACY_KERAS. Every process that runs this project's code imports
this package before TensorFlow (the CLI and the servers through `pipeline` and `serving`,
tests and benchmarks through their package, Kubeflow tasks through `components.kfp`), so
this is the one place the variable is set. The Dockerfile sets it too, for a process in
the image that starts from TFX's own entry points.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hides CUDA plugin noise on CPU machines
