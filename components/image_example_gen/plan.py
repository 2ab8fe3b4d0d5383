"""The ExampleGen's plan, made before any image is read: what to read, under which label id,
into which splits.

The executor and `visionpipe inspect` both start from this plan, so they list, label and
split the same files for the same reasons.
"""

from __future__ import annotations

import dataclasses

from components.image_example_gen import sources
from components.image_example_gen.layout import ROLES
from components.image_example_gen.options import IngestOptions, Shares

# One image to read: its position in the run's listing, the item, the input it comes from.
Entry = tuple[int, sources.Item, str]


class EmptyDataError(ValueError):
    """The input holds no usable images for a split, or fewer than two classes."""


@dataclasses.dataclass(frozen=True)
class IngestPlan:
    """Every image to read and every file skipped, the class names, and the splits to write."""

    input_base: str
    class_names: list[str]
    entries: list[Entry]
    ignored: list[dict[str, str]]  # {"path", "reason"}: files skipped before reading
    shares: dict[str, Shares]  # each input's roles

    @property
    def label_ids(self) -> dict[str, int]:
        """{class name: label id}: the position in the sorted vocabulary."""
        return {name: i for i, name in enumerate(self.class_names)}

    @property
    def roles(self) -> list[str]:
        """The output splits, in ROLES order."""
        present = {role for input_shares in self.shares.values() for role, _ in input_shares}
        return [role for role in ROLES if role in present]

    @property
    def fixed_roles(self) -> dict[str, str]:
        """{input: its one role} for the inputs with a single role (the user's split folders):
        their images need no duplicate groups to know their split."""
        return fixed_roles(self.shares)

    @property
    def first_pass_roles(self) -> list[str]:
        """The splits written as the images are read (inputs with one role)."""
        return sorted(set(self.fixed_roles.values()), key=self.roles.index)

    @property
    def second_pass_roles(self) -> list[str]:
        """The splits written after the duplicate search (hash-split inputs)."""
        return [role for role in self.roles if any(
            len(input_shares) > 1 and role in dict(input_shares)
            for input_shares in self.shares.values())]


def fixed_roles(shares: dict[str, Shares]) -> dict[str, str]:
    """{input: its one role} for the inputs that have a single role."""
    return {name: input_shares[0][0] for name, input_shares in shares.items()
            if len(input_shares) == 1}


def plan_ingestion(input_base: str, inputs: list[tuple[str, str]],
                   options: IngestOptions) -> IngestPlan:
    """The plan for inputs ((name, pattern below input_base), ...) read as options say;
    EmptyDataError when there are fewer than two classes or a split's class is unknown."""
    source = sources.source(options.data_format)
    shares = options.shares_by_input()
    missing = [name for name, _ in inputs if name not in shares]
    if missing:
        raise ValueError(f"ingest options give no roles for the input(s) {missing}")
    listings = {name: source.list_split(input_base, pattern) for name, pattern in inputs}
    class_names = list(options.class_names) or sources.sort_class_names(
        item.class_name for listing in listings.values() for item in listing.items)
    if len(class_names) < 2:
        raise EmptyDataError(
            f"{input_base}: found {len(class_names)} class folder(s) with images "
            f"({', '.join(class_names) or 'none'}); a classifier needs at least 2")
    entries: list[Entry] = []
    for name, listing in listings.items():
        unknown = sorted({item.class_name for item in listing.items} - set(class_names))
        if unknown:
            raise EmptyDataError(f"class(es) {', '.join(unknown)} are not in the label "
                                 f"vocabulary {class_names}")
        entries += [(len(entries) + i, item, name) for i, item in enumerate(listing.items)]
    ignored = [entry for listing in listings.values() for entry in listing.ignored]
    return IngestPlan(input_base, class_names, entries, ignored,
                      {name: shares[name] for name, _ in inputs})
