"""The status board with 200 viewers on a real hub: every one sees a change within 2 s."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests

from tests.web.browser_lab import build
from tests.web.scripted_node import ScriptedNode

VIEWERS = 200
POLL_S = 1.0  # what board.js does


def test_two_hundred_viewers_see_progress_within_two_seconds(tmp_path: Path) -> None:
    lab = build(tmp_path)
    try:
        job = lab.submit("ada", "prusaslicer-plant-sign.gcode")
        node = ScriptedNode(lab.url, lab.enrolment_code)
        node.heartbeat()
        node.claim()
        node.report(job["id"], {"type": "started"})
        node.report(job["id"], {"type": "progress", "lines_acked": 1, "percent": 10.0})
        sent_at: list[float] = []
        seen_at: dict[int, float] = {}
        failures: list[str] = []
        stop = threading.Event()
        start = threading.Barrier(VIEWERS + 1)

        def viewer(number: int) -> None:
            session = requests.Session()
            start.wait()
            time.sleep(POLL_S * number / VIEWERS)  # viewers do not poll in lock-step
            while not stop.is_set():
                try:
                    answer = session.get(f"{lab.url}/board/tiles", timeout=10)
                except requests.RequestException as exc:
                    failures.append(repr(exc))
                    return
                if answer.status_code != 200:
                    failures.append(str(answer.status_code))
                elif sent_at and "70.0 %" in answer.text and number not in seen_at:
                    seen_at[number] = time.monotonic()
                stop.wait(POLL_S)

        threads = [threading.Thread(target=viewer, args=(n,), daemon=True)
                   for n in range(VIEWERS)]
        for thread in threads:
            thread.start()
        start.wait()
        time.sleep(3)  # every viewer is polling
        sent_at.append(time.monotonic())
        node.report(job["id"], {"type": "progress", "lines_acked": 2, "percent": 70.0})
        deadline = sent_at[0] + 10
        while len(seen_at) < VIEWERS and time.monotonic() < deadline and not failures:
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(15)
        assert not failures, failures[:5]
        delays = sorted(at - sent_at[0] for at in seen_at.values())
        assert len(delays) == VIEWERS, f"only {len(delays)} viewers saw the change"
        print(f"200 viewers: median {delays[len(delays) // 2]:.2f} s, worst {delays[-1]:.2f} s")
        assert delays[-1] < 2.0, f"the slowest viewer saw the change after {delays[-1]:.2f} s"
    finally:
        lab.hub.stop()
