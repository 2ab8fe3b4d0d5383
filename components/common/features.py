"""Feature names and keys: the one place that says what an Example and a model hold.

The ExampleGen writes the raw features, Transform turns them into the transformed
features, and the Trainer, the serving signatures and the Evaluator read both by
these names.
"""

import re

# Raw features written by the image ExampleGen (one tf.train.Example per image).
IMAGE_BYTES = "image_raw"  # the encoded file bytes, never decoded pixels
LABEL = "label"  # int64: index of the class name in the label vocabulary
LABEL_NAME = "label_name"  # bytes: the class name (folder name or CSV label)
RELATIVE_PATH = "relative_path"  # bytes: path below the input base; also the split hash key
HEIGHT = "height"
WIDTH = "width"
CHANNELS = "channels"  # channels as stored in the file (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)
FORMAT = "format"  # bytes: jpeg, png, gif or bmp
# float: the picture's measures (image_example_gen/image_measures.py), so statistics and
# drift see images as numbers
BRIGHTNESS = "brightness"  # mean luminance in [0, 1]
CONTRAST = "contrast"  # the largest colour channel's standard deviation, [0, 1]
SHARPNESS = "sharpness"  # var(Laplacian) / var(luminance): low for a blurred picture
ASPECT_RATIO = "aspect_ratio"  # width / height, upright
SHORT_SIDE_LOG2 = "short_side_log2"  # log2 of the short side in pixels: halving the size is -1
MEASURE_FEATURES = (BRIGHTNESS, CONTRAST, SHARPNESS, ASPECT_RATIO, SHORT_SIDE_LOG2)

# Transformed features (the output of the preprocessing_fn).
IMAGE = "image"  # float32 [height, width, channels] in [0, 1]

# Serving signatures.
SERVING_INPUT = "image_bytes"  # a name ending in _bytes makes TF Serving's REST API accept {"b64": ...}
EXAMPLES_INPUT = "examples"
PROBABILITIES = "probabilities"
CLASS_ID = "class_id"
CLASS_NAME = "class_name"
CLASSES = "classes"  # every class name, in the order of the probabilities
SERVING_SIGNATURE = "serving_default"
EXAMPLES_SIGNATURE = "serving_examples"

# Files the ExampleGen writes into its Examples artifact, next to the splits (and
# label_vocabulary.txt, see label_vocabulary.py).
QUARANTINE_REPORT_FILE = "quarantine_report.json"
LEAKAGE_REPORT_FILE = "leakage_report.json"  # duplicate groups, near-copies across splits
IMAGE_ISSUES_FILE = "image_issues.json"  # dark, blurry, tiny, ... images (image_measures.py)

# Custom properties of the Examples artifact (written by the ExampleGen, read by the summary).
CLASS_NAMES_PROPERTY = "label_vocabulary"  # JSON list of the class names
EXAMPLES_PER_SPLIT_PROPERTY = "examples_per_split"  # JSON {split: count}
CLASS_COUNTS_PROPERTY = "class_counts"  # JSON {split: {class: images}}
QUARANTINED_PROPERTY = "quarantined_count"
IGNORED_PROPERTY = "ignored_count"
DUPLICATES_PROPERTY = "duplicates"  # JSON: groups, images_in_groups, exact_copies, leakage
IMAGE_ISSUES_PROPERTY = "image_issues"  # JSON {kind: images}

# A TF Serving model name (and the run's folder name): plain, so it is safe in paths and URLs.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

ACCEPTED_FORMATS = ("jpeg", "png", "gif", "bmp")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")

# Metric keys, the same from the Evaluator (TFMA, on the blessing split) and the Trainer
# (on the train and validation splits).
EXAMPLE_COUNT = "example_count"
ACCURACY = "accuracy"
AUC = "auc"  # two classes only
LOSS = "loss"  # the Trainer's only
BALANCED_ACCURACY = "balanced_accuracy"  # the mean of the per-class recalls
MACRO_F1 = "macro_f1"  # the mean of the per-class F1 scores
RECALL, PRECISION, F1 = "recall", "precision", "f1"


def recall_metric_name(class_name: str) -> str:
    """The metric key of one class's recall."""
    return f"{RECALL}/{class_name}"


def precision_metric_name(class_name: str) -> str:
    """The metric key of one class's precision."""
    return f"{PRECISION}/{class_name}"


def f1_metric_name(class_name: str) -> str:
    """The metric key of one class's F1 score."""
    return f"{F1}/{class_name}"


# TF Serving replays these PredictionLog records when it loads a version (written by the Pusher).
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
