"""Synthetic axial brain MRI (FLAIR/T2-like) with a segmented tumour in every image.

Each image is a 2-D phantom of an axial slice: scalp, dark skull, a thin
CSF rim that widens with age (atrophy), a grey-matter ribbon with gyral
folds, white matter, and lateral ventricles that enlarge with age.  Head
size varies with sex (male larger).  Intensities in [0, 1], FLAIR-like: CSF
dark, grey matter brighter than white matter, tumour oedema bright.

Every image holds one tumour: an irregular lesion (boundary perturbed by a
smooth random field in the lesion's frame) with an oedema halo, an
enhancing rim and a necrotic core.  ``masks`` is the whole tumour (oedema +
rim + core) as float {0, 1}.  Labels:

- ``label_tumor_type`` 1 = glioblastoma-like: large, thick irregular rim,
  large necrotic core, wide oedema; 0 = other: smaller, smoother, little or
  no necrosis;
- ``label_tumor_grade`` 1 = high grade: always for type 1; for type 0 with
  probability 0.3, with an intermediate appearance (some necrosis, rougher).

Planted effects multiply P(type = 1) (hence grade), and the lesion's
contrast against the brain and its size.

Examples
--------
>>> ss = make_synthetic_brain(n_patients=3, image_size=32, seed=0)
>>> ss.images.shape, ss.masks.shape, ss.label_names
(torch.Size([3, 1, 32, 32]), torch.Size([3, 1, 32, 32]), ('tumor_type', 'tumor_grade'))
>>> bool(((ss.masks == 0) | (ss.masks == 1)).all()) and bool((ss.masks.sum((1, 2, 3)) > 0).all())
True
"""

from __future__ import annotations

import math

import numpy as np
import torch

from reconfair.data import habitus, shapes
from reconfair.data.demographics import Cohort, PatientStreams
from reconfair.data.effects import PlantedEffects
from reconfair.data.generate import generate
from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import SampleSet

DATASET = "synthetic-brain"
PREFIX = "brain"
LABELS = ("tumor_type", "tumor_grade")
BASE_PREVALENCE = {"tumor_type": 0.4}
GRADE_GIVEN_OTHER = 0.3
MAX_PREVALENCE = 0.95
# FLAIR-like intensities
SCALP, SKULL, CSF, GREY, WHITE, OEDEMA = 0.5, 0.08, 0.14, 0.56, 0.43, 0.76

__all__ = ["DATASET", "LABELS", "BASE_PREVALENCE", "make_synthetic_brain"]


def make_synthetic_brain(
    *,
    n_patients: int,
    image_size: int = 64,
    seed: int = 0,
    effects: PlantedEffects | None = None,
    images_per_patient: tuple[int, int] = (1, 1),
    age_cut: float | None = None,
    lazy: bool = False,
) -> SampleSet | LazySampleSet:
    """Generate synthetic brain MRI slices with tumour masks.

    Parameters
    ----------
    n_patients
        Number of patients; patient ``k`` is the same whatever ``n_patients``
        (unless effects are planted by ``age_group`` with the default cut).
    image_size
        Images are ``image_size x image_size``; anatomy scales with it.
    seed
        Seed of every random draw (anatomy, tumour, pose, split).
    effects
        Planted group effects; ``None`` plants none.
    images_per_patient
        ``(min, max)`` images per patient (same anatomy and tumour, new pose).
    age_cut
        Age (years) splitting ``age_group``; ``None`` = median patient age,
        rounded to an integer.

    Returns
    -------
    SampleSet
        ``images`` and ``masks`` ``N x 1 x H x W`` float32; the table has
        ids, split, ``attr_sex/age/age_group/race`` and the two float labels.

    Examples
    --------
    >>> ss = make_synthetic_brain(n_patients=2, image_size=16, images_per_patient=(2, 2))
    >>> len(ss), sorted(ss.table["patient_id"].unique())
    (4, ['brain-p00000', 'brain-p00001'])
    """
    return generate(
        dataset=DATASET,
        prefix=PREFIX,
        n_patients=n_patients,
        image_size=image_size,
        seed=seed,
        effects=effects,
        images_per_patient=images_per_patient,
        age_cut=age_cut,
        lazy=lazy,
        patient_params=_patient_params,
        render=_render,
        facts={"base_prevalence": dict(BASE_PREVALENCE), "grade_given_other": GRADE_GIVEN_OTHER},
        attributes=habitus.habitus_attribute,  # recorded; the MRI images do not depend on it
    )


def _patient_params(
    streams: PatientStreams, cohort: Cohort, mult: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-patient anatomy and tumour (arrays over patients) and the labels."""
    demo = cohort.demographics
    p = np.arange(cohort.n_patients, dtype=np.int64)
    age = demo.age.astype(np.float64)
    p_type = np.minimum(BASE_PREVALENCE["tumor_type"] * mult["prevalence"], MAX_PREVALENCE)
    tumor_type = streams.uniform("tumor_type", p) < p_type
    grade = tumor_type | (streams.uniform("tumor_grade", p) < GRADE_GIVEN_OTHER)
    labels = {"tumor_type": tumor_type.astype(np.float64), "tumor_grade": grade.astype(np.float64)}
    # appearance class: 0 = low-grade other, 1 = high-grade other (intermediate), 2 = glioblastoma-like
    kind = np.where(tumor_type, 2, np.where(grade, 1, 0))

    def by_kind(name: str, ranges: tuple[tuple[float, float], ...]) -> np.ndarray:
        low = np.asarray([r[0] for r in ranges])[kind]
        high = np.asarray([r[1] for r in ranges])[kind]
        return streams.between(name, low, high, p)

    s = np.where(demo.sex == "M", 1.0, 0.93) * (1.0 + 0.03 * streams.normal("head_size", p))
    angle = streams.uniform("tumor_angle", p) * 2.0 * math.pi
    radius = np.sqrt(streams.between("tumor_radius", 0.04, 0.25, p))  # fraction of the brain semi-axes
    params = {
        "s": s,
        "aspect": 1.18 * (1.0 + 0.03 * streams.normal("head_aspect", p)),
        "csf": 0.012 + 0.0004 * (age - 20.0) + 0.003 * streams.normal("csf", p).clip(-2, 2),
        "ventricle": np.clip(1.0 + 0.012 * (age - 20.0) + 0.08 * streams.normal("ventricle", p), 0.7, 2.2),
        "t_cx": radius * np.cos(angle),
        "t_cy": radius * np.sin(angle),
        "t_r": mult["size"] * by_kind("lesion_radius", ((0.07, 0.11), (0.10, 0.14), (0.14, 0.20))),
        "t_oedema": by_kind("oedema_ratio", ((1.1, 1.3), (1.2, 1.45), (1.35, 1.7))),
        "t_core": by_kind("core_fraction", ((0.5, 0.6), (0.35, 0.5), (0.6, 0.75))),
        "t_core_val": by_kind("core_value", ((0.68, 0.72), (0.42, 0.5), (0.24, 0.32))),
        "t_rim_val": by_kind("rim_value", ((0.76, 0.8), (0.84, 0.88), (0.9, 0.95))),
        "t_rough": by_kind("roughness", ((0.03, 0.06), (0.08, 0.12), (0.16, 0.24))),
        "t_contrast": mult["contrast"],
    }
    for name, lattice in (("tex", 9), ("gyri", 15), ("t_field", 6), ("t_field_oedema", 6)):
        lat = np.arange(lattice, dtype=np.int64)
        params[name] = streams.normal(name, p[:, None, None], lat[None, :, None], lat[None, None, :])
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, labels


def _render(p: dict[str, torch.Tensor], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Render a batch: images and whole-tumour masks, each ``B x H x W``."""
    x, y = shapes.posed_grid(size, shift_x=p["shift_x"], shift_y=p["shift_y"], angle=p["angle"], scale=p["scale"])
    xs, ys = shapes.posed_axes(size, shift_x=p["shift_x"], shift_y=p["shift_y"], scale=p["scale"])
    px = shapes.pixel(size)
    s, aspect = p["s"], p["aspect"]
    ax, ay = 0.74 * s, 0.74 * s * aspect
    # nested layers, outside in: head (scalp), skull, CSF, brain (grey), white matter
    image = shapes.soft_ellipse(x, y, cx=0.0, cy=0.0, ax=ax, ay=ay, edge=px).mul_(SCALP)
    for inset, value, previous in ((0.045, SKULL, SCALP), (0.095, CSF, SKULL)):
        layer = shapes.soft_ellipse(x, y, cx=0.0, cy=0.0, ax=ax - inset, ay=ay - inset, edge=px)
        image.add_(layer, alpha=value - previous)
    brain_in = 0.095 + p["csf"]
    bx, by = ax - brain_in, ay - brain_in
    gyri = shapes.smooth_field(p["gyri"], xs, ys)
    brain = shapes.ellipse_distance(x, y, cx=0.0, cy=0.0, ax=bx, ay=by).add_(gyri, alpha=0.02)
    brain = shapes.soft_step(brain, px, inplace=True)
    white = shapes.ellipse_distance(x, y, cx=0.0, cy=0.0, ax=0.8 * bx, ay=0.82 * by).add_(gyri, alpha=0.05)
    white = shapes.soft_step(white, px, inplace=True).mul_(brain)
    image.add_(brain, alpha=GREY - CSF).add_(white, alpha=WHITE - GREY)
    v = p["ventricle"]
    ventricles = shapes.soft_ellipse(
        x.abs(), y, cx=0.075 * s * v, cy=-0.06 * s, ax=0.045 * s * v, ay=0.2 * s * (0.8 + 0.2 * v),
        angle=torch.full_like(s, -0.3), edge=px,
    ).mul_(white)
    image.add_(ventricles, alpha=CSF - WHITE)
    image.add_(shapes.smooth_field(p["tex"], xs, ys).mul_(brain), alpha=0.02)
    tumour, whole = _tumour(p, x, y, xs, ys, bx, by, px)
    whole.mul_(brain)
    # the lesion replaces the tissue; contrast scales its difference from the tissue
    image.add_(tumour.sub_(image).mul_(whole).mul_(p["t_contrast"][:, None, None]))
    image.mul_(p["gain"][:, None, None]).add_(p["offset"][:, None, None]).clamp_(0.0, 1.0)
    mask = (whole >= 0.5).to(image.dtype)
    return image, mask


def _tumour(
    p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
    bx: torch.Tensor, by: torch.Tensor, px: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tumour intensities (valid inside the whole tumour) and the soft whole-tumour indicator."""
    cx, cy = p["t_cx"] * bx, p["t_cy"] * by
    r_lesion = torch.clamp(p["t_r"], min=1.5 * px)
    r_whole = r_lesion * p["t_oedema"]
    # smooth random fields in the lesion frame (lattice spans +-1.3 whole-tumour radii) perturb the boundaries
    span = 1.3 * r_whole[:, None]
    f_lesion = shapes.smooth_field(p["t_field"], (xs - cx[:, None]) / span, (ys - cy[:, None]) / span)
    f_whole = shapes.smooth_field(p["t_field_oedema"], (xs - cx[:, None]) / span, (ys - cy[:, None]) / span)
    u, v = x - cx[:, None, None], y - cy[:, None, None]
    rho = u.mul_(u).add_(v.mul_(v)).sqrt_()
    rough = p["t_rough"][:, None, None]

    def layer(radius: torch.Tensor, field: torch.Tensor, amplitude: torch.Tensor) -> torch.Tensor:
        r = radius[:, None, None]
        distance = rho - r * (1.0 + amplitude * field)
        return shapes.soft_step(distance, px, inplace=True)

    whole = layer(r_whole, f_whole, 1.5 * rough)
    lesion = layer(r_lesion, f_lesion, rough)
    core = layer(r_lesion * p["t_core"], f_lesion, rough)
    rim_val, core_val = p["t_rim_val"][:, None, None], p["t_core_val"][:, None, None]
    tumour = lesion.mul_(rim_val - OEDEMA).add_(OEDEMA).add_(core.mul_(core_val - rim_val))
    return tumour, whole
