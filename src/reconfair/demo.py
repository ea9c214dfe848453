"""The demo study: both synthetic modalities, four reconstructors, a planted sex effect.

``quick`` shrinks it to a smoke test (seconds); the full demo is sized to
finish in a few minutes on a 2-core CPU.

>>> demo_config(quick=True).datasets[0].name
'synthetic-chest'
"""

from __future__ import annotations

from reconfair.config import StudyConfig, parse_config

# A moderate sex effect: findings in female patients are subtler (lower
# contrast, smaller), which is what denoising and undersampling erase first.
DEMO_EFFECTS = {"sex": {"F": {"contrast": 0.6, "size": 0.8}}}
# Epochs of the learned reconstructors (demo presets), sized for a first run
# of under 10 minutes on a 2-core CPU; later runs reuse the trained models.
RECON_EPOCHS = 3


def demo_config(*, quick: bool = False) -> StudyConfig:
    """The configuration ``reconfair demo`` runs (also in ``configs/demo.yaml``)."""
    chest_patients, brain_patients, epochs = (120, 80, 3) if quick else (500, 300, 15)
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
                    "effects": DEMO_EFFECTS,
                    "degradations": [{"operator": "radiograph-lowdose", "levels": [1e5, 1e4, 3e3]}],
                    "reconstructors": reconstructors,
                    "tasks": [{"kind": "classification", "model": {"epochs": epochs}}],
                },
                {
                    "name": "synthetic-brain",
                    "n_patients": brain_patients,
                    "image_size": 64,
                    "effects": DEMO_EFFECTS,
                    "degradations": [{"operator": "mri-undersampling", "levels": [4, 8, 16]}],
                    "reconstructors": reconstructors,
                    "tasks": [
                        {"kind": "classification", "model": {"epochs": epochs}},
                        {"kind": "segmentation", "model": {"epochs": epochs}},
                    ],
                },
            ],
            "evaluation": {"split": "test", "min_group_size": 10, "bootstrap": 1000},
        },
        source="demo",
    )
