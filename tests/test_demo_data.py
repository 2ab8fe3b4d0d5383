"""The built-in demo data is deterministic and has something for the quarantine."""

from pipeline.data_tools.demo import CLASSES, make_demo_data


def test_same_seed_same_files(tmp_path):
    a = make_demo_data(tmp_path / "a", images_per_class=5, seed=3)
    b = make_demo_data(tmp_path / "b", images_per_class=5, seed=3)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def test_classes_formats_and_broken_files(tmp_path):
    root = make_demo_data(tmp_path, images_per_class=40)
    assert sorted(p.name for p in root.iterdir()) == list(CLASSES)
    suffixes = {p.suffix for p in root.rglob("*.*")}
    assert {".jpg", ".png"} <= suffixes
    assert (root / "square" / "empty.png").stat().st_size == 0
