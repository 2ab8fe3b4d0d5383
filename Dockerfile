# The pipeline's container image (for Kubeflow; see the Kubeflow issue for compile/submit).
# It installs this project from pyproject.toml, the same single dependency list `make` uses,
# so every module path TFX names (components.*, pipeline.*) imports inside the image.
ARG BASE_IMAGE=tensorflow/tfx:1.16.0
FROM ${BASE_IMAGE}

# TFX 1.16 needs tf.keras to be Keras 2 (tf-keras), before Python starts.
ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    PYTHONUNBUFFERED=1

WORKDIR /visionpipe
COPY pyproject.toml README.md ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY serving/ serving/
COPY schemas/ schemas/
RUN pip install --no-cache-dir -e .
