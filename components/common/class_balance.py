"""How uneven the classes are, and the class weights that even them out in training.

Plain Python, shared by `inspect`, the run's first lines, the ExampleGen's report and the
Trainer, so the ratio a user reads is the one that decided the weights.

- imbalance ratio: images of the largest class / images of the smallest, in the training
  split (1.0: balanced);
- `--class-weight balanced`: each class weighted n / (k * n_class) (scikit-learn's
  "balanced": every class contributes the same total weight to the loss);
- `--class-weight auto` (the default): balanced when the ratio is above
  IMBALANCED_ABOVE, none at or below it.
"""

from __future__ import annotations

AUTO, BALANCED, NONE = "auto", "balanced", "none"
CLASS_WEIGHTS = (AUTO, BALANCED, NONE)
# Above 3:1 the classes are called imbalanced: inspect and the run warn, and auto weights
# them. Why 3, measured (BENCHMARKS.md, "Imbalance"): at caltech101_18's 3.15:1 balanced
# weights change nothing that matters (test accuracy 0.989 against 0.991 unweighted), at
# caltech101's 26:1 they lift balanced accuracy from 0.83 to 0.86 and the smallest
# classes' recall most; below 3:1 there is nothing to lift.
IMBALANCED_ABOVE = 3.0
LISTED_CLASSES = 3  # classes named at each end of a long list


def imbalance_ratio(counts: dict[str, int]) -> float | None:
    """Largest / smallest class count (classes with no image count as 0: infinite); None
    with fewer than two classes."""
    values = list(counts.values())
    if len(values) < 2:
        return None
    smallest, largest = min(values), max(values)
    return float("inf") if smallest == 0 else round(largest / smallest, 2)


def is_imbalanced(ratio: float | None) -> bool:
    return ratio is not None and ratio > IMBALANCED_ABOVE


def imbalance_line(ratio: float | None, where: str = "in the training split") -> str:
    """One line: the ratio, and a warning when it is above the threshold."""
    if ratio is None:
        return "imbalance: -"
    shown = "inf" if ratio == float("inf") else f"{ratio:g}"
    line = f"imbalance: {shown}:1 {where} (largest / smallest class)"
    if is_imbalanced(ratio):
        line += (f"; warning: above {IMBALANCED_ABOVE:g}:1, accuracy can hide a class the model "
                 "never predicts (see the per-class recall; --class-weight auto weights the "
                 "classes)")
    return line


def counts_line(counts: dict[str, int]) -> str:
    """'cat 1000, dog 50', or for many classes the smallest and largest few."""
    ordered = sorted(counts.items(), key=lambda item: (item[1], item[0]))
    if len(ordered) <= 2 * LISTED_CLASSES + 2:
        return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    low = ", ".join(f"{name} {count}" for name, count in ordered[:LISTED_CLASSES])
    high = ", ".join(f"{name} {count}" for name, count in ordered[-LISTED_CLASSES:])
    return f"{len(ordered)} classes; smallest: {low}; largest: {high}"


def balanced_weights(counts: list[int]) -> list[float]:
    """n / (k * n_class) per class id (a class with no image gets weight 0: it never occurs)."""
    present = [count for count in counts if count > 0]
    total, classes = sum(present), len(present)
    return [round(total / (classes * count), 4) if count else 0.0 for count in counts]


def resolve(mode: str, counts: list[int]) -> tuple[list[float] | None, str]:
    """(weights per class id, or None for none; the sentence saying which applied and why)."""
    if mode not in CLASS_WEIGHTS:
        raise ValueError(f"--class-weight must be one of {CLASS_WEIGHTS}, got {mode!r}")
    ratio = imbalance_ratio(dict(enumerate(count for count in counts)))
    shown = "-" if ratio is None else ("inf" if ratio == float("inf") else f"{ratio:g}")
    if mode == NONE:
        return None, f"none (--class-weight none; imbalance {shown}:1)"
    if mode == AUTO and not is_imbalanced(ratio):
        return None, (f"none (--class-weight auto: imbalance {shown}:1, at most "
                      f"{IMBALANCED_ABOVE:g}:1)")
    why = "--class-weight balanced" if mode == BALANCED else (
        f"--class-weight auto: imbalance {shown}:1, above {IMBALANCED_ABOVE:g}:1")
    return balanced_weights(counts), f"balanced ({why})"
