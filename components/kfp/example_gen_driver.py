"""The ImageExampleGen's driver on Kubeflow: TFX's V2 file-based driver, with our fingerprint.

On Kubeflow the ExampleGen's span, version and fingerprint come from a `preCacheCheck`
lifecycle hook that runs before the executor; its fingerprint is part of the task's
cache key. TFX's own V2 driver fingerprints what the input pattern globs: for the
pattern `.` that is the data folder itself (its size and modification time), so images
added to, removed from or replaced in a class folder would not change the key, and a
scheduled run with caching on would train on yesterday's data. This driver is TFX's,
run with one substitution: the fingerprint of every file below each input, at any
depth (image_folder.tree_fingerprint, the local runner's driver's). TFX's V2 runner has
no hook for custom drivers (tfx#6722), so the compiled spec names this module instead.
"""

from __future__ import annotations

from unittest import mock

from absl import app
from tfx.components.example_gen import input_processor
from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver as tfx_driver

from components.image_example_gen.sources.image_folder import tree_fingerprint

COMMAND = ["python", "-m", "components.kfp.example_gen_driver"]


class TreeFingerprintProcessor(input_processor.FileBasedInputProcessor):
    """TFX's span and version resolution; the fingerprint of every file below the inputs."""

    def get_input_fingerprint(self, span: int, version: int | None) -> str:
        patterns = [self.get_pattern_for_span_version(split.pattern, span, version)
                    for split in self._splits]
        return tree_fingerprint(self._input_base_uri, patterns)


def main(args) -> None:
    """TFX's driver main with the processor above (the one thing its driver constructs)."""
    with mock.patch.object(input_processor, "FileBasedInputProcessor", TreeFingerprintProcessor):
        tfx_driver.main(args)


if __name__ == "__main__":
    app.run(main, flags_parser=tfx_driver._parse_flags)  # noqa: SLF001 - TFX's own flag parser
