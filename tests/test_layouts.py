"""The split-folder layouts users bring: recognized by their usual names, never trained as classes."""

import zlib

import pytest
from conftest import image_bytes

from components.image_example_gen.layout import DataError, parse_split_ratio
from components.image_example_gen.sources.image_folder import discover, split_role


def _tree(root, counts: dict[str, int]):
    """{"train/cat": 2, ...} -> that many small JPEGs in each folder."""
    for folder, count in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / folder / f"{i}.jpg").write_bytes(image_bytes(seed=zlib.crc32(f"{folder}{i}".encode())))
    return root


def _splits(*folders: str) -> dict[str, int]:
    return {f"{folder}/{cls}": 2 for folder in folders for cls in ("cat", "dog")}


@pytest.mark.parametrize("folders, roles, patterns", [
    # torchvision ImageFolder / ImageNet: train + val
    (("train", "val"), ["train", "validation"], ["train", "val"]),
    # Keras / TF tutorials (cats_and_dogs_filtered): train + validation (+ test)
    (("train", "validation", "test"), ["train", "validation", "test"],
     ["train", "validation", "test"]),
    # Ultralytics classification: train + val + test
    (("train", "val", "test"), ["train", "validation", "test"], ["train", "val", "test"]),
    # Roboflow export, any letter case: Train + Valid + Test
    (("Train", "Valid", "Test"), ["train", "validation", "test"], ["Train", "Valid", "Test"]),
    # Kaggle: training_set + test_set, Training + Testing, seg_train + seg_test
    (("training_set", "test_set"), ["train", "validation", "test"], ["training_set", "test_set"]),
    (("Training", "Testing"), ["train", "validation", "test"], ["Training", "Testing"]),
    (("seg_train", "seg_test"), ["train", "validation", "test"], ["seg_train", "seg_test"]),
])
def test_each_recognized_layout_gives_the_classes_and_the_splits(tmp_path, folders, roles,
                                                                 patterns):
    layout = discover(str(_tree(tmp_path / "data", _splits(*folders))))
    assert layout.class_names == ["cat", "dog"]  # never the split names
    assert layout.roles == roles
    assert [split.pattern for split in layout.inputs] == patterns
    assert layout.description.startswith(f"{folders[0]}/")
    assert layout.blessing_split == ("test" if "test" in roles else "validation")
    if "validation" not in [role for split in layout.inputs if not split.hashed
                            for role, _ in split.shares]:
        # No validation folder: validation is hash-split out of the training folder.
        assert layout.inputs[0].shares == (("train", 80), ("validation", 10))


def test_train_and_val_never_become_the_classes_and_say_the_blessing_is_optimistic(tmp_path):
    layout = discover(str(_tree(tmp_path / "data", _splits("train", "val"))))
    assert "train" not in layout.class_names and "val" not in layout.class_names
    assert layout.description == "train/ + val/"
    assert any("no test split" in w and "optimistic" in w for w in layout.warnings)


def test_no_split_folders_is_one_folder_per_class_hash_split_three_ways(tmp_path):
    layout = discover(str(_tree(tmp_path / "data", {"cat": 3, "dog": 3})),
                      split_ratio=parse_split_ratio("70/20/10"))
    assert layout.class_names == ["cat", "dog"] and layout.roles == ["train", "validation", "test"]
    assert layout.inputs[0].shares == (("train", 70), ("validation", 20), ("test", 10))
    assert "hash-split 70/20/10" in layout.description


@pytest.mark.parametrize("folders, message", [
    ({"train/cat": 2, "train/dog": 2}, "no validation or test folder"),
    ({"val/cat": 2, "val/dog": 2, "test/cat": 2, "test/dog": 2}, "no training folder"),
    ({**_splits("train", "val", "valid")}, "both look like the validation split"),
    ({"train/cat": 2, "train/dog": 2, "cat": 2}, "no validation or test folder"),
    ({"chest_xray/train/a": 2, "chest_xray/train/b": 2, "chest_xray/val/a": 2,
      "chest_xray/val/b": 2}, "one level down"),
])
def test_split_like_folders_that_do_not_form_a_layout_stop_with_one_line(tmp_path, folders,
                                                                         message):
    with pytest.raises(DataError, match=message) as error:
        discover(str(_tree(tmp_path / "data", folders)))
    assert "\n" not in str(error.value)


def test_class_folders_that_differ_between_splits(tmp_path):
    only_in_val = _tree(tmp_path / "a", {**_splits("train", "val"), "val/bird": 1})
    with pytest.raises(DataError, match="bird in val/ but not in train/"):
        discover(str(only_in_val))
    case = _tree(tmp_path / "b", {"train/Cat": 2, "train/dog": 2, "val/cat": 1, "val/dog": 1})
    with pytest.raises(DataError, match=r"case-sensitive: cat \(train has Cat\)"):
        discover(str(case))
    missing_in_test = _tree(tmp_path / "c", {**_splits("train", "val"), "test/cat": 2})
    layout = discover(str(missing_in_test))
    assert any("test/ has no images of dog" in warning for warning in layout.warnings)


def test_other_folders_beside_the_split_folders_are_reported(tmp_path):
    layout = discover(str(_tree(tmp_path / "data", {**_splits("Training", "Test"),
                                                    "papers/figures": 1})))
    assert layout.class_names == ["cat", "dog"]
    assert any("ignored folder(s) beside the split folders: papers/" in w for w in layout.warnings)


def test_split_names_and_ratios():
    assert [split_role(n) for n in ("TRAIN", "train_set", "Train Images", "valid", "dev", "eval",
                                    "Testing", "test-set", "cats", "train_cats")] == [
        "train", "train", "train", "validation", "validation", "validation", "test", "test",
        None, None]
    assert parse_split_ratio("80/10/10") == (80, 10, 10)
    assert parse_split_ratio("0.7,0.2,0.1") == (70, 20, 10)
    assert parse_split_ratio("0.9") == (90, 5, 5)
    assert parse_split_ratio("90/10/0") == (90, 10, 0)
    with pytest.raises(ValueError, match="TRAIN/VALIDATION/TEST"):
        parse_split_ratio("100/0/0")
