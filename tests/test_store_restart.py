"""PostgreSQL restarted in the middle of a call through `clinicline serve --workers 2`.

The call goes on (nothing on the call path waits for the store), the writes made while it was
down are retried, and the record lands whole and in order afterwards: the key the caller
pressed after the restart and the bot's answer to it are there, the call is closed by its
hang-up (not `worker_lost`), and the site view and the console bus pick up again. The test
runs a private PostgreSQL server of its own on a free port: restarting the shared one would
break every other test using it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from clinicline.harness import ROOT, free_port
from tests.test_cluster import CLI, Cluster, _active_calls, _call_json, running_cluster

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


@dataclass
class PrivateStore:
    folder: Path
    port: int

    def ctl(self, *args: str) -> None:
        _as_postgres(["pg_ctl", "-D", str(self.folder / "data"), *args])

    @property
    def url(self) -> str:
        return f"postgresql://clinicline@127.0.0.1:{self.port}/clinic"


def _as_postgres(command: list[str]) -> None:
    program = BINARIES[-1] / command[0]
    done = subprocess.run(["runuser", "-u", "postgres", "--", str(program), *command[1:]],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (command, done.stdout[-1500:], done.stderr[-1500:])


@pytest.fixture(scope="module")
def store() -> Iterator[PrivateStore]:
    if not BINARIES or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL's server programs are not installed")
    # Not under pytest's own temporary folder: that one is private to root, and the server
    # runs as the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="clinicline-pg-"))
    shutil.chown(folder, "postgres")
    private = PrivateStore(folder, free_port(socket.SOCK_STREAM))
    _as_postgres(["initdb", "-D", str(folder / "data"), "-U", "clinicline", "-A", "trust",
                  "--no-sync"])
    options = f"-p {private.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    private.ctl("-o", options, "-l", str(folder / "server.log"), "-w", "start")
    try:
        _as_postgres(["createdb", "-h", "127.0.0.1", "-p", str(private.port), "-U",
                      "clinicline", "clinic"])
        yield private
    finally:
        private.ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(store: PrivateStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(store.url, tmp_path_factory.mktemp("cluster")) as running:
        yield running


def test_a_call_goes_on_through_a_store_restart_and_its_record_lands_whole(
    cluster: Cluster, store: PrivateStore
) -> None:
    with subprocess.Popen(
        [*CLI, "call", "--to", f"sip:clinic@127.0.0.1:{cluster.sip_port}", "--no-transcribe",
         "--dtmf", "0", "--listen", "10", "--hangup-after", "30", "--db", cluster.db_url],
        cwd=ROOT, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as caller:  # fmt: skip
        deadline = time.monotonic() + 30
        while sum(_active_calls(cluster, i) or 0 for i in (0, 1)) < 1:
            assert time.monotonic() < deadline, "the call never reached a worker"
            time.sleep(0.3)
        time.sleep(2)  # the greeting is under way, its turn not yet written
        restarted = datetime.now().astimezone()
        # the caller speaks while it is coming back (-l: the server must not hold our pipe)
        store.ctl("-m", "fast", "-l", str(store.folder / "server.log"), "-w", "restart")
        out, _ = caller.communicate(timeout=90)
    heard = _call_json(out)
    assert heard["connected"] and heard["hung_up_by"] == "caller", heard
    record: dict[str, object] = {}
    deadline = time.monotonic() + 60
    while not record.get("ended"):  # the record's last writes are retried after the outage
        assert time.monotonic() < deadline, record
        time.sleep(1)
        shown = subprocess.run(
            [*CLI, "calls", "show", heard["call_id"], "--json", "--db", cluster.db_url],
            capture_output=True, text=True, cwd=ROOT, env=cluster.env, check=False,
        )  # fmt: skip
        if shown.returncode == 0:
            record = json.loads(shown.stdout)
    assert record["disposition"] != "worker_lost", record
    # The caller's key, pressed after the restart (the greeting plays first), is on the record,
    # and so is what the bot said after it: in order, nothing lost.
    assert record["dtmf"] == "0", record
    turns = record["turns"]
    assert isinstance(turns, list)
    starts = [datetime.fromisoformat(t["start"]) for t in turns]
    assert starts == sorted(starts), turns
    after = [t["text"][:60] for t in turns if datetime.fromisoformat(t["start"]) > restarted]
    assert after, [(t["speaker"], t["text"][:60], t["start"]) for t in turns]
    assert "console bus listening again" in cluster.log.read_text()
    # The workers took up their beat in the store again: the site view is whole.
    deadline = time.monotonic() + 20
    while set(cluster.site(0).values()) != {"ready", "up"}:
        assert time.monotonic() < deadline, cluster.site(0)
        time.sleep(1)
