"""The Pusher: TFX's, except that a version appears in the serving path whole, and warmed up.

TFX 1.16's filesystem push copies file by file into `<base>/<version>/`, so a model
server polling the base path can see a half-copied version, and a run killed mid-copy
leaves one behind. This executor copies into a hidden temporary folder beside it,
adds TF Serving's warmup requests (`assets.extra/tf_serving_warmup_requests`: a real
JPEG through `serving_default`, so the first client request is not the slow one),
and renames the folder to its version number in one step. On a local or POSIX
filesystem the rename is atomic; object stores (gs://, s3://) have no atomic rename,
and TF Serving there relies on saved_model.pb arriving last, which this keeps too.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
from tfx import types
from tfx.components import Pusher
from tfx.components.pusher.component import executor as tfx_pusher
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.common import features
from components.common.image_spec import ImageSpec
from components.common.served_versions import SAVED_MODEL_FILE

WARMUP_COPIES = 4  # TF Serving replays each record; a few runs warm up every lazy path


def warmup_image(image: ImageSpec) -> bytes:
    """A real JPEG (a colour gradient) of the model's input size."""
    across = np.linspace(0, 255, image.width, dtype=np.uint8)[None, :]
    down = np.linspace(0, 255, image.height, dtype=np.uint8)[:, None]
    pixels = np.stack(np.broadcast_arrays(across, down, across[:, ::-1]), axis=-1)
    return tf.io.encode_jpeg(pixels).numpy()


def write_warmup_requests(version_dir: str, image: ImageSpec) -> str:
    """Writes PredictionLog records that TF Serving replays when it loads the version."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(signature_name=features.SERVING_SIGNATURE))
    request.inputs[features.SERVING_INPUT].CopyFrom(tf.make_tensor_proto([warmup_image(image)]))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    path = os.path.join(version_dir, features.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(WARMUP_COPIES):
            writer.write(log.SerializeToString())
    return path


class Executor(tfx_pusher.Executor):
    """Filesystem push through a temporary folder and one rename, with warmup requests."""

    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        custom_config = _custom_config(exec_properties)
        version = int(time.time())
        while tf.io.gfile.exists(os.path.join(base, str(version))):
            version += 1  # two pushes in one second: never overwrite a served version
        temporary = os.path.join(base, f".tmp-{version}-{os.getpid()}")
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.rmtree(temporary)
        io_utils.copy_dir(model_path, temporary, deny_regex_patterns=[re.escape(SAVED_MODEL_FILE)])
        write_warmup_requests(temporary, ImageSpec.from_custom_config(custom_config))
        io_utils.copy_file(os.path.join(model_path, SAVED_MODEL_FILE),
                           os.path.join(temporary, SAVED_MODEL_FILE))
        serving_path = os.path.join(base, str(version))
        tf.io.gfile.rename(temporary, serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=str(version))


def _custom_config(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The Pusher's custom_config (TFX passes it as a JSON string)."""
    value = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    return json.loads(value) if isinstance(value, str) and value else (value or {})


class AtomicPusher(Pusher):
    """TFX's Pusher component with the executor above."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
