# The pipeline's container image, for Kubeflow Pipelines (`visionpipe compile --image ...`).
# It installs this project from pyproject.toml, the same single dependency list `make` uses,
# so every executor class and module path in the compiled spec (components.*, pipeline.*)
# imports inside the image.
#
#   make image IMAGE=europe-docker.pkg.dev/<project>/visionpipe/visionpipe:1.0
#   docker build --build-arg TFX_VERSION=1.16.0 -t <image> .
#   docker build --build-arg BASE_IMAGE=<a CUDA 12.3 + Python 3.10 TFX image> -t <image>-gpu .
ARG TFX_VERSION=1.16.0
ARG BASE_IMAGE=tensorflow/tfx:${TFX_VERSION}
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
RUN pip install --no-cache-dir -e . \
 && python -c "import components.trainer.run_fn, components.image_example_gen.executor, pipeline.pipeline"
