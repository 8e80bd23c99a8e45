"""Class names, scored classes and palettes of the supported datasets: data, not branches."""

from __future__ import annotations

from dataclasses import dataclass

from .files import InputError


@dataclass(frozen=True)
class DatasetSpec:
    """What the pipeline needs to know about one dataset's label maps."""

    name: str
    classes: tuple[str, ...]
    scored: tuple[int, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def flat_palette(self) -> list[int]:
        """The palette as PIL's ``putpalette`` wants it, padded to 256 distinct colours."""
        flat = [channel for colour in self.palette for channel in colour]
        used = set(self.palette)
        filler = (c for c in ((i, i, i) for i in range(256)) if c not in used)
        while len(flat) < 768:
            flat.extend(next(filler))
        return flat


URBAN = DatasetSpec(
    name="Urban",
    classes=("background", "building", "road", "water", "barren", "forest", "agricultural", "other"),
    scored=(0, 1, 2, 3, 4, 5, 6),
    palette=(
        (255, 255, 255),
        (255, 0, 0),
        (255, 255, 0),
        (0, 0, 255),
        (159, 129, 183),
        (0, 255, 0),
        (255, 195, 128),
        (0, 0, 0),
    ),
    ignore_index=8,
)

POTSDAM = DatasetSpec(
    name="potsdam",
    classes=("ImSurf", "Building", "LowVeg", "Tree", "Car", "Clutter"),
    scored=(0, 1, 2, 3, 4, 5),
    palette=((255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 204, 0), (255, 0, 0)),
    ignore_index=6,
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (URBAN, POTSDAM)}


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by name (``Urban`` or ``potsdam``)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
