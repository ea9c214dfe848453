"""Study configuration: the schema (:mod:`.schema`), data sources (:mod:`.sources`), mitigation settings
(:mod:`.mitigation`) and the export block (:mod:`.export`); validated at load, frozen, round-trips.
Imports no stage package."""

from reconfair.config.export import EXPORT_FORMATS, ExportConfig
from reconfair.config.mitigation import DEFAULT_LAMBDAS, MitigationConfig, MitigationSpec
from reconfair.config.schema import *  # noqa: F403  (the schema's public names)
from reconfair.config.schema import __all__ as _schema_all

__all__ = [*_schema_all, "DEFAULT_LAMBDAS", "EXPORT_FORMATS", "ExportConfig", "MitigationConfig", "MitigationSpec"]
