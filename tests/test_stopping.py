"""Training ends when the model has converged, and the run says why it ended.

Two short runs through the command line on tiny images: one whose --epochs cap arrives while
the validation loss still falls (epoch_cap and the hint), one that early-stops on classes
nothing can tell apart (early_stopping, with its best epoch).
"""

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from conftest import run_cli
from PIL import Image

from components.trainer.hparams import TrainingConfig
from components.trainer.models import resolve_defaults
from components.trainer.recipes import COSINE, COURSE, DEFAULT_EPOCH_CAP, MIN_RATE
from components.trainer.schedules import Warmup, schedule_callbacks, warmup_epochs
from components.trainer.stopping import EARLY_STOPPING, EPOCH_CAP, Stop

RUN = ["--image-size", "32", "--min-accuracy", "0", "--min-class-recall", "0", "--no-baseline"]


def test_the_default_recipe_lets_early_stopping_decide_and_the_course_keeps_its_15_epochs():
    assert resolve_defaults(TrainingConfig()).epochs == DEFAULT_EPOCH_CAP >= 100
    assert resolve_defaults(TrainingConfig(recipe=COURSE)).epochs == 15
    assert resolve_defaults(TrainingConfig(epochs=7)).epochs == 7  # a user's cap is kept


def test_the_stop_line_says_why():
    falling = Stop("", EPOCH_CAP, best_epoch=15, epochs_run=15, patience=6, cap_flag="--epochs")
    assert falling.line() == ("stopped: the --epochs 15 cap, while validation loss was still "
                              "falling: try a larger --epochs")
    early = Stop("", EARLY_STOPPING, best_epoch=23, epochs_run=29, patience=6,
                 cap_flag="--epochs")
    assert early.line() == "stopped: no better validation loss for 6 epochs; best epoch 23 of 29"


def _rates(warmup: float, epochs: int, steps_known: bool, schedule: list | None = None,
           initial_epoch: int = 0) -> list[float]:
    """The learning rate each epoch of a fit ends with, under Warmup(warmup) (or the
    callbacks in schedule)."""
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    rates = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: rates.append(
        float(keras.backend.get_value(model.optimizer.learning_rate))))
    data = (np.zeros((8, 2)), np.zeros((8, 1)))
    moving = [Warmup(warmup)] if schedule is None else schedule
    if steps_known:
        model.fit(*data, batch_size=2, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
                  callbacks=[*moving, record])
    else:  # filtered: Keras does not know an epoch's length, as with our decoded splits
        batches = tf.data.Dataset.from_tensor_slices(data).batch(2).filter(lambda x, y: True)
        model.fit(batches, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
                  callbacks=[*moving, record])
    return rates


@pytest.mark.parametrize("steps_known", [True, False])
def test_the_warm_up_reaches_the_recipes_rate_and_a_short_run_keeps_most_of_its_epochs(
        steps_known):
    rates = _rates(2, 4, steps_known)
    assert rates[0] < 1e-3 and rates[-1] == pytest.approx(1e-3) and rates[2] == pytest.approx(1e-3)
    assert warmup_epochs(2, 100) == 2 and warmup_epochs(2, 3) == pytest.approx(0.3)
    # --epochs 3: at most a tenth of the cap warms up; by the second epoch the full rate.
    assert _rates(warmup_epochs(2, 3), 3, steps_known)[1:] == [pytest.approx(1e-3)] * 2


@pytest.mark.parametrize("steps_known", [True, False])
def test_cosine_warms_up_then_comes_down_to_the_floor_at_the_cap(steps_known):
    rates = _rates(0, 12, steps_known, schedule_callbacks(COSINE, 2, 0, 12))
    assert rates[0] < 1e-3 and rates[2] == pytest.approx(1e-3)  # warmed up by epoch 3
    assert all(later < earlier for earlier, later in zip(rates[2:-1], rates[3:], strict=True))
    assert rates[7] == pytest.approx(MIN_RATE + (1e-3 - MIN_RATE) / 2)  # halfway: half the rate
    assert rates[-1] < 0.03 * 1e-3  # the last epoch near the floor
    # Fine-tuning's phase starts at a later epoch (and has no warm-up): its own half cosine.
    tuned = _rates(0, 15, steps_known, schedule_callbacks(COSINE, 0, 10, 15), initial_epoch=10)
    assert tuned[0] == pytest.approx(1e-3) and tuned[-1] < tuned[0] / 10


def _colours(root, per_class: int = 60):
    """Red and blue noisy squares: learnt at once, the loss falling for many epochs."""
    rng = np.random.default_rng(0)
    for label, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.array(colour, np.float32) + rng.normal(0, 40, (32, 32, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                root / label / f"{i}.png")
    return root


def _noise(root, per_class: int = 30):
    """Two classes of the same random noise: nothing to learn, so nothing improves."""
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                root / label / f"{i}.png")
    return root


def _training(output, name) -> dict:
    return json.loads((output / name / "summary.json").read_text())["training"]


@pytest.mark.slow  # two pipeline runs
def test_a_run_capped_while_learning_says_so_and_an_early_stopped_one_names_its_best_epoch(
        tmp_path):
    data = _colours(tmp_path / "colours")
    capped = run_cli("run", "--data", str(data), "--output", str(tmp_path / "runs"), "--name",
                     "capped", "--epochs", "3", *RUN)
    assert capped.returncode in (0, 3), capped.stderr[-2000:]
    training = _training(tmp_path / "runs", "capped")
    assert training["stopped_by"] == EPOCH_CAP and training["epochs_run"] == 3
    assert training["best_epoch"] == 3  # the loss still falling at the cap
    assert "try a larger --epochs" in capped.stdout

    noise = _noise(tmp_path / "noise")
    stopped = run_cli("run", "--data", str(noise), "--output", str(tmp_path / "runs"), "--name",
                      "stopped", "--patience", "2", "--epochs", "40", *RUN)
    assert stopped.returncode in (0, 3), stopped.stderr[-2000:]
    training = _training(tmp_path / "runs", "stopped")
    assert training["stopped_by"] == EARLY_STOPPING
    assert training["epochs_run"] < 40
    assert training["best_epoch"] == training["epochs_run"] - 2  # then two without a better one
    assert (f"stopped: no better validation loss for 2 epochs; best epoch "
            f"{training['best_epoch']} of {training['epochs_run']}") in stopped.stdout
