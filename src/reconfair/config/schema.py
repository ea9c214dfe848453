"""Study configuration: one YAML file, validated at load, frozen, round-trips.

Unknown keys and bad values are errors whose message names the field (as a
dotted path such as ``datasets[0].degradations[0].levels[1]``), what was
received and what is allowed.

This module checks structure only (types, ranges, unknown keys, names that
condition names can hold, consistency between fields) and imports no stage
package.  The checks that ask a stage (is the operator registered, does the
data set have that attribute, does the learned reconstructor take that
setting) are :func:`reconfair.engine.validate.validate_study`;
:func:`reconfair.engine.validate.load_study` and
:func:`~reconfair.engine.validate.parse_study` run both.

Examples
--------
>>> config = StudyConfig.model_validate({"datasets": [{"name": "synthetic-chest"}]})
>>> config.datasets[0].degradations[0].operator
'radiograph-lowdose'
>>> StudyConfig.model_validate(config.model_dump()) == config
True
>>> parse_config({"datasets": [{"name": "synthetic-chest"}], "colour": "red"}, source="x.yaml")
Traceback (most recent call last):
...
reconfair.config.schema.ConfigError: x.yaml: invalid configuration
  - colour: unknown key 'colour'; allowed keys: attributes, datasets, device, evaluation, export, name, replicates, report, seed, threads
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from reconfair.config.base import Frozen as _Frozen
from reconfair.config.detection import DetectionTaskConfig
from reconfair.config.export import ExportConfig
from reconfair.config.sources import DEFAULT_DEGRADATIONS_BY_SOURCE, SYNTHETIC_ONLY_FIELDS, DataSource, absolute_path
from reconfair.config.mitigation import MitigationConfig
from reconfair.config.models import MODEL_SOURCES, SuppliedModelConfig
from reconfair.config.report import ReportConfig
from reconfair.vocabulary import check_name

__all__ = [
    "ConfigError",
    "StudyConfig",
    "DatasetConfig",
    "DegradationConfig",
    "TaskConfig",
    "DetectionTaskConfig",
    "TrainingConfig",
    "EvaluationConfig",
    "ReconstructorConfig",
    "GroupEffectConfig",
    "load_config",
    "parse_config",
    "read_config",
    "dump_config",
]

DEFAULT_DEGRADATIONS: dict[str, dict[str, Any]] = {
    "synthetic-chest": {"operator": "radiograph-lowdose", "levels": [1e5, 1e4, 3e3]},
    "synthetic-brain": {"operator": "mri-undersampling", "levels": [4, 8, 16]},
}


class ConfigError(ValueError):
    """A configuration that cannot be used; the message lists every problem."""




class GroupEffectConfig(_Frozen):
    """Multipliers planted for one attribute group (1 = no effect, < 1 = fewer/subtler)."""

    prevalence: float = Field(1.0, gt=0)
    contrast: float = Field(1.0, gt=0)
    size: float = Field(1.0, gt=0)


class DegradationConfig(_Frozen):
    """One degradation operator swept over severity levels."""

    operator: str = Field(min_length=1)
    """A registered operator (``radiograph-lowdose``, ``ct-lowdose``, ``mri-undersampling``) or a plug-in
    ``package.module:attribute`` naming a Degradation class or factory; resolved by
    :func:`reconfair.engine.validate.validate_study`."""
    levels: tuple[float, ...] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    """The operator's other keyword parameters (checked against it, per level, at validation)."""
    reconstructors: tuple[str, ...] | None = None
    """Names of the data set's reconstructors run at this degradation (default: all of them)."""

    @field_validator("operator")
    @classmethod
    def _fits_condition_names(cls, value: str) -> str:
        bad = [c for c in ("@", "/") if c in value] + (["whitespace"] if any(c.isspace() for c in value) else [])
        if bad:
            raise ValueError(f"operator {value!r} contains {', '.join(bad)}, which condition names reserve; "
                             "expected a registered name or 'package.module:attribute'")
        return value


BUILTIN_RECONSTRUCTORS = ("baseline", "unet", "pix2pix", "irsde")
LEARNED_RECONSTRUCTORS = ("unet", "pix2pix", "irsde")


class ReconstructorConfig(_Frozen):
    """A reconstructor: built in (trained per data set, degradation, level and seed) or a plug-in.

    A plain string is short for ``{name: ...}``; a string with a colon
    (``package.module:factory``) is short for ``{name: factory, factory: ...}``.
    ``checkpoint`` and ``folder`` may contain ``{dataset}``, ``{degradation}``
    and ``{level}``, filled in per condition (``level`` formatted with ``:g``); a
    relative one resolves against the config file's folder, like every path.
    """

    name: str = Field(min_length=1)
    """Label in every table and condition name (no ``@ / + :`` nor whitespace); a built-in name unless
    ``factory`` or ``folder`` is given."""
    preset: Literal["demo", "paper"] = "demo"
    settings: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the preset's hyper-parameters (learned reconstructors only)."""
    checkpoint: str | None = None
    """Trained weights (``stem`` of ``stem.safetensors`` + ``stem.json``) to load instead of training."""
    factory: str | None = None
    """``package.module:attribute`` returning a torch module or a callable image batch -> image batch."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for ``factory``."""
    folder: str | None = None
    """Precomputed reconstructions, one file per sample id (``.npy``, ``.png``, ``.nii.gz``, ``.nii``)."""

    _paths = field_validator("checkpoint", "folder")(absolute_path)  # against the config file's folder

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data.rsplit(":", 1)[-1], "factory": data} if ":" in data else {"name": data}
        return data

    @field_validator("name")
    @classmethod
    def _fits_condition_name(cls, value: str) -> str:
        try:
            return check_name(value, "name")
        except ValueError as error:  # pydantic adds the field's dotted path
            raise ValueError(str(error).removeprefix("name: ")) from None

    @property
    def kind(self) -> Literal["baseline", "learned", "factory", "folder"]:
        """How the reconstructor is obtained."""
        if self.factory is not None:
            return "factory"
        if self.folder is not None:
            return "folder"
        return "baseline" if self.name == "baseline" else "learned"

    @model_validator(mode="after")
    def _consistent(self) -> "ReconstructorConfig":
        if self.factory is not None and self.folder is not None:
            raise ValueError(f"reconstructor {self.name!r}: give either factory or folder, not both")
        plugin = self.factory is not None or self.folder is not None
        if not plugin and self.name not in BUILTIN_RECONSTRUCTORS:
            raise ValueError(
                f"unknown reconstructor {self.name!r}; expected one of {', '.join(BUILTIN_RECONSTRUCTORS)}, "
                "or a plug-in given as {name: ..., factory: 'package.module:attribute'} or {name: ..., folder: DIR}"
            )
        if plugin and self.name in BUILTIN_RECONSTRUCTORS:
            raise ValueError(f"plug-in name {self.name!r} is taken by a built-in reconstructor; choose another name")
        if self.params and self.factory is None:
            raise ValueError(f"reconstructor {self.name!r}: params are only for a factory plug-in")
        if self.kind != "learned" and (self.settings or self.checkpoint is not None):
            raise ValueError(
                f"reconstructor {self.name!r}: settings and checkpoint apply to {', '.join(LEARNED_RECONSTRUCTORS)} only"
            )
        return self


class TrainingConfig(_Frozen):
    """How a diagnostic model is built and trained on clean training images."""

    preset: Literal["cpu-small", "cpu-medium", "large"] = "cpu-small"
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    patience: int = Field(4, ge=1)


def _model_kind(value: Any) -> str:
    """``supplied`` when a task's model names a file, factory or network; else ``trained``."""
    if isinstance(value, dict):
        return "supplied" if any(key in value for key in MODEL_SOURCES) else "trained"
    return "supplied" if isinstance(value, SuppliedModelConfig) else "trained"


class TaskConfig(_Frozen):
    """A diagnostic task on a data set: multi-label classification or segmentation.

    ``model`` is either trained by reconfair on clean training images
    (:class:`TrainingConfig`: ``preset``, ``epochs``, ...) or supplied by the
    user and frozen (:class:`~reconfair.config.models.SuppliedModelConfig`:
    one of ``torchscript``, ``onnx``, ``factory`` or ``network``).
    Trained segmenters default to batches of 8 (small lesions need many
    updates); classifiers to batches of 32.
    """

    kind: Literal["classification", "segmentation"]
    model: Annotated[Annotated[TrainingConfig, Tag("trained")] | Annotated[SuppliedModelConfig, Tag("supplied")],
                     Discriminator(_model_kind)] = TrainingConfig()

    @property
    def supplied(self) -> bool:
        """Whether the model is the user's (frozen, never trained)."""
        return isinstance(self.model, SuppliedModelConfig)

    @model_validator(mode="before")
    @classmethod
    def _model_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        model = data.get("model")
        if isinstance(model, dict) and any(key in model for key in MODEL_SOURCES):
            trained = sorted(set(model) & set(TrainingConfig.model_fields))
            if trained:
                raise ValueError(
                    f"model: {', '.join(trained)} cannot go with a supplied model "
                    f"({', '.join(k for k in MODEL_SOURCES if k in model)}): a supplied model is frozen, never trained")
            return data
        if data.get("kind") == "segmentation" and (model is None or isinstance(model, dict)):
            model = dict(model or {})
            model.setdefault("batch_size", 8)
            data = {**data, "model": model}
        return data

    @model_validator(mode="after")
    def _targets_by_kind(self) -> "TaskConfig":
        if self.supplied:
            if self.kind == "classification" and self.model.targets is None:
                raise ValueError("model.targets: a supplied classifier needs targets, one label name per output "
                                 "column (null skips a column), e.g. targets: [nodule, effusion]")
            if self.kind == "segmentation" and self.model.targets is not None:
                raise ValueError("model.targets: a segmenter has no targets; name its output channel with channel: N")
        return self


def _task_form(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "detection" if kind == "detection" else "diagnostic"


AnyTask = Annotated[Annotated[TaskConfig, Tag("diagnostic")] | Annotated[DetectionTaskConfig, Tag("detection")],
                    Discriminator(_task_form)]
"""A diagnostic task (classification, segmentation: a model) or a detection task (model observers, no model)."""


class DatasetConfig(_Frozen):
    """A data set, its degradations, and the diagnostic tasks run on it.

    ``name`` is ``synthetic-chest`` or ``synthetic-brain`` (generated; no
    ``source``), or any other name with a ``source`` describing real data
    (``kind``: ``chexpert``, ``ucsf-pdgm`` or ``folder``; docs/datasets.md).
    ``n_patients``, ``images_per_patient`` and ``effects`` are for synthetic
    data only: real data sets must leave them at their defaults.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    source: DataSource | None = None
    n_patients: int = Field(400, ge=20)
    image_size: int = Field(64, ge=32, le=1024)
    images_per_patient: tuple[int, int] | None = None
    age_cut: float | None = None
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    effects: dict[str, dict[str, GroupEffectConfig]] = Field(default_factory=dict)
    degradations: tuple[DegradationConfig, ...] = ()
    reconstructors: tuple[ReconstructorConfig, ...] = (ReconstructorConfig(name="baseline"),)
    tasks: tuple[AnyTask, ...] = ()
    mitigations: tuple[MitigationConfig, ...] = ()
    """Bias mitigations of the learned reconstructors (reconfair.config.mitigation); unmitigated always runs."""

    @property
    def diagnostic_tasks(self) -> tuple[TaskConfig, ...]:
        """The tasks with a diagnostic model (classification, segmentation), in configured order."""
        return tuple(t for t in self.tasks if isinstance(t, TaskConfig))

    @property
    def detection_tasks(self) -> tuple[DetectionTaskConfig, ...]:
        """The detection tasks (model observers on inserted signals; no model, no labels)."""
        return tuple(t for t in self.tasks if isinstance(t, DetectionTaskConfig))

    @model_validator(mode="after")
    def _mitigations_apply(self) -> "DatasetConfig":
        trained = [r.name for r in self.reconstructors if r.kind == "learned" and r.checkpoint is None]
        levels = {float(level) for d in self.degradations for level in d.levels}
        for i, entry in enumerate(self.mitigations):
            if entry.kind == "none":
                continue
            where = f"mitigations[{i}] ({entry.kind})"
            if "classification" not in [t.kind for t in self.tasks]:
                raise ValueError(f"{where}: mitigation goes through the classifier; add a classification task")
            names = entry.reconstructors if entry.reconstructors is not None else tuple(trained)
            for name in names:
                if name not in trained:
                    raise ValueError(f"{where}: reconstructor {name!r} is not a learned reconstructor this run trains; "
                                     f"expected one of: {', '.join(trained) or 'none (add unet, pix2pix or irsde)'}")
            if not names:
                raise ValueError(f"{where}: no learned reconstructor to mitigate; add unet, pix2pix or irsde")
            for level in entry.levels or ():
                if float(level) not in levels:
                    raise ValueError(f"{where}: level {level:g} is not among the degradation levels {sorted(levels)}")
        methods = [m.method for m in self.mitigations]  # adversarial and adversarial-dp may sit side by side
        if len(set(methods)) != len(methods):
            raise ValueError("mitigations: each kind may appear once (give several lambdas in one entry; the adversarial "
                             f"kind once per criterion), got {methods}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _defaults_by_dataset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        source = data.get("source")
        if isinstance(source, dict):
            return cls._defaults_by_source(dict(data), source)
        if data.get("name") not in DEFAULT_DEGRADATIONS:
            return data
        data = dict(data)
        data.setdefault("degradations", [DEFAULT_DEGRADATIONS[data["name"]]])
        if "tasks" not in data:
            kinds = ["classification"] + (["segmentation"] if data["name"] == "synthetic-brain" else [])
            data["tasks"] = [{"kind": k} for k in kinds]
        return data

    @staticmethod
    def _defaults_by_source(data: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
        kind = source.get("kind")
        if "degradations" not in data:
            if kind == "folder":
                raise ValueError(
                    "degradations: a folder data set needs its degradations named, e.g. "
                    "[{operator: radiograph-lowdose, levels: [10000, 3000]}] or [{operator: mri-undersampling, levels: [4, 8]}]"
                )
            if kind in DEFAULT_DEGRADATIONS_BY_SOURCE:
                data["degradations"] = [DEFAULT_DEGRADATIONS_BY_SOURCE[kind]]
        if "tasks" not in data:
            labels = kind != "folder" or bool(source.get("labels"))
            masks = kind == "ucsf-pdgm" or (kind == "folder" and source.get("mask_column") is not None)
            data["tasks"] = [{"kind": k} for k, on in (("classification", labels), ("segmentation", masks)) if on]
        return data

    @field_validator("split_fractions")
    @classmethod
    def _fractions_sum_to_one(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if value[0] < 0 or any(f <= 0 for f in value[1:]) or abs(sum(value) - 1.0) > 1e-9:
            raise ValueError(f"expected three fractions (train, val, test) summing to 1, val and test positive "
                             f"(train may be 0 when nothing is trained), got {value}")
        return value

    @model_validator(mode="after")
    def _train_split_when_training(self) -> "DatasetConfig":
        if self.split_fractions[0] > 0:
            return self
        trained = [f"task {t.kind} (a trained model)" for t in self.diagnostic_tasks if not t.supplied]
        trained += [f"reconstructor {r.name}" for r in self.reconstructors if r.kind == "learned" and r.checkpoint is None]
        trained += [f"mitigation {m.kind}" for m in self.mitigations if m.kind != "none"]
        if trained:
            raise ValueError(f"split_fractions: a train fraction of 0 leaves nothing to train {', '.join(trained)} on; "
                             "give the train split a fraction, or supply the models (tasks[].model: torchscript, onnx, "
                             "factory or network; reconstructors with checkpoint)")
        return self

    @model_validator(mode="after")
    def _names_and_tasks_unique(self) -> "DatasetConfig":
        if self.source is not None:
            for field, default in SYNTHETIC_ONLY_FIELDS.items():
                if getattr(self, field) != default:
                    raise ValueError(f"{field}: applies to synthetic data only; remove it for the {self.source.kind} data set {self.name!r}")
        names = [r.name for r in self.reconstructors]
        if len(set(names)) != len(names):
            raise ValueError(f"reconstructors: each name may appear once, got {names}")
        kinds = [t.kind for t in self.tasks]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"tasks: each kind may appear once, got {kinds}")
        operators = [d.operator for d in self.degradations]
        for i, degradation in enumerate(self.degradations):
            unknown = [n for n in degradation.reconstructors or () if n not in names]
            if unknown:
                raise ValueError(f"degradations[{i}].reconstructors: {unknown} are not reconstructors of the data set; "
                                 f"expected some of {names}")
        for i, task in enumerate(self.tasks):
            unknown = [n for n in getattr(task, "reconstructors", None) or () if n not in names]
            if unknown:
                raise ValueError(f"tasks[{i}].reconstructors: {unknown} are not reconstructors of the data set; "
                                 f"expected some of {names}")
        for i, entry in enumerate(self.mitigations):
            unknown = [n for n in entry.degradations or () if n not in operators]
            if unknown:
                raise ValueError(f"mitigations[{i}].degradations: {unknown} are not degradations of the data set; "
                                 f"expected some of {operators}")
        if len(set(operators)) != len(operators):
            raise ValueError(f"degradations: each operator may appear once (its conditions are named by it), got "
                             f"{operators}; give all its levels in one entry, or use radiograph-aec for "
                             "radiograph-lowdose with automatic exposure control")
        return self  # no task at all: validate_study says so, unless the data set is unknown


class EvaluationConfig(_Frozen):
    """How the per-sample table is turned into metrics."""

    split: Literal["val", "test"] = "test"
    min_group_size: int = Field(10, ge=1)
    threshold: Literal["fixed-validation", "refit"] | float = "fixed-validation"
    patient_level: bool = False
    bootstrap: int | Literal["auto"] = "auto"
    """Paired patient-bootstrap resamples for SE, CI and p-values of every delta (0: skip); ``auto``:
    from 1000 up to what the multiple-testing families need, within ``bootstrap_budget_s``."""
    bootstrap_budget_s: float = Field(600.0, gt=0)
    """Wall-time budget in seconds of ``bootstrap: auto``."""
    adjust: Literal["holm", "bh"] = "holm"
    """Multiple-testing correction within each family of tests."""
    family: Literal["report", "metric", "target"] | tuple[str, ...] = "metric"
    """The families of the correction: ``metric`` (one per data set x task x attribute x metric), ``report``
    (every test together), ``target`` (also per target), or a list of table columns."""
    alpha: float = Field(0.05, gt=0, lt=1)
    """Significance level of the adjusted p-values and of the minimum detectable change."""
    power: float = Field(0.8, gt=0, lt=1)
    """Power of the minimum detectable change."""
    min_valid_fraction: float = Field(0.95, gt=0, le=1)
    """A CI or p-value needs the delta defined in at least this fraction of the resamples."""
    bootstrap_group_auroc: bool = False
    """Also bootstrap the AUROC gap and worst-group AUROC (one weighted AUROC per group and resample: slower)."""

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap_count(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError(f"expected a number of resamples >= 0 or 'auto', got {value}")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold_in_unit_interval(cls, value: str | float) -> str | float:
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise ValueError(f"a numeric threshold must lie in [0, 1], got {value}")
        return value


class StudyConfig(_Frozen):
    """The whole study: data sets x degradations x levels x reconstructors x tasks."""

    name: str = "study"
    seed: int = Field(0, ge=0)
    replicates: int = Field(1, ge=1)
    """Train every learned model (diagnostic and reconstruction) this many times with derived seeds;
    replicate 0 uses ``seed`` itself, so raising K retrains only the new replicates."""
    device: str = "auto"
    threads: int = Field(2, ge=1)
    """Torch threads per stage: each stage pins ``torch.set_num_threads(threads)`` so results do not depend
    on the executor or the machine's CPU count."""
    attributes: tuple[str, ...] = ("sex", "age_group", "race")
    report: ReportConfig = ReportConfig()  # what the report shows of the data (reconfair.config.report)
    datasets: tuple[DatasetConfig, ...]
    evaluation: EvaluationConfig = EvaluationConfig()
    export: ExportConfig | None = None

    @model_validator(mode="after")
    def _mitigation_attributes_studied(self) -> "StudyConfig":
        for dataset in self.datasets:
            for i, entry in enumerate(dataset.mitigations):
                for attribute in entry.attributes or ():
                    if attribute not in self.attributes or attribute == "age":
                        raise ValueError(
                            f"datasets.{dataset.name}.mitigations[{i}].attributes: {attribute!r} is not a categorical "
                            f"attribute of the study; expected some of: {', '.join(a for a in self.attributes if a != 'age')}"
                        )
        return self

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda") or value.startswith("cuda:"):
            return value
        raise ValueError(f"expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}")

    @model_validator(mode="after")
    def _datasets_and_attributes_given(self) -> "StudyConfig":
        if not self.datasets:
            raise ValueError("datasets: name at least one data set, e.g. [{name: synthetic-chest}]")
        if not self.attributes:
            raise ValueError("attributes: name at least one sensitive attribute, e.g. [sex]")
        names = [d.name for d in self.datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"datasets: each data set may appear once, got {names}")
        return self


def parse_config(data: Any, *, source: str = "<config>", base_dir: str | Path | None = None) -> StudyConfig:
    """Validate a mapping's structure as a :class:`StudyConfig`, raising :class:`ConfigError`.

    A user's config goes through :func:`reconfair.engine.validate.parse_study`,
    which also runs the checks that ask the stages.

    Relative data paths (a source's ``root``, a folder's ``csv``) resolve
    against ``base_dir`` (:func:`load_config`: the file's folder), else the
    working directory.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    context = {"base_dir": str(Path(base_dir).resolve())} if base_dir is not None else None
    try:
        return StudyConfig.model_validate(data, context=context)
    except ValidationError as error:
        lines = [_describe_error(item) for item in error.errors()]
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(lines)) from None


def read_config(path: str | Path) -> Any:
    """The YAML data of a configuration file; :class:`ConfigError` when it is missing or not YAML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def load_config(path: str | Path) -> StudyConfig:
    """Read a YAML configuration file and validate its structure (:func:`reconfair.engine.validate.load_study`
    also runs the checks that ask the stages)."""
    path = Path(path)
    return parse_config(read_config(path), source=str(path), base_dir=path.parent)


def dump_config(config: StudyConfig) -> str:
    """The fully resolved configuration as YAML (round-trips through :func:`parse_config`)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _describe_error(item: dict[str, Any]) -> str:
    location = _format_location(item["loc"])
    if item["type"] == "extra_forbidden":
        key = item["loc"][-1]
        allowed = _allowed_keys(item["loc"][:-1])
        hint = ("; or, for a model of your own, one of torchscript, onnx, factory, network (docs/models.md)"
                if "trained" in item["loc"] else "")
        return f"  - {location}: unknown key {key!r}; allowed keys: {', '.join(allowed)}{hint}"
    message = item["msg"].removeprefix("Value error, ")
    received = "" if item["type"].startswith("value_error") else f" (received {item.get('input')!r})"
    return f"  - {location or '(top level)'}: {message}{received}"


_UNION_TAGS = {"trained": TrainingConfig, "supplied": SuppliedModelConfig, "diagnostic": TaskConfig,
               "detection": DetectionTaskConfig}
"""Tags of the task model's and the task's unions: pydantic puts them in error locations; messages leave them out."""


def _format_location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not str(part).startswith(("function-", "tagged-union")) and part not in _UNION_TAGS:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = StudyConfig
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        if part in _UNION_TAGS:
            model = _UNION_TAGS[part]
            continue
        field = model.model_fields.get(str(part))
        if field is not None:  # otherwise ``part`` is a key of a mapping-valued field
            model = _model_of(field.annotation)
    return sorted(model.model_fields) if model is not None else []


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
