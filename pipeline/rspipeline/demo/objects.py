"""Which object masks the demo uses: HQ-SAM, else SAM 2.1, when a checkpoint is in the weights folder, else
weight-free regions."""

from __future__ import annotations

from dataclasses import dataclass

from sam_objects.registry import default_checkpoint_path, source_spec

# The SAM-family sources auto looks for, in this order, each with its backbones smallest first.
PREFERENCE = {"samhq": ("vit_tiny", "vit_b", "vit_l", "vit_h"), "sam2": ("tiny", "small", "base_plus", "large")}


@dataclass(frozen=True)
class ObjectChoice:
    """The object source the demo uses: ``samhq`` or ``sam2`` with a backbone, or the weight-free ``regions``.

    ``missing`` is the one line telling which checkpoint would have given SAM objects and where to get it, when
    ``auto`` found none."""

    model: str
    model_type: str | None = None
    missing: str | None = None

    @property
    def key(self) -> str:
        return "_".join(filter(None, (self.model, self.model_type)))

    @property
    def description(self) -> str:
        label = source_spec(self.model).label
        if self.model_type is None:
            return label
        return f"{label}, {self.model_type} ({default_checkpoint_path(self.model, self.model_type).name})"

    @property
    def meaning(self) -> str:
        """What the source means for the figures."""
        if self.model == "regions":
            return (
                "These are colour superpixels, not SAM objects: SESSRS runs as it would with SAM, but its "
                "figures show the pipeline working, not the paper's SAM-based gains."
            )
        return "SAM-family objects, as in the paper."

    def arguments(self) -> list[str]:
        return ["--model", self.model, *(["--model-type", self.model_type] if self.model_type else [])]


def choose_objects(request: str) -> ObjectChoice:
    """``auto``: HQ-SAM with the smallest backbone whose checkpoint is in the weights folder, else SAM 2.1 likewise,
    else ``regions``.

    ``samhq`` or ``sam2`` insists on that source (the SAM stage then names a missing file); ``regions`` never uses
    weights."""
    if request == "regions":
        return ObjectChoice("regions")
    for model in [request] if request in PREFERENCE else list(PREFERENCE):
        present = [t for t in PREFERENCE[model] if default_checkpoint_path(model, t).is_file()]
        if present or request == model:
            return ObjectChoice(model, present[0] if present else source_spec(model).default_model_type)
    smallest = source_spec("samhq").checkpoint(PREFERENCE["samhq"][0])
    folder = default_checkpoint_path("samhq", PREFERENCE["samhq"][0]).parent
    return ObjectChoice(
        "regions",
        missing=f"No HQ-SAM checkpoint found: put {smallest.file_name} (from "
        f"{smallest.url}) in {folder}/ to use SAM objects.",
    )
