"""GPS providers: positions and alarms through the HTTP client and the sandbox's tracks, and pushed alarms."""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from integrations import signing
from integrations.callback_events import SANDBOX_SECRET, BadCallback, CallbacksNotConfigured
from integrations.errors import ProviderError
from integrations.gps import MAX_DEVICES, SANDBOX_SPEED_KMH, Alarm, HttpGps, Position, SandboxGps, describe
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig
from tests.integrations.conftest import KEY_ID, SECRET, config
from tests.integrations.mock_provider import MockProvider, Received, Reply

PATH = "/callbacks/gps"
SINCE = datetime(2026, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
NOW = datetime(2026, 3, 1, 12, 34, 56, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))
POSITION = {"device_id": "860000000000001", "time": "2026-03-01T09:15:00+08:00", "lat": 39.9042123, "lon": "116.4074",
            "speed": 42.25, "online": True}
ALARM = {"alarm_id": "alm-1", "device_id": "860000000000001", "type": "power_cut", "time": "2026-03-01T09:20:00+08:00",
         "lat": 39.9, "lon": 116.4, "detail": "主电源断开"}


def http_gps(url: str, **settings: Any) -> HttpGps:
    return HttpGps(config("gps", "gps", url=url, **settings))


def sandbox(now: datetime = NOW, **environ: str) -> SandboxGps:
    provider = SandboxGps(ProviderConfig("gps", "gps", "sandbox", {}, environ))
    provider.clock = lambda: now
    return provider


def assert_signed(request: Received) -> None:
    signing.verify(request.headers, SECRET, request.method, request.path, request.body)
    assert request.header(signing.KEY_HEADER) == KEY_ID


def alarm_body(**changes: Any) -> bytes:
    return json.dumps({"event_id": "evt-1", **ALARM, **changes}).encode("utf-8")


def signed(body: bytes, secret: str = SECRET, path: str = PATH) -> dict[str, str]:
    return signing.signed_headers("gps-platform", secret, "POST", path, body)


# Positions and alarms over HTTP.

def test_http_positions(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"positions": [POSITION]}))

    found = http_gps(mock_provider.url).positions(["860000000000001", "860000000000002", "860000000000001"], SINCE)

    assert found == [Position("860000000000001", datetime(2026, 3, 1, 9, 15, tzinfo=CST), Decimal("39.904212"),
                              Decimal("116.407400"), Decimal("42.2"), True)]
    assert str(found[0].lat) == "39.904212"
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/gps/positions")
    assert request.json() == {"device_ids": ["860000000000001", "860000000000002"], "since": "2026-03-01T08:00:00+08:00"}
    assert_signed(request)


def test_http_positions_keeps_latest(mock_provider: MockProvider) -> None:
    later = {**POSITION, "time": "2026-03-01T02:30:00+00:00", "online": False}
    mock_provider.program(Reply(200, {"positions": [later, POSITION]}))
    found = http_gps(mock_provider.url).positions(["860000000000001"], SINCE)
    assert [(position.time, position.online) for position in found] == [(datetime(2026, 3, 1, 2, 30, tzinfo=timezone.utc), False)]


def test_http_alarms(mock_provider: MockProvider) -> None:
    early = {**ALARM, "alarm_id": "alm-0", "type": "device_removed", "time": "2026-03-01T08:05:00+08:00", "lat": None,
             "lon": None, "detail": None}
    mock_provider.program(Reply(200, {"alarms": [ALARM, early]}))

    alarms = http_gps(mock_provider.url).alarms(["860000000000001"], SINCE)

    assert alarms == [
        Alarm("alm-0", "860000000000001", "device_removed", datetime(2026, 3, 1, 8, 5, tzinfo=CST)),
        Alarm("alm-1", "860000000000001", "power_cut", datetime(2026, 3, 1, 9, 20, tzinfo=CST), Decimal("39.900000"),
              Decimal("116.400000"), "主电源断开"),
    ]
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/gps/alarms")
    assert_signed(request)


def test_http_timeout_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"positions": []}, delay_seconds=1.5))
    with pytest.raises(ProviderError) as raised:
        http_gps(mock_provider.url).positions(["860000000000001"], SINCE)
    assert raised.value.code == "timeout"
    assert raised.value.zh == "GPS 定位平台响应超时，请稍后重试"
    assert len(mock_provider.requests) == 3


def test_http_server_error_then_success(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(502, b"bad gateway"), Reply(200, {"alarms": [ALARM]}))
    assert [alarm.alarm_id for alarm in http_gps(mock_provider.url).alarms(["860000000000001"], SINCE)] == ["alm-1"]
    assert len(mock_provider.requests) == 2
    assert len({request.header("Idempotency-Key") for request in mock_provider.requests}) == 1


def test_http_rejected_not_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(400, {"message": "设备未绑定到本账户"}))
    with pytest.raises(ProviderError) as raised:
        http_gps(mock_provider.url).positions(["860000000000001"], SINCE)
    assert raised.value.code == "rejected"
    assert raised.value.zh == "GPS 定位平台拒绝了请求（HTTP 400）：设备未绑定到本账户"
    assert len(mock_provider.requests) == 1


@pytest.mark.parametrize("body", [
    b"<html>",
    {"positions": None},
    {"positions": [{**POSITION, "device_id": "860000000000009"}]},
    {"positions": [{**POSITION, "lat": 91}]},
    {"positions": [{**POSITION, "lon": "east"}]},
    {"positions": [{**POSITION, "lon": True}]},
    {"positions": [{**POSITION, "time": "2026-03-01T09:15:00"}]},
    {"positions": [{**POSITION, "speed": -1}]},
    {"positions": [{**POSITION, "online": "yes"}]},
    {"positions": ["860000000000001"]},
], ids=["html", "null", "other-device", "latitude-range", "longitude-text", "longitude-bool", "naive-time", "negative-speed",
        "online-text", "not-object"])
def test_http_positions_malformed_body(mock_provider: MockProvider, body: Any) -> None:
    mock_provider.program(Reply(200, body))
    with pytest.raises(ProviderError) as raised:
        http_gps(mock_provider.url).positions(["860000000000001"], SINCE)
    assert raised.value.code == "bad_response"


@pytest.mark.parametrize("alarm", [{**ALARM, "type": "overspeed"}, {**ALARM, "lat": None}, {**ALARM, "alarm_id": ""},
                                   {**ALARM, "device_id": "860000000000009"}, {**ALARM, "detail": 5}],
                         ids=["unknown-type", "half-coordinates", "no-alarm-id", "other-device", "numeric-detail"])
def test_http_alarms_malformed_body(mock_provider: MockProvider, alarm: dict[str, Any]) -> None:
    mock_provider.program(Reply(200, {"alarms": [alarm]}))
    with pytest.raises(ProviderError) as raised:
        http_gps(mock_provider.url).alarms(["860000000000001"], SINCE)
    assert raised.value.code == "bad_response"
    assert raised.value.en.startswith("The GPS platform sent a response that cannot be read (")


def test_http_unknown_alarm_type_named(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"alarms": [{**ALARM, "type": "overspeed"}]}))
    with pytest.raises(ProviderError) as raised:
        http_gps(mock_provider.url).alarms(["860000000000001"], SINCE)
    assert raised.value.en == ("The GPS platform sent a response that cannot be read (the alarm type 'overspeed' is not one of "
                               "device_removed, power_cut, geofence_exit, long_stay); try again later")


def test_http_not_configured() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpGps(config("gps", "gps", url="ftp://127.0.0.1/gps"))
    assert raised.value.code == "not_configured"
    assert "METADESK_GPS_BASE_URL" in raised.value.en


@pytest.mark.parametrize(("device_ids", "since", "message"), [
    ([], SINCE, f"Pass a list of 1 to {MAX_DEVICES} device ids"),
    ("860000000000001", SINCE, f"Pass a list of 1 to {MAX_DEVICES} device ids"),
    ([f"86{index:013d}" for index in range(MAX_DEVICES + 1)], SINCE,
     f"{MAX_DEVICES + 1} devices were requested; request at most {MAX_DEVICES} per call"),
    (["86/../1"], SINCE, "'86/../1' is not a device id: 1 to 64 letters, digits, '-' or '_'"),
    ([7], SINCE, "'7' is not a device id: 1 to 64 letters, digits, '-' or '_'"),
    ([["860000000000001"]], SINCE, "\"['860000000000001']\" is not a device id: 1 to 64 letters, digits, '-' or '_'"),
    (["860000000000001"], datetime(2026, 3, 1, 8, 0),
     "Give `since` as a datetime with a time zone, such as datetime.now(timezone.utc)"),
], ids=["empty", "string", "too-many", "path", "number", "nested-list", "naive-since"])
def test_http_local_rejection_sends_nothing(mock_provider: MockProvider, device_ids: Any, since: datetime, message: str) -> None:
    provider = http_gps(mock_provider.url)
    for operation in (provider.positions, provider.alarms):
        with pytest.raises(ProviderError) as raised:
            operation(device_ids, since)
        assert raised.value.code == "rejected"
        assert raised.value.en == message
    assert mock_provider.requests == []


def test_http_most_devices_accepted(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"positions": []}))
    devices = [f"86{index:013d}" for index in range(MAX_DEVICES)]
    assert http_gps(mock_provider.url).positions(devices + devices[:5], SINCE) == []
    assert len(mock_provider.requests[0].json()["device_ids"]) == MAX_DEVICES


def test_http_logs_count_only(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mock_provider.program(Reply(200, {"positions": [POSITION]}))
    http_gps(mock_provider.url).positions(["860000000000001", "860000000000002"], SINCE)
    lines = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(lines) == 1
    assert lines[0].startswith("gps positions devices=2: HTTP 200 in ")
    assert SECRET not in caplog.text
    assert "39.904" not in caplog.text


# The sandbox.

def test_sandbox_positions_near_home() -> None:
    positions = sandbox().positions([f"86000000000{index:04d}" for index in range(5, 10)], SINCE)

    assert len(positions) == 5
    for position in positions:
        beijing = abs(position.lat - Decimal("39.9042")) < Decimal("0.11") and abs(position.lon - Decimal("116.4074")) < Decimal("0.15")
        shanghai = abs(position.lat - Decimal("31.2304")) < Decimal("0.11") and abs(position.lon - Decimal("121.4737")) < Decimal("0.15")
        assert beijing or shanghai, position
        assert position.lat.as_tuple().exponent == -6
        assert position.lon.as_tuple().exponent == -6
        assert position.time == datetime(2026, 3, 1, 12, 34, tzinfo=timezone.utc)
        assert (position.speed, position.online) == (SANDBOX_SPEED_KMH, True)


def test_sandbox_both_cities_used() -> None:
    lats = [position.lat for position in sandbox().positions([f"dev-{index}" for index in range(40)], SINCE)]
    assert any(lat > 39 for lat in lats)
    assert any(lat < 32 for lat in lats)


def test_sandbox_deterministic() -> None:
    devices = ["860000000000001", "860000000000005", "860000000000104"]
    assert sandbox().positions(devices, SINCE) == sandbox().positions(devices, SINCE)
    assert sandbox().alarms(devices, SINCE - timedelta(days=2)) == sandbox().alarms(devices, SINCE - timedelta(days=2))
    # Seconds within a minute do not move the device; the next minute does.
    assert sandbox(NOW + timedelta(seconds=3)).positions(devices, SINCE) == sandbox().positions(devices, SINCE)
    moved = sandbox(NOW + timedelta(minutes=1)).positions(devices[:1], SINCE)[0]
    still = sandbox().positions(devices[:1], SINCE)[0]
    assert (moved.lat, moved.lon) != (still.lat, still.lon)


def test_sandbox_track_is_round() -> None:
    provider = sandbox()
    points = [provider.position_at("860000000000005", NOW + timedelta(minutes=minute)) for minute in range(60)]
    lats = [point.lat for point in points]
    lons = [point.lon for point in points]
    # The circle spans 0.05° of latitude on each side of its centre, and as many kilometres east to west.
    assert Decimal("0.099") < max(lats) - min(lats) <= Decimal("0.100001")
    east_west = float(max(lons) - min(lons)) * math.cos(math.radians(float(lats[0])))
    assert east_west == pytest.approx(0.1, abs=0.002)
    assert len({(point.lat, point.lon) for point in points}) == 60
    # One hour later the device is back where it started.
    assert provider.position_at("860000000000005", NOW + timedelta(hours=1)).lat == points[0].lat


def test_sandbox_offline_device() -> None:
    provider = sandbox()
    [position] = provider.positions(["860000000000010"], NOW - timedelta(hours=3))
    assert position.online is False
    assert position.time == datetime(2026, 3, 1, 10, 34, tzinfo=timezone.utc)
    assert provider.positions(["860000000000010"], NOW - timedelta(hours=1)) == []


def test_sandbox_long_stay_device_still() -> None:
    provider = sandbox()
    first = provider.position_at("860000000000004", NOW)
    later = provider.position_at("860000000000004", NOW + timedelta(minutes=17))
    assert (first.lat, first.lon, first.speed) == (later.lat, later.lon, Decimal("0.0"))


def test_sandbox_alarm_rules() -> None:
    devices = ["860000000000001", "860000000000002", "860000000000003", "860000000000004", "860000000000005"]

    alarms = sandbox().alarms(devices, datetime(2026, 2, 28, 0, 0, tzinfo=timezone.utc))

    assert [(alarm.device_id, alarm.type, alarm.time.isoformat()) for alarm in alarms] == [
        ("860000000000001", "device_removed", "2026-02-28T01:00:00+00:00"),
        ("860000000000002", "power_cut", "2026-02-28T01:00:00+00:00"),
        ("860000000000003", "geofence_exit", "2026-02-28T01:00:00+00:00"),
        ("860000000000004", "long_stay", "2026-02-28T01:00:00+00:00"),
        ("860000000000001", "device_removed", "2026-03-01T01:00:00+00:00"),
        ("860000000000002", "power_cut", "2026-03-01T01:00:00+00:00"),
        ("860000000000003", "geofence_exit", "2026-03-01T01:00:00+00:00"),
        ("860000000000004", "long_stay", "2026-03-01T01:00:00+00:00"),
    ]
    assert alarms[0].alarm_id == "sbx-860000000000001-device_removed-20260228"
    position = sandbox().position_at("860000000000001", alarms[0].time)
    assert (alarms[0].lat, alarms[0].lon) == (position.lat, position.lon)


def test_sandbox_alarms_since_and_now() -> None:
    # SINCE is 00:00 UTC on 1 March, so the alarm of 01:00 UTC that day is included.
    assert len(sandbox().alarms(["860000000000002"], SINCE)) == 1
    assert sandbox().alarms(["860000000000002"], SINCE + timedelta(hours=2)) == []
    # Before 01:00 UTC the day's alarm is not raised yet.
    assert sandbox(datetime(2026, 3, 1, 0, 59, tzinfo=timezone.utc)).alarms(["860000000000002"], SINCE) == []


def test_sandbox_checks_arguments() -> None:
    with pytest.raises(ProviderError) as raised:
        sandbox().positions(["bad id"], SINCE)
    assert raised.value.code == "rejected"


# Pushed alarms.

def test_sandbox_callback_round_trip() -> None:
    provider = sandbox()
    [alarm] = provider.alarms(["860000000000002"], SINCE)

    headers, body = provider.callback_request(alarm)

    callback = provider.parse_callback("POST", PATH, headers, body)
    assert callback == Callback(f"{alarm.alarm_id}-push", "gps_power_cut", describe(alarm))
    assert callback.payload["lat"] == str(alarm.lat)
    assert callback.payload["time"] == "2026-03-01T01:00:00+00:00"
    signing.verify(headers, SANDBOX_SECRET, "POST", PATH, body)


def test_http_callback_parsed(mock_provider: MockProvider) -> None:
    body = alarm_body()
    callback = http_gps(mock_provider.url).parse_callback("POST", PATH, signed(body), body)
    assert callback == Callback("evt-1", "gps_power_cut", {
        "alarm_id": "alm-1", "device_id": "860000000000001", "type": "power_cut", "time": "2026-03-01T09:20:00+08:00",
        "lat": "39.900000", "lon": "116.400000", "detail": "主电源断开"})
    assert mock_provider.requests == []


def test_http_callback_bad_signature() -> None:
    provider = http_gps("http://127.0.0.1:9")
    body = alarm_body()
    with pytest.raises(signing.SignatureRejected):
        provider.parse_callback("POST", PATH, signed(body, "not-the-secret"), body)
    with pytest.raises(signing.SignatureRejected):
        provider.parse_callback("POST", PATH, signed(body, path="/callbacks/other"), body)


def test_http_callback_without_secret() -> None:
    provider = HttpGps(config("gps", "gps", url="http://127.0.0.1:9", signed=False))
    body = alarm_body()
    with pytest.raises(CallbacksNotConfigured) as raised:
        provider.parse_callback("POST", PATH, signed(body), body)
    assert "METADESK_GPS_SECRET" in raised.value.en


@pytest.mark.parametrize("body", [b"{", b"[]", alarm_body(event_id=None), alarm_body(type="overspeed"),
                                  alarm_body(time="yesterday"), alarm_body(lat=120, lon=200), alarm_body(device_id="")],
                         ids=["truncated", "array", "no-event-id", "unknown-type", "bad-time", "out-of-range", "no-device"])
def test_callback_malformed_body(body: bytes) -> None:
    with pytest.raises(BadCallback) as raised:
        sandbox().parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)
    assert raised.value.status == 400
