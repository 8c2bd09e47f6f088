"""A real FHIR R4 server for the EHR adapter's tests: sekmet-fhir, from its own venv
(`make fhir-server`), on a free loopback port, with bearer-token auth and its workflow
simulator off (it would answer our Appointments and Tasks by itself)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from clinicline.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
SEKMET = ROOT / ".venv-fhir" / "bin" / "sekmet"
TOKEN = "clinicline-test-token"


@dataclass(frozen=True)
class FhirServer:
    base_url: str
    token: str

    @property
    def ehr_url(self) -> str:
        return f"fhir+{self.base_url}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request as another EHR client would make it (the tests' own eyes on the server)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.base_url}/{path}".rstrip("/"),
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/fhir+json",
                "Accept": "application/fhir+json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def search(self, path: str) -> list[dict[str, Any]]:
        status, bundle = self.call("GET", path)
        assert status == 200, bundle
        return [e["resource"] for e in bundle.get("entry") or []]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute))


def add_clinic(
    server: FhirServer, day: date, family: str, born: date = date(1961, 7, 14)
) -> dict[str, str]:
    """A practitioner with four free slots on `day` and a patient on a refillable medication,
    written to the EHR as its own users would; the EHR's ids by role."""
    refs = {k: f"urn:uuid:{uuid.uuid4()}" for k in ("doctor", "place", "schedule", "patient")}
    slots = [at(day, h, m) for h, m in ((9, 0), (9, 30), (14, 0), (14, 30))]
    resources: list[tuple[str, dict[str, Any]]] = [
        (refs["doctor"], {"resourceType": "Practitioner",
                          "name": [{"family": "Okafor", "given": ["Ada"]}]}),
        (refs["place"], {"resourceType": "Location", "name": f"{family} Clinic",
                         "status": "active"}),
        (refs["schedule"], {"resourceType": "Schedule", "active": True, "actor": [
            {"reference": refs["doctor"]}, {"reference": refs["place"]}]}),
        (refs["patient"], {"resourceType": "Patient",
                           "name": [{"use": "official", "family": family, "given": ["Rosa"]}],
                           "birthDate": born.isoformat(),
                           "telecom": [{"system": "phone", "value": "+1 555 010 4477"}]}),
        (f"urn:uuid:{uuid.uuid4()}", {
            "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "subject": {"reference": refs["patient"]},
            "medicationCodeableConcept": {"text": "Lisinopril 10 mg oral tablet"},
            "dispenseRequest": {"numberOfRepeatsAllowed": 3}}),
    ]
    for start in slots:
        resources.append((f"urn:uuid:{uuid.uuid4()}", {
            "resourceType": "Slot", "schedule": {"reference": refs["schedule"]},
            "status": "free", "start": start.astimezone().isoformat(),
            "end": (start + timedelta(minutes=30)).astimezone().isoformat()}))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": url, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
        for url, r in resources
    ]}
    status, answer = server.call("POST", "", bundle)
    assert status == 200, answer
    ids = [e["response"]["location"].split("/_history")[0].split("/")[-1]
           for e in answer["entry"]]
    return dict(zip(("doctor", "place", "schedule", "patient"), ids[:4], strict=True))


@contextmanager
def running_fhir_server(folder: Path) -> Iterator[FhirServer]:
    if not SEKMET.exists():
        raise RuntimeError(f"{SEKMET} is missing: run `make fhir-server` (make test does)")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    settings = folder / "settings.yaml"
    settings.write_text(
        json.dumps(
            {
                "base_url": base,
                "host": "127.0.0.1",
                "port": port,
                "data_dir": str(folder / "data"),
                "simulator": {"enabled": False},
                "server_auth": {"types": ["bearer"], "tokens": [TOKEN]},
            }
        )
    )
    log = (folder / "sekmet.log").open("wb")
    proc = subprocess.Popen(
        [str(SEKMET), "serve", "-c", str(settings)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SEKMET_CONFIG": str(settings)},
    )
    server = FhirServer(base, TOKEN)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sekmet exited: {(folder / 'sekmet.log').read_text()[-2000:]}")
            try:
                if server.call("GET", "metadata")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sekmet did not answer within 60 s")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def add_coverage(
    server: FhirServer, patient: str, payer: str, *, status: str = "active",
    plan: str = "PPO Gold", member_id: str = "XJH123456789", until: str = "2032-12-31",
) -> None:
    """A Coverage for the EHR's `patient`, as a registration clerk's system writes one."""
    status_code, answer = server.call("POST", "Coverage", {
        "resourceType": "Coverage", "status": status,
        "beneficiary": {"reference": f"Patient/{patient}"},
        "payor": [{"display": payer}],
        "subscriberId": member_id,
        "period": {"start": "2030-01-01", "end": until},
        "class": [{"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]},
            "value": "PLAN-77", "name": plan}],
    })  # fmt: skip
    assert status_code in (200, 201), answer
