"""The demo study: both synthetic modalities, four reconstructors, planted sex effects, mitigations.

``quick`` shrinks it to a smoke test (seconds); the full demo is sized to
finish in a few minutes on a 2-core CPU.

>>> demo_config(quick=True).datasets[0].name
'synthetic-chest'
"""

from __future__ import annotations

from reconfair.config import StudyConfig, parse_config

# Sex effects: findings in female patients are smaller on the radiographs, and
# subtler (lower contrast, smaller) on the MRI, which is what denoising and
# undersampling erase first.
CHEST_EFFECTS = {"sex": {"F": {"size": 0.5}}}
BRAIN_EFFECTS = {"sex": {"F": {"contrast": 0.6, "size": 0.8}}}
# Beside the study's photon counts, 30 photons: there the U-Net erases the small
# (female) findings first and raises EODD by sex, and the mitigations are run,
# each balancing sex, the attribute with the planted gap, beside the control
# (the same fine-tuning with no mitigation).
CHEST_LEVELS = [1e5, 1e4, 3e3]
SEVERE_LEVEL = 30
DEMO_MITIGATIONS = [
    {"kind": "reweighting", "reconstructors": ["unet"], "levels": [SEVERE_LEVEL], "attributes": ["sex"]},
    {"kind": "eodd", "reconstructors": ["unet"], "levels": [SEVERE_LEVEL], "attributes": ["sex"]},
    {"kind": "adversarial", "reconstructors": ["unet"], "levels": [SEVERE_LEVEL], "attributes": ["sex"]},
    {"kind": "finetune", "reconstructors": ["unet"], "levels": [SEVERE_LEVEL], "attributes": ["sex"]},
]
# Epochs of the learned reconstructors (demo presets), sized for a first run
# of under 10 minutes on a 2-core CPU; later runs reuse the trained models.
RECON_EPOCHS = 3


def demo_config(*, quick: bool = False) -> StudyConfig:
    """The configuration ``reconfair demo`` runs (also in ``configs/demo.yaml``)."""
    chest_patients, brain_patients, epochs = (120, 80, 3) if quick else (1000, 300, 15)
    if quick:
        reconstructors: list = ["baseline", {"name": "unet", "settings": {"epochs": 1}}]
    else:
        trained = {"epochs": RECON_EPOCHS}
        reconstructors = ["baseline"] + [{"name": m, "settings": trained} for m in ("unet", "pix2pix", "irsde")]
    return parse_config(
        {
            "name": "demo-quick" if quick else "demo",
            "seed": 0,
            "device": "auto",
            "attributes": ["sex", "age_group", "race"],
            "datasets": [
                {
                    "name": "synthetic-chest",
                    "n_patients": chest_patients,
                    "image_size": 64,
                    "effects": CHEST_EFFECTS,
                    "degradations": [{"operator": "radiograph-lowdose",
                                      "levels": CHEST_LEVELS + ([] if quick else [SEVERE_LEVEL])}],
                    "reconstructors": reconstructors,
                    "mitigations": [] if quick else DEMO_MITIGATIONS,
                    "tasks": [{"kind": "classification", "model": {"epochs": epochs}}],
                },
                {
                    "name": "synthetic-brain",
                    "n_patients": brain_patients,
                    "image_size": 64,
                    "effects": BRAIN_EFFECTS,
                    "degradations": [{"operator": "mri-undersampling", "levels": [4, 8, 16]}],
                    "reconstructors": reconstructors,
                    "tasks": [
                        {"kind": "classification", "model": {"epochs": epochs}},
                        {"kind": "segmentation", "model": {"epochs": epochs}},
                    ],
                },
            ],
            "evaluation": {"split": "test", "min_group_size": 10, "bootstrap": "auto"},
        },
        source="demo",
    )
