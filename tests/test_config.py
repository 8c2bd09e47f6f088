"""Settings refused at start-up with a message, not at the first call or message that needs them."""

from __future__ import annotations

import pytest

from clinicline.config import load_config
from clinicline.errors import ConfigError


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
