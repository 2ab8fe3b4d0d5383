"""The exported SavedModel: the trained model behind the transform graph, with two signatures.

- serving_default(image_bytes: string[batch]) takes encoded images (TF Serving's REST API
  accepts them as {"b64": ...} because the input name ends in _bytes);
- serving_examples(examples: string[batch]) takes serialized tf.Examples (what TFMA feeds).
Both return probabilities [batch, classes], class_id [batch], class_name [batch] and
classes [batch, classes] (the class names in the order of the probabilities).
"""

from __future__ import annotations

import os
import tempfile

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from components.common import features, label_vocabulary
from components.trainer.models.classifier import class_probabilities


def load_keras_model(export_dir: str) -> keras.Model:
    """The Keras model inside an exported SavedModel (its layers, for Grad-CAM), on the
    transform graph's [0, 1] images. The custom layers register themselves when the model
    modules are imported (transfer.py)."""
    from components.trainer.models import transfer  # noqa: F401 - registers the custom layers

    loaded = keras.models.load_model(export_dir, compile=False)
    # The transform layer the signatures call is tracked on the model and comes back as one
    # of its layers: the model's own graph, from its inputs to its outputs, leaves it out.
    return keras.Model(loaded.inputs, loaded.outputs, name=loaded.name)


def export_serving_model(
    model: keras.Model,
    tf_transform_output: tft.TFTransformOutput,
    class_names: list[str],
    export_dir: str,
) -> None:
    """Saves model + transform graph + label vocabulary as a SavedModel with both signatures."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    vocabulary_file = os.path.join(tempfile.mkdtemp(), label_vocabulary.FILE_NAME)
    label_vocabulary.write(vocabulary_file, class_names)
    # Tracked as an asset so the vocabulary file travels inside the SavedModel's assets/.
    model.label_vocabulary = tf.saved_model.Asset(vocabulary_file)
    names = tf.constant(class_names)
    image_spec = {
        features.IMAGE_BYTES: tf_transform_output.raw_feature_spec()[features.IMAGE_BYTES]
    }

    def _classify(raw: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        images = model.tft_layer(raw)[features.IMAGE]
        scores = model(images, training=False)
        # One sigmoid unit -> [p(class 0), p(class 1)], so clients always get one column per class.
        probabilities = class_probabilities(scores, len(class_names))
        class_id = tf.argmax(probabilities, axis=-1)
        return {
            features.PROBABILITIES: probabilities,
            features.CLASS_ID: class_id,
            features.CLASS_NAME: tf.gather(names, class_id),
            # The whole vocabulary per row, as TF's classification heads export it, so a
            # remote client can name every probability (top-k) without the assets file.
            features.CLASSES: tf.tile(names[None, :], [tf.shape(class_id)[0], 1]),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)])
    def serve_image_bytes(image_bytes):
        return _classify({features.IMAGE_BYTES: tf.reshape(image_bytes, [-1, 1])})

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
    def serve_examples(examples):
        return _classify(tf.io.parse_example(examples, image_spec))

    model.save(
        export_dir,
        save_format="tf",
        signatures={
            features.SERVING_SIGNATURE: serve_image_bytes,
            features.EXAMPLES_SIGNATURE: serve_examples,
        },
    )
