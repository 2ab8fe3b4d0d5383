"""What the input data looks like: where the ExampleGen reads, which role each input plays, the classes.

Three roles, each a split of the Examples: `train` fits the model, `validation` drives
early stopping and model selection, `test` decides the blessing. Each input (a split
folder, a CSV file, or the whole tree) either plays one role, or is hash-split into
several by weight (near-duplicate groups stay together, see duplicates.py). Each data
source (sources/) finds the layout of what the user points at; the pipeline fixes the
class names from it once, so label ids, per-class metrics and the served vocabulary
agree for the whole run.
"""

from __future__ import annotations

import dataclasses
import re

WHOLE_TREE = "."  # the split pattern that means "the whole input base is one input"
TRAIN, VALIDATION, TEST = "train", "validation", "test"
ROLES = (TRAIN, VALIDATION, TEST)
DEFAULT_SPLIT_RATIO = (80, 10, 10)  # percent for train / validation / test when hash-split
SPAN_TAGS = ("{SPAN}", "{VERSION}", "{YYYY}", "{MM}", "{DD}")  # TFX's span and version patterns


class DataError(ValueError):
    """The input cannot be used; the message says why in one line."""


@dataclasses.dataclass(frozen=True)
class InputSplit:
    """One input of the ExampleGen: a pattern below the input base and the role(s) it feeds.

    shares: ((role, weight), ...); one entry means the whole input plays that role, several
    mean its images are hash-split between them in proportion to the weights.
    """

    name: str
    pattern: str
    shares: tuple[tuple[str, int], ...]

    @property
    def hashed(self) -> bool:
        return len(self.shares) > 1


@dataclasses.dataclass(frozen=True)
class DataLayout:
    """Where the ExampleGen reads, the role of each input, the sorted class names, and what
    the user should know about the layout (said on the console and in summary.json)."""

    input_base: str
    class_names: list[str]
    inputs: tuple[InputSplit, ...]
    description: str = ""  # e.g. "train/ + val/ + test/"
    warnings: tuple[str, ...] = ()

    @property
    def roles(self) -> list[str]:
        """The output splits, in ROLES order."""
        present = {role for split in self.inputs for role, _ in split.shares}
        return [role for role in ROLES if role in present]

    @property
    def blessing_split(self) -> str:
        """The split the Evaluator blesses on: test when there is one, else validation."""
        return TEST if TEST in self.roles else VALIDATION

    @property
    def user_split(self) -> bool:
        """True when the user's own split folders or files (not only the hash) set the roles."""
        return any(not split.hashed for split in self.inputs)


def latest_span_folder(base: str, pattern: str) -> str:
    """The folder a span/version pattern names for the newest span (and version), as TFX's
    driver picks it; the pattern itself when it has no tag."""
    if not any(tag in pattern for tag in SPAN_TAGS):
        return pattern
    from tfx.components.example_gen import utils  # TFX: only where spans are resolved
    from tfx.proto import example_gen_pb2

    split = example_gen_pb2.Input.Split(name="all", pattern=pattern)
    try:
        utils.calculate_splits_fingerprint_span_and_version(base, [split])
    except ValueError as error:
        raise DataError(f"{base}/{pattern}: {error}") from None
    return split.pattern


def newest_span(layout: DataLayout) -> tuple[InputSplit, ...]:
    """The layout's inputs with their span patterns resolved to the newest span (what a run
    started now reads)."""
    return tuple(dataclasses.replace(split, pattern=latest_span_folder(layout.input_base,
                                                                       split.pattern))
                 for split in layout.inputs)


def hash_split(name: str, pattern: str, ratio: tuple[int, int, int]) -> InputSplit:
    """One input hash-split three ways (roles with weight 0 are left out)."""
    shares = tuple((role, weight) for role, weight in zip(ROLES, ratio, strict=True) if weight)
    return InputSplit(name, pattern, shares)


def ratio_text(shares: tuple[tuple[str, int], ...]) -> str:
    """'80/10/10 train/validation/test' for a hash split's shares."""
    return (f"{'/'.join(str(weight) for _, weight in shares)} "
            f"{'/'.join(role for role, _ in shares)}")


def parse_split_ratio(text: str) -> tuple[int, int, int]:
    """'80/10/10', '0.8,0.1,0.1' or '0.8' (train; the rest shared equally) -> percentages."""
    parts = [p for p in re.split(r"[/,:\s]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1 and 0 < values[0] < 1:
        values = [values[0], (1 - values[0]) / 2, (1 - values[0]) / 2]
    if len(values) != 3 or min(values) < 0 or values[0] <= 0 or values[1] + values[2] <= 0:
        raise ValueError(f"--split-ratio {text!r}: use TRAIN/VALIDATION/TEST, e.g. 80/10/10 "
                         "(or one training fraction such as 0.8)")
    total = sum(values)
    percent = [round(100 * v / total) for v in values]
    percent[0] = 100 - percent[1] - percent[2]
    return percent[0], percent[1], percent[2]


def check_classes(data: str, class_names: list[str], what: str) -> None:
    """DataError unless there are at least two classes; `what` says what was looked for."""
    if not class_names:
        raise DataError(f"{data}: no {what}")
    if len(class_names) == 1:
        raise DataError(f"{data}: only one class ({class_names[0]}); a classifier needs at "
                        "least 2 class folders or labels")


def check_split_classes(data: str, classes_by_input: dict[str, list[str]],
                        train_input: str) -> list[str]:
    """Class folders that differ between splits: a class the training split lacks is an error
    (the model could never predict it); a class missing from validation or test is a warning
    (its metrics cannot be measured there). Returns the warnings."""
    train = set(classes_by_input[train_input])
    warnings = []
    for name, classes in classes_by_input.items():
        if name == train_input:
            continue
        extra = sorted(set(classes) - train)
        if extra:
            folded = {c.casefold(): c for c in train}
            hints = [f"{c} (train has {folded[c.casefold()]})" for c in extra
                     if c.casefold() in folded]
            hint = f"; class names are case-sensitive: {', '.join(hints)}" if hints else ""
            raise DataError(f"{data}: class(es) {', '.join(extra)} in {name} but not in "
                            f"{train_input}: the model could never learn them{hint}")
        missing = sorted(train - set(classes))
        if missing:
            warnings.append(f"{name} has no images of {', '.join(missing)}: their recall "
                            f"cannot be measured there")
    return warnings
