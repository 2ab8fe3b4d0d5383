"""The trainer modules and transfer bases by name, with what each one is.

Plain data, so that the training config and the command line list them without loading
TensorFlow. The model registry (models/__init__.py) gives each module its builder, and the
transfer module (models/transfer.py) each base its Keras application; both check that they
cover exactly these names, and `--model`/`--base` are validated there, where the code is.
"""

MODULES: dict[str, str] = {
    "scratch": "course week 1: cats-vs-dogs CNN",
    "augmented": "course week 2: bigger CNN, dropout, per-epoch augmentation",
    "transfer": "course week 3: pretrained base (InceptionV3 mixed7, MobileNetV2, "
                "EfficientNetB0), frozen, new head, optional fine-tuning",
    "multiclass": "course week 4: Rock-Paper-Scissors CNN, softmax over N classes",
}
BASES: tuple[str, ...] = ("efficientnet_b0", "inception_v3", "mobilenet_v2")
DEFAULT_MODULE = "scratch"
DEFAULT_BASE = "inception_v3"
