"""Travel times: the straight-line default, and the OSRM table adapter against a loopback server that answers as
OSRM's table service does (its documented response), including its failures."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from routing.travel import Mode, OsrmTable, Point, StraightLine, TravelTimesUnavailable

SANGSALMI = Point(126.7460, 37.5040)
EAST_1KM = Point(126.7460 + 1000 / (111_320 * math.cos(math.radians(37.504))), 37.5040)


def test_straight_line_without_detour_is_the_great_circle() -> None:
    table = StraightLine(detour=1.0).table([SANGSALMI, EAST_1KM], Mode.CAR)
    assert table.metres[0][1] == pytest.approx(1000, rel=0.005) and table.metres[0][0] == 0


def test_straight_line_applies_the_detour_and_the_mode_speed() -> None:
    table = StraightLine(detour=1.3).table([SANGSALMI, EAST_1KM], Mode.WALK)
    assert table.metres[0][1] == pytest.approx(1300, rel=0.005) and table.metres[1][0] == table.metres[0][1]
    assert table.seconds[0][1] == pytest.approx(table.metres[0][1] / 1.2)
    car = StraightLine(detour=1.3).table([SANGSALMI, EAST_1KM], Mode.CAR)
    assert car.seconds[0][1] < table.seconds[0][1] and car.metres == table.metres
    with pytest.raises(ValueError, match="detour"):
        StraightLine(detour=0.9)


class _Osrm(BaseHTTPRequestHandler):
    answers: list[tuple[int, Any]] = []
    paths: list[str] = []

    def do_GET(self) -> None:
        _Osrm.paths.append(self.path)
        status, body = _Osrm.answers.pop(0)
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def osrm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Osrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Osrm.answers, _Osrm.paths = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_osrm_table_asks_the_mode_profile_and_reads_metres_and_seconds(osrm: str) -> None:
    _Osrm.answers.append(
        (200, {"code": "Ok", "durations": [[0, 61.5], [None, 0]], "distances": [[0, 812.3], [None, 0]]})
    )
    table = OsrmTable(osrm).table([SANGSALMI, EAST_1KM], Mode.SCOOTER)
    assert _Osrm.paths[0].startswith("/table/v1/bike/126.746000,37.504000;")
    assert "annotations=duration%2Cdistance" in _Osrm.paths[0] or "annotations=duration,distance" in _Osrm.paths[0]
    assert table.seconds[0][1] == 61.5 and table.metres[0][1] == 812.3
    assert table.seconds[1][0] == math.inf and table.metres[1][0] == math.inf  # no route: never zero


def test_osrm_failures_are_reported_not_guessed(osrm: str) -> None:
    _Osrm.answers += [
        (400, {"code": "InvalidQuery", "message": "Query string malformed close to position 28"}),
        (200, "<html>a proxy error page</html>"),
        (200, {"code": "Ok", "durations": [[0]]}),
    ]
    for expected in ("Query string malformed", "OSRM table at", "without distances"):
        with pytest.raises(TravelTimesUnavailable, match=expected):
            OsrmTable(osrm).table([SANGSALMI], Mode.CAR)
    with pytest.raises(TravelTimesUnavailable, match="OSRM table at"):
        OsrmTable("http://127.0.0.1:9", timeout_s=0.5).table([SANGSALMI], Mode.CAR)  # nothing listens on port 9
    assert OsrmTable(osrm).table([], Mode.CAR).metres == ()
