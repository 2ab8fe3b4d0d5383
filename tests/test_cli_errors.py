"""Bad input: a clear one-line error, a non-zero exit, and nothing pushed (in-process: the
error paths need no interpreter start-up each)."""

from conftest import image_bytes, run_main


def _assert_clear_failure(result, output, expected):
    assert result.returncode == 1, result.stdout + result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("visionpipe:")]
    assert len(message) == 1 and expected in message[0], result.stderr
    assert not (output / "serving").exists()


def test_missing_path(tmp_path, capsys):
    result = run_main(capsys, "run", "--data", str(tmp_path / "nope"), "--output", str(tmp_path / "o"))
    _assert_clear_failure(result, tmp_path / "o", "no such folder")


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    result = run_main(capsys, "run", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "o"))
    _assert_clear_failure(result, tmp_path / "o", "no images found")


def test_one_class_only(tmp_path, capsys):
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "cat" / "1.jpg").write_bytes(image_bytes())
    result = run_main(capsys, "run", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "o"))
    _assert_clear_failure(result, tmp_path / "o", "only one class")


def test_folder_of_only_corrupt_files(tmp_path, capsys):
    for cls in ("cat", "dog"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        (tmp_path / "data" / cls / "zero.jpg").write_bytes(b"")
        (tmp_path / "data" / cls / "half.jpg").write_bytes(image_bytes()[:200])
    result = run_main(capsys, "run", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "o"))
    _assert_clear_failure(result, tmp_path / "o", "no readable images")
    assert "4 file(s) quarantined" in result.stderr


def test_bad_option_is_rejected_before_running(tmp_path, capsys):
    result = run_main(capsys, "run", "--data", str(tmp_path), "--output", str(tmp_path / "o"),
                     "--min-accuracy", "1.5")
    _assert_clear_failure(result, tmp_path / "o", "--min-accuracy")


def test_unwritable_output_is_named(tmp_path, capsys):
    for cls in ("cat", "dog"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        (tmp_path / "data" / cls / "1.jpg").write_bytes(image_bytes())
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_main(capsys, "run", "--data", str(tmp_path / "data"), "--output", str(blocker / "runs"))
    assert result.returncode == 1
    assert f"{blocker / 'runs'}" in result.stderr and "cannot write there" in result.stderr
