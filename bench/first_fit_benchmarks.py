"""The first `fit` of a process with and without the AutoGraph rule for tf_keras
(components/trainer/autograph_rules.py); side by side in one run.

    python -m bench.first_fit_benchmarks [--report FILE]

Each case runs in a fresh process (AutoGraph caches what it converted for the process),
the two settings interleaved, median of 3: a new head (dropout + dense, 18 classes) on
1,132 rows of 1,280 features, as phase one of transfer trains it, and the scratch CNN at
150 px on 256 images; 3 epochs each, with a validation split, as the Trainer fits.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, finish, report_header, report_option

REPEATS = 3
CHILD = """
import sys, time
import numpy as np
import tf_keras as keras
from components.trainer.autograph_rules import leave_tf_keras_unconverted
from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models import build_model, resolve_defaults
case, rule = sys.argv[1], sys.argv[2] == "on"
if rule:
    leave_tf_keras_unconverted()
rng = np.random.default_rng(0)
if case == "head":
    x, classes = rng.random((1132, 1280), dtype=np.float32), 18
    model = keras.Sequential([keras.layers.Input((1280,)), keras.layers.Dropout(0.2),
                              keras.layers.Dense(classes, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
else:
    x, classes = rng.random((256, 150, 150, 3), dtype=np.float32), 2
    config = resolve_defaults(TrainingConfig(model="scratch"))
    model = build_model(config, ImageSpec(150, 150, 3), classes)
y = rng.integers(0, classes, len(x))
started = time.perf_counter()
model.fit(x, y, validation_split=0.1, epochs=3, batch_size=32, verbose=0)
print(time.perf_counter() - started)
"""
CASES = {"head": "a new head on 1,132 x 1,280 features (phase one of transfer)",
         "scratch": "the scratch CNN, 150 px, 256 images"}


def first_fit(case: str, rule: str) -> float:
    result = subprocess.run([sys.executable, "-c", CHILD, case, rule], cwd=REPO,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    args = parser.parse_args()
    lines = report_header("### The first fit of a process, AutoGraph converting tf_keras or not",
                          "bench/first_fit_benchmarks.py",
                          f", fresh process per fit, median of {REPEATS} interleaved")
    lines += ["| model (3 epochs) | tf_keras converted (TensorFlow's default) s | "
              "left unconverted (our rule) s | ratio |", "|---|---|---|---|"]
    for case, label in CASES.items():
        times = {"off": [], "on": []}
        for _ in range(REPEATS):
            for rule in times:
                times[rule].append(first_fit(case, rule))
        off, on = statistics.median(times["off"]), statistics.median(times["on"])
        lines.append(f"| {label} | {off:.1f} | {on:.1f} | {on / off:.2f}x |")
        print(lines[-1], flush=True)
    finish(lines + [""], args.report, Path(tempfile.mkdtemp()))


if __name__ == "__main__":
    main()
