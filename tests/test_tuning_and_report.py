"""--tune's search on real data, the Trainer taking its best values, and the run's report.html."""

import json
import re

from conftest import fn_args, run_cli
from PIL import Image

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TUNED_BY_SEARCH
from components.trainer.run_fn import training_config
from components.trainer.tuning import search_space, tuner_fn


def test_tuner_searches_the_space_and_the_trainer_uses_the_best_values(trainer_inputs, tmp_path):
    config = {"model": "scratch", **ImageSpec.square(64).to_custom_config(), "steps_per_epoch": 2,
              "tuning": {"tuner": "random", "trials": 2, "epochs": 1}}
    result = tuner_fn(fn_args(trainer_inputs, tmp_path, config))
    result.tuner.search(**result.fit_kwargs)
    trials = result.tuner.oracle.get_best_trials(10)
    assert len(trials) == 2 and all(t.score is not None for t in trials)
    best = result.tuner.get_best_hyperparameters()[0]
    space = {hp.name: hp.values for hp in search_space().space}
    assert set(best.values) == set(TUNED_BY_SEARCH)
    assert all(best.values[name] in space[name] for name in TUNED_BY_SEARCH)

    tuned = training_config(fn_args(trainer_inputs, tmp_path, config,
                                    hyperparameters=best.get_config()))
    assert tuned.learning_rate == best.values["learning_rate"]
    assert tuned.batch_size == best.values["batch_size"]
    assert tuned.dropout == best.values["dropout"]


def test_report_links_every_picture_and_rerenders(demo_run):
    run_dir = demo_run["output"] / "shapes"
    page = (run_dir / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    names = {src.rsplit("/", 1)[-1] for src in sources}
    assert {"training_curves.png", "confusion_matrix.png", "most_confident_mistakes.png",
            "feature_maps_circle.png", "feature_maps_square.png",
            "feature_maps_triangle.png"} <= names
    for src in sources:
        with Image.open(run_dir / src) as picture:
            assert picture.format == "PNG" and picture.width > 100
    assert "confusion_matrix.json" in page and "summary.json" in page
    # The e2e tests may have re-run this pipeline unblessed by now: the page says which.
    summary = json.loads((run_dir / "summary.json").read_text())
    verdict = "blessed and pushed" if summary["pushed_to"] else "not blessed, nothing pushed"
    assert verdict in page and "recall" in page

    (run_dir / "report.html").unlink()
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert (run_dir / "report.html").read_text() == page
