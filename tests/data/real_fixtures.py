"""Tiny real-data fixtures in the exact published layouts (CheXpert, UCSF-PDGM, a generic folder).

Every value is a simple function of the patient index ``k`` so tests can
recompute the expected table by hand.
"""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
import pandas as pd
from PIL import Image

FINDINGS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)
RACES = ("White", "Black or African American", "Asian, non-Hispanic", "White, Hispanic", "Other, Hispanic")
ETHNICITIES = ("Non-Hispanic/Non-Latino", "Non-Hispanic/Non-Latino", "Non-Hispanic/Non-Latino", "Hispanic/Latino",
               "Hispanic/Latino")
CARDIO = ("1.0", "0.0", "-1.0", "")  # Cardiomegaly cell of patient k's first study: CARDIO[k % 4]


def grey(k: int) -> int:
    """The uniform grey level of patient ``k``'s images (8-bit)."""
    return 40 + 5 * k


def make_chexpert(base: Path, n_patients: int = 36, demographics: str = "xlsx") -> Path:
    """``base/CheXpert-v1.0`` with ``train.csv``, JPEGs, and ``CHEXPERT DEMO.<demographics>``.

    Patient ``k`` (``patient%05d`` of ``k + 1``): sex Female for even k, age
    ``30 + k`` in study 1 and ``31 + k`` in study 2 (odd k have 2 studies);
    each study has a frontal and a lateral view; Cardiomegaly = CARDIO[k % 4]
    in study 1 and "1.0" in study 2; Edema = "1.0" if k % 3 == 0 else "0.0".
    """
    root = base / "CheXpert-v1.0"
    rows, demo = [], []
    for k in range(n_patients):
        patient = f"patient{k + 1:05d}"
        for study in range(1, 2 + k % 2):
            for view in ("frontal", "lateral"):
                rel = f"CheXpert-v1.0/train/{patient}/study{study}/view1_{view}.jpg"
                path = base / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.full((40, 36), grey(k), dtype=np.uint8)).save(path, quality=95)
                row = {"Path": rel, "Sex": "Female" if k % 2 == 0 else "Male", "Age": str(30 + k + study - 1),
                       "Frontal/Lateral": view.capitalize(), "AP/PA": "AP" if view == "frontal" else ""}
                row.update({f: "" for f in FINDINGS})
                row["Cardiomegaly"] = CARDIO[k % 4] if study == 1 else "1.0"
                row["Edema"] = "1.0" if k % 3 == 0 else "0.0"
                rows.append(row)
        demo.append({"PATIENT": patient, "GENDER": "Female" if k % 2 == 0 else "Male", "AGE_AT_CXR": 30 + k,
                     "PRIMARY_RACE": RACES[k % 5], "ETHNICITY": ETHNICITIES[k % 5]})
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    frame = pd.DataFrame(demo)
    if demographics == "xlsx":
        frame.to_excel(root / "CHEXPERT DEMO.xlsx", index=False)
    else:
        frame.to_csv(root / "CHEXPERT DEMO.csv", index=False)
    return root


def tumour_slice(k: int) -> int:
    """The axial index with the largest tumour area in case ``k``."""
    return 2 + k % 4


DIAGNOSES = ("Glioblastoma, IDH-wildtype", "Astrocytoma, IDH-mutant", "Oligodendroglioma, IDH-mutant, 1p/19q-codeleted")
GRADES = ("4", "2", "3")


def make_ucsf(base: Path, n_cases: int = 32, shape: tuple[int, int, int] = (32, 32, 8)) -> Path:
    """``base/UCSF-PDGM`` with case folders ``UCSF-PDGM-%04d_nifti`` (number ``k + 2``) and the clinical CSV.

    Case ``k``: FLAIR = 100 * (1 + x / 31) inside a 24 x 24 head (4:28), 0 outside;
    segmentation: a 6 x 6 square of label 2 on slice ``tumour_slice(k)`` with a
    2 x 2 label-4 core, and a 2 x 2 label-1 square on the slice above;
    diagnosis ``DIAGNOSES[k % 3]``, grade ``GRADES[k % 3]``; sex F for even k;
    age ``40 + k``.  Clinical IDs use three digits (``UCSF-PDGM-002``), as published.
    """
    root = base / "UCSF-PDGM"
    rows = []
    x = np.arange(shape[0], dtype=np.float32)[:, None, None]
    for k in range(n_cases):
        number = k + 2
        case = f"UCSF-PDGM-{number:04d}"
        folder = root / f"{case}_nifti"
        folder.mkdir(parents=True)
        flair = np.zeros(shape, dtype=np.float32)
        flair[4:28, 4:28, :] = (100.0 * (1.0 + x / 31.0) * np.ones(shape, dtype=np.float32))[4:28, 4:28, :]
        seg = np.zeros(shape, dtype=np.uint8)
        z = tumour_slice(k)
        seg[8:14, 9:15, z] = 2
        seg[10:12, 11:13, z] = 4
        seg[10:12, 11:13, z + 1] = 1
        for name, data in (("FLAIR", flair), ("T2", 0.5 * flair), ("tumor_segmentation", seg)):
            nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), folder / f"{case}_{name}.nii.gz")
        rows.append({"ID": f"UCSF-PDGM-{number:03d}", "Sex": "F" if k % 2 == 0 else "M", "Age at MRI": 40 + k,
                     "WHO CNS Grade": GRADES[k % 3], "Final pathologic diagnosis (WHO 2021)": DIAGNOSES[k % 3],
                     "MGMT status": "negative"})
    pd.DataFrame(rows).to_csv(root / "UCSF-PDGM-metadata_v2.csv", index=False)
    return root


def write_dicom(path: Path, pixels: np.ndarray) -> None:
    """A minimal MONOCHROME2 16-bit DICOM file (pydicom)."""
    from pydicom.dataset import FileMetaDataset, Dataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def ramp(k: int) -> np.ndarray:
    """Patient ``k``'s 32 x 32 image before scaling: a horizontal ramp 0..31 plus 10 k."""
    return np.tile(np.arange(32, dtype=np.float64), (32, 1)) + 10 * k


def make_folder(base: Path, n_patients: int = 36) -> Path:
    """``base/scans`` holding ``index.csv`` and images in three formats, with PNG masks.

    Patient ``k`` (id ``P%02d``): image format png (k % 3 == 0, 8-bit ``ramp``
    values), dicom (1: 16-bit ``ramp``), nifti (2: float ``ramp``); mask: a
    square 8:16 x 8:16 if k is even, else empty; label ``has_lesion`` = k even;
    Gender "female"/"male" alternating, Age ``20 + 2 k``, Site "A"/"B" by k % 2 == 0 / else.
    """
    root = base / "scans"
    (root / "img").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for k in range(n_patients):
        kind = ("png", "dcm", "nii.gz")[k % 3]
        image = f"img/P{k:02d}.{kind}"
        if kind == "png":
            Image.fromarray(ramp(k).astype(np.uint8)).save(root / image)
        elif kind == "dcm":
            write_dicom(root / image, ramp(k))
        else:
            nibabel.save(nibabel.Nifti1Image(ramp(k).astype(np.float32), np.eye(4)), root / image)
        mask = np.zeros((32, 32), dtype=np.uint8)
        if k % 2 == 0:
            mask[8:16, 8:16] = 255
        Image.fromarray(mask).save(root / f"masks/P{k:02d}.png")
        rows.append({"file": image, "subject": f"P{k:02d}", "Gender": "female" if k % 2 == 0 else "male",
                     "Age": 20 + 2 * k, "Site": "A" if k % 2 == 0 else "B", "Lesion": int(k % 2 == 0),
                     "mask": f"masks/P{k:02d}.png"})
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    return root
