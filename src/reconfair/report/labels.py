"""Words for conditions, levels, reconstructors and numbers, shared by figures, tables and text.

>>> condition_label("radiograph-lowdose@3000/unet")
'U-Net at 3,000 photons'
>>> condition_label("mri-undersampling@8/zero-filled+eodd:0.316")
'zero-filled at 8× acceleration, with equalized-odds loss (λ = 0.316)'
>>> condition_label("original"), condition_label("radiograph-lowdose@1e+06/unet+finetune")
('original images', 'U-Net at 1,000,000 photons, with control fine-tuning (no mitigation)')
>>> signed(-0.0042), ci(-0.0104, 0.0021), p_text(0.0123)
('−0.004', '[−0.010, 0.002]', 'p_adj = 0.012')
"""

from __future__ import annotations

import math

from reconfair.vocabulary import CONTROL, NONE, ORIGINAL, parse_condition, parse_mitigation

RECON_NAMES = {
    "unet": "U-Net",
    "pix2pix": "Pix2Pix",
    "irsde": "IR-SDE",
    "identity": "no reconstruction (identity)",
    "zero-filled": "zero-filled",
    "fbp": "FBP",
}
MITIGATION_NAMES = {
    CONTROL: "control fine-tuning (no mitigation)",
    "reweighting": "reweighting",
    "eodd": "equalized-odds loss",
    "adversarial": "adversarial debiasing",
    "adversarial-dp": "demographic-parity adversarial debiasing",
}
LEVEL_AXES = {
    "radiograph-lowdose": ("photons per pixel N0 (lower = more noise)", True),
    "radiograph-aec": ("reference photons per pixel N0, exposure controlled (lower = more noise)", True),
    "ct-lowdose": ("photons per detector bin N0 (lower = more noise)", True),
    "mri-undersampling": ("acceleration (higher = fewer samples)", False),
}
"""Axis label and whether the level is a photon count (log axis, fewer = more severe)."""
LEVEL_SUFFIX = {"radiograph-aec": " (AEC)"}
"""What a level's words add for operators that share another's axis (``3,000 photons (AEC)``)."""
TASK_METRIC = {"classification": "auroc", "segmentation": "dice"}
FAIRNESS_METRIC = {"classification": "eodd", "segmentation": "delta_dice"}
METRIC_NAMES = {
    "auroc": "AUROC", "dice": "Dice", "psnr": "PSNR", "ssim": "SSIM", "eodd": "EODD", "eodd_max": "EODD_max",
    "eop": "EOP", "dp": "DP", "delta_dice": "Dice gap", "ser": "SER",
}
MINUS = "\u2212"


def recon_order(conditions: list[str]) -> list[str]:
    """Reconstructor labels in the order of ``conditions`` (one colour each, in every figure).

    >>> recon_order(["original", "mri-undersampling@4/zero-filled", "mri-undersampling@4/unet+reweighting"])
    ['zero-filled', 'unet']
    """
    out: list[str] = []
    for name in conditions:
        if name != ORIGINAL:
            try:
                recon = parse_condition(name).recon
            except ValueError:
                continue
            if recon not in out:
                out.append(recon)
    return out


def level_label(degradation: str, level: float) -> str:
    """``"3,000 photons"`` or ``"8× acceleration"``.

    >>> level_label("mri-undersampling", 4.0), level_label("ct-lowdose", 1e5), level_label("radiograph-aec", 30)
    ('4× acceleration', '100,000 photons', '30 photons (AEC)')
    """
    if degradation not in LEVEL_AXES:
        return f"level {level:g}"
    photons = LEVEL_AXES[degradation][1]
    text = f"{level:,.0f} photons" if photons else f"{level:g}× acceleration"
    return text + LEVEL_SUFFIX.get(degradation, "")


def mitigation_words(mitigation: str) -> str:
    """``"eodd:0.316"`` -> ``"equalized-odds loss (λ = 0.316)"``; a label outside the vocabulary is kept as written.

    >>> mitigation_words("eodd:0.316"), mitigation_words("reweighting"), mitigation_words("custom")
    ('equalized-odds loss (λ = 0.316)', 'reweighting', 'custom')
    """
    try:
        kind, weight = parse_mitigation(mitigation)
    except ValueError:
        return mitigation
    name = MITIGATION_NAMES.get(kind, kind)
    return name if math.isnan(weight) else f"{name} (λ = {weight:g})"


def condition_label(name: str) -> str:
    """Words for a condition name, e.g. ``"U-Net at 3,000 photons"``."""
    if name == ORIGINAL:
        return "original images"
    try:
        parsed = parse_condition(name)
    except ValueError:
        return name
    text = f"{RECON_NAMES.get(parsed.recon, parsed.recon)} at {level_label(parsed.operator, parsed.level)}"
    return text if parsed.mitigation == NONE else f"{text}, with {mitigation_words(parsed.mitigation)}"


def severity_order(degradation: str, levels: list[float]) -> list[float]:
    """Levels from mildest to most severe (photon counts descending, accelerations ascending).

    >>> severity_order("radiograph-lowdose", [3e3, 1e5, 1e4])
    [100000.0, 10000.0, 3000.0]
    """
    photons = LEVEL_AXES.get(degradation, ("", False))[1]
    return sorted(levels, reverse=photons)


def number(value: float, digits: int = 3) -> str:
    """A value with a typographic minus, ``n/a`` when not finite."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", MINUS)


def signed(value: float, digits: int = 3) -> str:
    """A change with its sign (``+0.031``, ``−0.004``)."""
    text = number(value, digits)
    return text if text == "n/a" or text.startswith(MINUS) or float(text) == 0 else "+" + text


def ci(low: float, high: float, digits: int = 3) -> str:
    """``[low, high]``, or an empty string when the interval is undefined."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"[{number(low, digits)}, {number(high, digits)}]"


def p_text(p_adjusted: float, *, p_value: float = math.nan, p_floor: float = math.nan) -> str:
    """The adjusted p in words; at the bootstrap's resolution limit, a bound instead of a number.

    ``p_floor`` is the smallest p the test could give with its resamples.  When
    the raw ``p_value`` is at that floor the test only says *p is at most
    this small*: the raw p is shown as ``p < floor`` and the adjusted p, which
    was computed from it, as an upper bound (``p_adj ≤ ...``, rounded up), or
    as ``p_adj < floor`` when it is at the floor too.  Without a floor (older
    runs): ``p_adj = 0.012`` or ``p_adj < 0.001``.  Empty when undefined.

    >>> p_text(0.0123), p_text(0.0004), p_text(float("nan"))
    ('p_adj = 0.012', 'p_adj < 0.001', '')
    >>> floor = 2 / 1001
    >>> p_text(0.0359, p_value=floor, p_floor=floor)
    'p < 0.002, p_adj ≤ 0.036'
    >>> p_text(floor, p_value=floor, p_floor=floor)
    'p_adj < 0.002'
    >>> p_text(0.30, p_value=0.01, p_floor=floor)
    'p_adj = 0.300'
    """
    if not math.isfinite(p_adjusted):
        return ""
    if math.isfinite(p_floor) and p_adjusted <= p_floor:
        return f"p_adj < {bound(p_floor)}"
    if math.isfinite(p_floor) and math.isfinite(p_value) and p_value <= p_floor:
        return f"p < {bound(p_floor)}, p_adj ≤ {_ceil(p_adjusted, 3):.3f}"
    return "p_adj < 0.001" if p_adjusted < 0.001 else f"p_adj = {p_adjusted:.3f}"


def raw_p_text(p_value: float, *, p_floor: float = math.nan) -> str:
    """The raw p: ``p = 0.012``, ``p < 0.002`` at the floor, empty when undefined.

    >>> raw_p_text(0.0123), raw_p_text(1 / 1001, p_floor=1 / 1001), raw_p_text(float("nan"))
    ('p = 0.012', 'p < 0.001', '')
    """
    if not math.isfinite(p_value):
        return ""
    if math.isfinite(p_floor) and p_value <= p_floor:
        return f"p < {bound(p_floor)}"
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def bound(value: float) -> str:
    """``value`` rounded *up* to two significant digits, so ``p < bound(floor)`` stays true.

    >>> bound(2 / 1001), bound(2 / 301), bound(1 / 5001)
    ('0.002', '0.0067', '0.0002')
    """
    if not math.isfinite(value) or value <= 0:
        return number(value)
    digits = 1 - math.floor(math.log10(value))
    return f"{_ceil(value, digits):.{max(digits, 0)}f}".rstrip("0").rstrip(".")


def _ceil(value: float, decimals: int) -> float:
    scale = 10.0 ** decimals
    return math.ceil(round(value * scale, 9)) / scale
