"""What `clinicline bench --training` reads from a site's log when its workers swap models."""

from __future__ import annotations

import time

from clinicline.bench_training import one_load_at_a_time, swap_timeline

MODEL = "clinicline-abc"
# Lines as `serve --workers 2` writes them, published at 10:00:00 (local time, as logged).
SITE_LOG = """\
2031-03-03 09:59:58,100 INFO clinicline.dialogs_runtime: dialogs: model clinicline-old.tar.gz in use (version None)
2031-03-03 10:00:01,500 INFO clinicline.dialogs_runtime: dialogs: starting Rasa with clinicline-abc.tar.gz on port 5011
2031-03-03 10:00:01,700 INFO clinicline.dialogs_runtime: dialogs: version 1 waits its turn: vm/127.0.0.1:5061 is swapping its model
2031-03-03 10:00:02,000 INFO clinicline.voice.worker: answered (a call)
2031-03-03 10:00:40,250 INFO clinicline.dialogs_runtime: dialogs: model clinicline-abc.tar.gz in use (version 1)
2031-03-03 10:00:53,000 INFO clinicline.dialogs_runtime: dialogs: starting Rasa with clinicline-abc.tar.gz on port 5013
2031-03-03 10:01:30,000 INFO clinicline.dialogs_runtime: dialogs: model clinicline-abc.tar.gz in use (version 1)
"""  # noqa: E501


def _published() -> float:
    return time.mktime(time.strptime("2031-03-03 10:00:00", "%Y-%m-%d %H:%M:%S"))


def test_the_swap_timeline_is_the_models_lines_and_the_waits_after_the_publish() -> None:
    timeline = swap_timeline(SITE_LOG, MODEL, _published())
    assert [round(at, 2) for at, _ in timeline] == [1.5, 1.7, 40.25, 53.0, 90.0]
    assert timeline[1][1].startswith("dialogs: version 1 waits its turn")
    assert one_load_at_a_time(timeline, MODEL, 2)


def test_two_workers_loading_at_once_or_one_missing_is_not_one_at_a_time() -> None:
    overlapping = SITE_LOG.replace("10:00:53,000", "10:00:20,000")
    assert not one_load_at_a_time(swap_timeline(overlapping, MODEL, _published()), MODEL, 2)
    assert not one_load_at_a_time(swap_timeline(SITE_LOG, MODEL, _published()), MODEL, 3)
