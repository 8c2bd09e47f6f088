"""An HL7 v2 interface engine for the tests: node-hl7-server (tests/peers/hl7_engine.js), an
independent MLLP implementation that records what it receives and answers as told."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinicline.harness import free_port

PEERS = Path(__file__).resolve().parents[1] / "peers"


@dataclass
class Engine:
    port: int
    folder: Path

    def answer(self, mode: str) -> None:
        (self.folder / "mode").write_text(mode)

    def received(self) -> list[dict[str, Any]]:
        path = self.folder / "received.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@contextmanager
def running_engine(tmp_path: Path, tls_dir: Path | None = None) -> Iterator[Engine]:
    """The engine on a free port; with `tls_dir` (ca.pem, cert.pem, key.pem) MLLP over TLS,
    accepting only clients with a certificate of ca.pem."""
    if not (PEERS / "node_modules" / "node-hl7-server").exists():
        raise RuntimeError("the HL7 peer is missing: run `make test-peers` (make test does)")
    port = free_port()
    folder = tmp_path / "engine"
    folder.mkdir(parents=True)
    proc = subprocess.Popen(
        ["node", str(PEERS / "hl7_engine.js"), str(port), str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **({"HL7_TLS_DIR": str(tls_dir)} if tls_dir else {})},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "listening"
    try:
        yield Engine(port, folder)
    finally:
        proc.terminate()
        proc.wait(10)


