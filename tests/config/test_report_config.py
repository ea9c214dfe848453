"""The ``report:`` block: defaults by data, explicit choices, validation naming the field, round trip."""

import hashlib

import pytest

from reconfair.config import ConfigError, StudyConfig, dump_config, parse_config
from reconfair.config.report import HASH_LENGTH, ReportConfig, resolve_report, shown_id

SYNTHETIC = {"datasets": [{"name": "synthetic-chest"}]}
REAL = {"datasets": [{"name": "scans", "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
                      "source": {"kind": "folder", "csv": "/data/index.csv", "image_column": "file",
                                 "patient_column": "subject", "labels": ["lesion"]}}]}


def _effective(data: dict) -> ReportConfig:
    config = parse_config(data)
    return resolve_report(config.report, real_data=any(d.source is not None for d in config.datasets))


@pytest.mark.parametrize(("data", "examples", "ids"), [
    (SYNTHETIC, True, "keep"),                                               # current behaviour
    (REAL, False, "hash"),                                                   # real data: nothing to identify
    ({**SYNTHETIC, "datasets": SYNTHETIC["datasets"] + REAL["datasets"]}, False, "hash"),  # any real set
    ({**REAL, "report": {"examples": True}}, True, "hash"),                  # one choice, the other by data
    ({**REAL, "report": {"examples": True, "ids": "keep"}}, True, "keep"),
    ({**SYNTHETIC, "report": {"examples": False, "ids": "hash"}}, False, "hash"),
])
def test_defaults_follow_the_data_unless_chosen(data, examples, ids):
    assert _effective(data) == ReportConfig(examples=examples, ids=ids)


@pytest.mark.parametrize(("report", "message"), [
    ({"ids": "md5"}, "report.ids: Input should be 'keep' or 'hash'"),
    ({"examples": "sometimes"}, "report.examples: Input should be a valid boolean"),
    ({"pictures": True}, "report.pictures: unknown key 'pictures'; allowed keys: examples, ids"),
])
def test_bad_values_name_the_field(report, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config({**SYNTHETIC, "report": report})


def test_the_block_round_trips_and_is_frozen():
    config = parse_config({**REAL, "report": {"ids": "hash"}})
    assert parse_config(StudyConfig.model_validate(config.model_dump()).model_dump()) == config
    assert "report:\n  examples: null\n  ids: hash\n" in dump_config(config)
    with pytest.raises(Exception, match="frozen"):
        config.report.ids = "keep"


def test_a_run_folders_mapping_resolves_like_the_study():
    assert resolve_report(None, real_data=True) == resolve_report({}, real_data=True) == ReportConfig(
        examples=False, ids="hash")
    assert resolve_report({"examples": None, "ids": None}, real_data=False) == ReportConfig(examples=True, ids="keep")


def test_hashed_ids_are_the_documented_sha256_prefix():
    sample_id = "train-patient00001-study1-view1_frontal"
    assert shown_id(sample_id, ids="hash") == hashlib.sha256(sample_id.encode()).hexdigest()[:HASH_LENGTH]
    assert len(shown_id(sample_id, ids="hash")) == 12 and shown_id(sample_id, ids="keep") == sample_id
    with pytest.raises(ValueError, match="ids: expected 'keep' or 'hash'"):
        shown_id(sample_id, ids="salted")
