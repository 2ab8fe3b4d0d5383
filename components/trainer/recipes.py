"""Training recipes: the course's exact one, and the default that converges on real photos.

A recipe fills every hyper-parameter the user left unset (None in TrainingConfig):
optimizer, learning rate, early-stopping patience, the learning-rate schedule and how
transfer learning is phased. Choices and their measured effect: README "Recipes" and
BENCHMARKS.md (the two recipes side by side per module).

- course: RMSprop at the module's course rate (1e-3; 1e-4 for augmented and transfer),
  patience 3, constant rate, transfer in one phase with the frozen base run on every
  image every epoch (the notebooks' way).
- default: Adam at 1e-3 (tolerates the first epochs' large gradients, where RMSprop at
  1e-3 overshoots and at 1e-4 crawls), the rate cut by 5x when validation loss stalls for
  2 epochs, patience 6 (an augmented epoch's validation loss is noisier than 3 epochs
  can tell), and transfer in two phases when the base has pretrained weights: the head on
  the frozen base's features computed once ("bottleneck features") until validation stops
  improving (up to 100 epochs, each under a second: capped at --epochs, 15, the head ended
  short of a logistic regression on the same features), then the top fifth of
  the base unfrozen at 1e-5 for 5 epochs (on the activations below it, computed once,
  when nothing is augmented), keeping the better phase by validation accuracy.
"""

from __future__ import annotations

import dataclasses

COURSE, DEFAULT = "course", "default"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What a recipe sets when the user did not."""

    optimizer: str
    learning_rate: float | None  # None: the trainer module's course rate
    patience: int
    plateau_factor: float | None  # multiply the rate by this when validation loss stalls
    plateau_patience: int
    fine_tune_layers: float  # for a pretrained base: top N layers (or a fraction) unfrozen
    fine_tune_epochs: int
    bottleneck: bool  # phase one on the frozen base's features, computed once
    head_epochs: int | None  # phase one's cap on those features; None: --epochs


RECIPES: dict[str, Recipe] = {
    COURSE: Recipe(optimizer="rmsprop", learning_rate=None, patience=3, plateau_factor=None,
                   plateau_patience=0, fine_tune_layers=0, fine_tune_epochs=0, bottleneck=False,
                   head_epochs=None),
    DEFAULT: Recipe(optimizer="adam", learning_rate=1e-3, patience=6, plateau_factor=0.2,
                    plateau_patience=2, fine_tune_layers=0.2, fine_tune_epochs=5, bottleneck=True,
                    head_epochs=100),
}


def recipe(name: str) -> Recipe:
    """The recipe called name; a clear error listing the choices otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]
