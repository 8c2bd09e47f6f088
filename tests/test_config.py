"""Settings refused at start-up with a message, not at the first call or message that needs them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from clinicline.cluster import Cluster, passthrough_args
from clinicline.config import load_config
from clinicline.errors import ConfigError
from tests.integrations.tls_certs import Authority


@pytest.mark.parametrize(
    "setting",
    [
        {"hl7_peer": "engine.local"},  # no port
        {"hl7_listen": "0.0.0.0:99999"},
        {"hl7_allow": "10.0.0.0/8,not-an-address"},
    ],
    ids=["peer-without-port", "listen-port-out-of-range", "allow-with-a-name"],
)
def test_a_bad_hl7_setting_is_refused_when_loaded(setting: dict[str, str]) -> None:
    env = {f"CLINICLINE_{k.upper()}": v for k, v in setting.items()}
    with pytest.raises(ConfigError):
        load_config(env=env)


def test_hl7_over_tls_needs_all_three_files_and_files_that_load(tmp_path: Path) -> None:
    folder = Authority("clinic CA").issue(tmp_path / "ours", "clinicline")
    files = {
        "CLINICLINE_HL7_TLS_CA": str(folder / "ca.pem"),
        "CLINICLINE_HL7_TLS_CERT": str(folder / "cert.pem"),
        "CLINICLINE_HL7_TLS_KEY": str(folder / "key.pem"),
    }
    tls = load_config(env=files).hl7_tls()
    assert tls is not None and tls.cert == folder / "cert.pem"
    assert load_config(env={}).hl7_tls() is None  # plain MLLP
    without_key = {k: v for k, v in files.items() if not k.endswith("KEY")}
    with pytest.raises(ConfigError, match="all three"):
        load_config(env=without_key)
    with pytest.raises(ConfigError, match="hl7_tls"):  # the key is not the certificate's
        load_config(env={**files, "CLINICLINE_HL7_TLS_KEY": str(folder / "ca.pem")})
    with pytest.raises(ConfigError, match="hl7_tls"):
        load_config(env={**files, "CLINICLINE_HL7_TLS_CA": str(tmp_path / "missing.pem")})


@pytest.mark.parametrize("attempts", ["0", "21", "-3"])
def test_webhook_attempts_out_of_range_are_refused(attempts: str) -> None:
    with pytest.raises(ConfigError, match="webhook_attempts"):
        load_config(env={"CLINICLINE_WEBHOOK_ATTEMPTS": attempts})


def test_webhook_attempts_come_from_the_environment() -> None:
    assert load_config(env={}).webhook_attempts == 4
    assert load_config(env={"CLINICLINE_WEBHOOK_ATTEMPTS": "6"}).webhook_attempts == 6


def test_the_ehr_and_hl7_settings_come_from_the_environment() -> None:
    config = load_config(env={
        "CLINICLINE_EHR": "fhir+https://ehr.example.org/fhir",
        "CLINICLINE_EHR_TOKEN": "t0ken",
        "CLINICLINE_HL7_PEER": "10.1.2.3:2575",
        "CLINICLINE_HL7_ALLOW": "10.1.2.3, 10.1.3.0/24",
    })
    assert config.ehr == "fhir+https://ehr.example.org/fhir" and config.ehr_token == "t0ken"
    assert config.hl7_peer == "10.1.2.3:2575"
    assert config.hl7_allow == ("10.1.2.3", "10.1.3.0/24")


def test_with_several_workers_the_ehr_reaches_each_and_one_listens_for_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`serve --workers N --ehr …`: every worker gets the EHR; only worker 0 listens for SIU
    (the others would fail to bind the same port), all of them may send it."""
    monkeypatch.setenv("CLINICLINE_DATA_KEY", "k")
    monkeypatch.setenv("CLINICLINE_HL7_LISTEN", "127.0.0.1:2576")
    args = argparse.Namespace(config=None, asr_engine=None, vosk_model_dir=None,
                              ehr="fhir+http://127.0.0.1:8090/fhir", no_rasa=False)
    assert passthrough_args(args)[-2:] == ["--ehr", "fhir+http://127.0.0.1:8090/fhir"]
    config = load_config(env={}, overrides={"db": "postgresql://u:p@127.0.0.1/x"})
    cluster = Cluster(config, 2, dialog="clinic", passthrough=[])
    assert cluster._worker_env(0)["CLINICLINE_HL7_LISTEN"] == "127.0.0.1:2576"
    assert cluster._worker_env(1)["CLINICLINE_HL7_LISTEN"] == ""
