"""Synthetic chest radiographs with multi-label findings and planted group effects.

Each image is a 2-D phantom of a posteroanterior chest radiograph in the
line-integral convention (bright = attenuating): air 0, dark lungs, mid-grey
soft tissue (body, heart, mediastinum, abdomen) and bright bone (spine, ribs,
clavicles).  Anatomy varies per patient with sex (male thorax larger) and
age (bone brightness falls with age, the heart grows slightly); each patient
has 1 to 3 images with small pose and exposure changes.

Body habitus (:mod:`reconfair.data.habitus`): a per-patient soft-tissue
thickness factor (by sex, age and an individual factor) adds chest-wall
tissue over the whole body, and female patients have breast tissue over the
lower lung fields.  Both are line integral, so at one photon level they
make the degraded image noisier there; the attribute ``habitus``
(``slim``/``average``/``large``) records the thickness group.

Findings (independent; labels ``label_nodule``, ``label_effusion``,
``label_cardiomegaly``):

- nodule: a small round opacity in one lung (radius about 3 to 5 pixels at
  64 x 64, peak contrast 0.12 to 0.22);
- effusion: basal fluid filling one or both lungs from the base up, with a
  meniscus rising laterally (blunted costophrenic angle);
- cardiomegaly: cardiothoracic ratio 0.51 to 0.60 (normal hearts 0.35 to 0.495,
  growing slightly with age).

Planted effects (:class:`~reconfair.data.effects.PlantedEffects`) multiply
each finding's prevalence (clipped to 0.95), the contrast and size of the
nodule and effusion, and the excess cardiothoracic ratio above 0.5.

Examples
--------
>>> ss = make_synthetic_chest(n_patients=4, image_size=32, seed=0)
>>> ss.images.shape[1:], ss.label_names
(torch.Size([1, 32, 32]), ('nodule', 'effusion', 'cardiomegaly'))
>>> bool(ss.images.min() >= 0.0 and ss.images.max() <= 1.0)
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

DATASET = "synthetic-chest"
PREFIX = "chest"
LABELS = ("nodule", "effusion", "cardiomegaly")
BASE_PREVALENCE = {"nodule": 0.3, "effusion": 0.25, "cardiomegaly": 0.25}
MAX_PREVALENCE = 0.95

LUNG_CX, LUNG_CY, LUNG_AX, LUNG_AY = 0.41, -0.12, 0.31, 0.52  # lung centres and semi-axes (x thorax scale)

__all__ = ["DATASET", "LABELS", "BASE_PREVALENCE", "make_synthetic_chest"]


def make_synthetic_chest(
    *,
    n_patients: int,
    image_size: int = 64,
    seed: int = 0,
    effects: PlantedEffects | None = None,
    images_per_patient: tuple[int, int] = (1, 3),
    age_cut: float | None = None,
    lazy: bool = False,
) -> SampleSet | LazySampleSet:
    """Generate synthetic chest radiographs.

    Parameters
    ----------
    n_patients
        Number of patients; patient ``k`` is the same whatever ``n_patients``
        (unless effects are planted by ``age_group`` with the default cut).
    image_size
        Images are ``image_size x image_size``; anatomy scales with it.
    seed
        Seed of every random draw (anatomy, findings, pose, split).
    effects
        Planted group effects; ``None`` plants none.
    images_per_patient
        ``(min, max)`` images per patient, drawn uniformly per patient.
    age_cut
        Age (years) splitting ``age_group``; ``None`` = median patient age,
        rounded to an integer.

    Returns
    -------
    SampleSet
        ``images`` ``N x 1 x H x W`` float32 in [0, 1]; the table has ids,
        split, ``attr_sex/age/age_group/race/habitus`` and the three float labels.

    Examples
    --------
    >>> from reconfair.data.effects import GroupEffect
    >>> fx = PlantedEffects({"sex": {"F": GroupEffect(prevalence=2.0)}})
    >>> ss = make_synthetic_chest(n_patients=3, image_size=16, effects=fx, images_per_patient=(2, 2))
    >>> len(ss), ss.table["patient_id"].nunique(), ss.info["effects"]["sex"]["F"]["prevalence"]
    (6, 3, 2.0)
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
        render=lambda params, size: (_render(params, size), None),
        facts={"base_prevalence": dict(BASE_PREVALENCE)},
        attributes=habitus.habitus_attribute,
    )


def _patient_params(
    streams: PatientStreams, cohort: Cohort, mult: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-patient anatomy and findings (arrays over patients) and the labels.

    Texture lattices are ``n_patients x h x w`` arrays; everything else is 1-D.
    """
    demo = cohort.demographics
    p = np.arange(cohort.n_patients, dtype=np.int64)
    age = demo.age.astype(np.float64)
    sex_scale = np.where(demo.sex == "M", 1.0, 0.92)
    s = sex_scale * (1.0 + 0.035 * streams.normal("thorax_width", p))
    labels = {
        name: (streams.uniform(f"has_{name}", p) < np.minimum(base * mult["prevalence"], MAX_PREVALENCE)).astype(
            np.float64
        )
        for name, base in BASE_PREVALENCE.items()
    }
    ctr_normal = np.clip(0.45 + 0.0008 * (age - 55.0) + 0.03 * streams.normal("ctr", p), 0.35, 0.495)
    ctr_large = 0.5 + mult["size"] * streams.between("ctr_excess", 0.01, 0.10, p)
    nodule_side = np.where(streams.uniform("nodule_side", p) < 0.5, -1.0, 1.0)
    effusion_side = streams.uniform("effusion_side", p)  # image side: < 0.4 left, < 0.8 right, else both
    thickness = habitus.thickness_factor(streams, demo)
    params = {
        "s": s,
        "sy": s * (1.0 + 0.03 * streams.normal("thorax_height", p)),
        "tissue": 0.40 * (1.0 + 0.05 * streams.normal("tissue", p)),
        "thickness": thickness,
        "breast": habitus.breast_level(streams, demo, thickness),
        "lung_dark": 0.24 * (1.0 + 0.05 * streams.normal("lung_dark", p)),
        "bone": np.clip(1.0 - 0.006 * (age - 20.0) + 0.05 * streams.normal("bone", p), 0.3, 1.3),
        "rib_phase": streams.uniform("rib_phase", p),
        "ctr": np.where(labels["cardiomegaly"] > 0, ctr_large, ctr_normal),
        "nod_c": labels["nodule"] * mult["contrast"] * streams.between("nodule_contrast", 0.12, 0.22, p),
        "nod_r": mult["size"] * streams.between("nodule_radius", 0.095, 0.155, p),
        "nod_side": nodule_side,
        "nod_u": streams.between("nodule_u", -0.55, 0.55, p),
        "nod_v": streams.between("nodule_v", -0.7, 0.3, p),
        "eff_c": labels["effusion"] * mult["contrast"] * streams.between("effusion_contrast", 0.08, 0.16, p),
        "eff_h": mult["size"] * streams.between("effusion_height", 0.08, 0.22, p),
        "eff_m": mult["size"] * streams.between("effusion_meniscus", 0.05, 0.12, p),
        "eff_left": (effusion_side < 0.4) | (effusion_side >= 0.8),
        "eff_right": effusion_side >= 0.4,
    }
    for name, lattice in (("tex_coarse", 7), ("tex_fine", 13)):
        lat = np.arange(lattice, dtype=np.int64)
        params[name] = streams.normal(name, p[:, None, None], lat[None, :, None], lat[None, None, :])
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, labels


def _render(p: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """Render a batch (``B x H x W``) from per-image parameter B-vectors."""
    x, y = shapes.posed_grid(size, shift_x=p["shift_x"], shift_y=p["shift_y"], angle=p["angle"], scale=p["scale"])
    px = shapes.pixel(size)
    s, sy = p["s"], p["sy"]
    s3, sy3 = s[:, None, None], sy[:, None, None]
    body = shapes.soft_superellipse(x, y, cx=0.0, cy=0.3 * sy, ax=0.97 * s, ay=1.1 * sy, power=4, edge=1.5 * px)
    neck = shapes.soft_ellipse(x, y, cx=0.0, cy=-0.95 * sy, ax=0.19 * s, ay=0.35 * sy, edge=1.5 * px)
    body = torch.maximum(body, neck)
    heart = shapes.soft_ellipse(x, y, cx=0.08 * s, cy=0.24 * sy, ax=_heart_ax(p), ay=0.8 * _heart_ax(p), edge=px)
    mediastinum = shapes.soft_ellipse(x, y, cx=0.0, cy=-0.45 * sy, ax=0.1 * s, ay=0.6 * sy, edge=1.5 * px)
    open_lung = (1.0 - heart).mul_(1.0 - mediastinum)
    # both lungs at once (mirror pair at |x|): superellipses narrowing towards the apex
    ax_ = x.abs()
    taper = (y - LUNG_CY * sy3).mul_(0.22 / LUNG_AY / sy3).add_(1.0)
    lung = shapes.soft_superellipse(
        (ax_ - LUNG_CX * s3).div_(taper), y, cx=0.0, cy=LUNG_CY * sy, ax=LUNG_AX * s, ay=LUNG_AY * sy,
        power=3, edge=1.2 * px,
    ).mul_(open_lung)
    xs, ys = shapes.posed_axes(size, shift_x=p["shift_x"], shift_y=p["shift_y"], scale=p["scale"])
    texture = shapes.smooth_field(p["tex_coarse"], xs, ys).mul_(0.035)
    texture.add_(shapes.smooth_field(p["tex_fine"], xs, ys), alpha=0.025)
    image = habitus.soft_tissue(
        body, x, y, tissue=p["tissue"], thickness=p["thickness"], breast=p["breast"], s=s, sy=sy
    ).add_(heart, alpha=0.04)
    image.addcmul_(lung, texture.sub_(p["lung_dark"][:, None, None]))  # lung air, with texture
    # bone: segmented spine, ribs inside the thorax, clavicles
    spine = shapes.soft_step(ax_ - 0.055 * s3, px, inplace=True)
    spine.mul_(torch.cos(y * (4.0 * math.pi / 0.12) / sy3).mul_(0.1).add_(0.9))
    thorax = shapes.soft_ellipse(x, y, cx=0.0, cy=-0.1 * sy, ax=0.76 * s, ay=0.62 * sy, edge=3.0 * px)
    ribs = shapes.curved_bands(x, y, y0=p["rib_phase"] * 0.12 * sy, curvature=0.55 / s, spacing=0.12 * sy, width=0.35)
    ribs.mul_(thorax).mul_(1.0 - spine)
    clavicles = shapes.soft_ellipse(ax_, y, cx=0.3 * s, cy=-0.72 * sy, ax=0.3 * s, ay=0.035 * sy,
                                    angle=torch.full_like(s, 0.3), edge=px)
    ribs.add_(clavicles, alpha=1.6)
    ribs.mul_(0.075).add_(spine.mul_(heart.mul_(-0.4).add_(1.0)), alpha=0.16)
    image.add_(ribs.mul_(p["bone"][:, None, None]))
    _add_nodules(image, p, x, y, px)
    _add_effusions(image, p, x, y, lung)
    image.mul_(p["gain"][:, None, None]).add_(p["offset"][:, None, None])
    return image.clamp_(0.0, 1.0)


def _heart_ax(p: dict[str, torch.Tensor]) -> torch.Tensor:
    """Heart semi-axis: half of ``ctr`` times the thoracic (outer lung) width."""
    return p["ctr"] * (LUNG_CX + LUNG_AX) * p["s"]


def _add_nodules(image: torch.Tensor, p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, px: float) -> None:
    rows = torch.nonzero(p["nod_c"] > 0).flatten()
    if rows.numel() == 0:
        return
    q = {k: p[k][rows] for k in ("s", "sy", "nod_side", "nod_u", "nod_v", "nod_r", "nod_c")}
    cx = q["nod_side"] * LUNG_CX * q["s"] + q["nod_u"] * LUNG_AX * q["s"]
    cy = (LUNG_CY + q["nod_v"] * LUNG_AY) * q["sy"]
    r = q["nod_r"]
    blob = shapes.soft_ellipse(x[rows], y[rows], cx=cx, cy=cy, ax=r, ay=r, edge=torch.clamp(0.2 * r, min=0.5 * px))
    image.index_add_(0, rows, blob.mul_(q["nod_c"][:, None, None]))


def _add_effusions(
    image: torch.Tensor, p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, lung: torch.Tensor
) -> None:
    for side, flag in ((-1.0, p["eff_left"]), (1.0, p["eff_right"])):
        rows = torch.nonzero((p["eff_c"] > 0) & (flag > 0)).flatten()
        if rows.numel() == 0:
            continue
        s, sy = p["s"][rows][:, None, None], p["sy"][rows][:, None, None]
        base = (LUNG_CY + LUNG_AY) * sy
        height = p["eff_h"][rows][:, None, None] * (2.0 * LUNG_AY) * sy
        lateral = x[rows].mul_(side)  # > 0 on this side
        one_side = (lateral > 0).to(image.dtype)
        lateral = lateral.sub_(LUNG_CX * s).div_(LUNG_AX * s).clamp_(-1.0, 1.0).add_(1.0).mul_(0.5)
        level = lateral.mul_(lateral).mul_(-p["eff_m"][rows][:, None, None]).add_(base - height)
        fluid = shapes.soft_step(level.sub_(y[rows]), 0.03, inplace=True)
        image.index_add_(0, rows, fluid.mul_(lung[rows]).mul_(one_side).mul_(p["eff_c"][rows][:, None, None]))
