"""GPS platform (GPS 定位平台): the latest positions of vehicle trackers, and their alarms.

The interface, for hooks (`context.providers["gps"]`):

    positions(device_ids, since) -> list[Position]
    alarms(device_ids, since) -> list[Alarm]
    parse_callback(method, path, headers, body) -> runtime.callbacks.Callback

`positions` returns, for each device that reported at or after `since`, its latest
position: the device id, the time of the fix, the speed, and whether the device is online
now. Latitude and longitude are WGS-84 degrees as Decimal, rounded half to even to exactly
6 decimals (about 0.1 m). The speed is km/h as Decimal with 1 decimal. `alarms` returns
the alarms raised at or after `since`, oldest first. An alarm's type is one of ALARM_TYPES:
"device_removed" (拆除), "power_cut" (断电), "geofence_exit" (驶出围栏) or "long_stay"
(长时间停留). Before any request, device ids must be a list of 1 to MAX_DEVICES ids of 1
to 64 letters, digits, "-" or "_", and repeats are sent once. `since` must be a datetime
with a time zone. Anything else raises ProviderError "rejected". A response that names a device
not requested, an unknown alarm type or an unreadable value raises "bad_response".

Alarms are also pushed to POST /callbacks/<integration>, signed like requests
(integrations/signing.py) with METADESK_<NAME>_SECRET, as JSON {"event_id", "alarm_id",
"device_id", "type", "time", "lat", "lon", "detail"}. The callback's kind is "gps_<type>",
such as "gps_power_cut". Its payload contains the alarm, and because the payload is stored
as JSON, the time is ISO 8601 text and the coordinates are decimal text (or null).

HTTP provider:
  POST {BASE_URL}/gps/positions with {"device_ids", "since": ISO 8601}; the provider
    responds with {"positions": [{"device_id", "time", "lat", "lon", "speed", "online"}]}.
    Of several positions of one device, the latest is kept.
  POST {BASE_URL}/gps/alarms with {"device_ids", "since"}; the provider responds with
    {"alarms": [{"alarm_id", "device_id", "type", "time", "lat", "lon", "detail"}]}, where
    lat, lon and detail may be null.
Times are ISO 8601 with a UTC offset; coordinates and speeds are JSON numbers or numeric text.

Sandbox provider, deterministic by the device id and the minute. A device's home is
Beijing (39.904200, 116.407400) when the first byte of the SHA-256 of its id is even,
otherwise Shanghai (31.230400, 121.473700). The next two bytes move it by up to 0.05° in
each direction. It drives a circle of radius 0.05° of latitude around its home once an hour at
SANDBOX_SPEED_KMH and reports every minute, so its latest position is that of the current
minute. The last character of the id sets the exceptions: "0" is offline, last heard 120
minutes ago; "1", "2" and "3" raise a device_removed, power_cut and geofence_exit alarm
at 01:00 UTC (09:00 Beijing time) each day; "4" stands still at home with speed 0 and
raises a long_stay alarm at that time each day. The sandbox reads the time from its
`clock`, which tests replace; `callback_request(alarm)` returns the headers and body of
the signed callback that pushes an alarm. Sandbox callbacks are signed with
METADESK_<NAME>_SECRET, or with SANDBOX_SECRET when that is not set.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping, NoReturn, Sequence

from integrations.callback_events import BadCallback, callback_secret, read_event, sandbox_request, sandbox_secret
from integrations.errors import ProviderError
from integrations.http import HttpProvider
from integrations.values import BadValue, decimal_number, moment
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig, register_provider

INTERFACE = "gps"
#: The alarm types, with their labels in Chinese and English.
ALARM_TYPES = {
    "device_removed": ("拆除", "Device removed"),
    "power_cut": ("断电", "Power cut"),
    "geofence_exit": ("驶出围栏", "Out of geofence"),
    "long_stay": ("长时间停留", "Long stay"),
}
#: The maximum number of devices per call.
MAX_DEVICES = 100
#: The decimals of a latitude or longitude.
COORDINATE_PLACES = 6
#: The sandbox's homes: Beijing and Shanghai city centres, latitude and longitude.
SANDBOX_CITIES = ((Decimal("39.904200"), Decimal("116.407400")), (Decimal("31.230400"), Decimal("121.473700")))
#: The radius of a sandbox device's circle, in degrees of latitude.
SANDBOX_RADIUS_DEGREES = 0.05
#: A sandbox device's speed: a circle of radius 0.05° of latitude (5.56 km), 34.9 km around, driven once an hour.
SANDBOX_SPEED_KMH = Decimal("34.9")
#: When each sandbox alarm device raises its alarm, every day.
SANDBOX_ALARM_TIME = time(1, 0, tzinfo=timezone.utc)
_SANDBOX_ALARMS = {"1": "device_removed", "2": "power_cut", "3": "geofence_exit", "4": "long_stay"}
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Position:
    device_id: str
    #: When the device took the fix, with its time zone.
    time: datetime
    #: WGS-84 latitude and longitude in degrees, with 6 decimals.
    lat: Decimal
    lon: Decimal
    #: km/h, with 1 decimal.
    speed: Decimal
    online: bool


@dataclass(frozen=True)
class Alarm:
    alarm_id: str
    device_id: str
    #: One of ALARM_TYPES.
    type: str
    time: datetime
    lat: Decimal | None = None
    lon: Decimal | None = None
    #: The platform's description, such as the geofence's name, or None.
    detail: str | None = None


def describe(alarm: Alarm) -> dict[str, Any]:
    """Return an alarm as JSON data: the time as ISO 8601 text, the coordinates as decimal text or None."""
    return {"alarm_id": alarm.alarm_id, "device_id": alarm.device_id, "type": alarm.type, "time": alarm.time.isoformat(),
            "lat": None if alarm.lat is None else str(alarm.lat), "lon": None if alarm.lon is None else str(alarm.lon),
            "detail": alarm.detail}


def read_alarm(item: object, devices: Sequence[str] | None) -> Alarm:
    """Read an alarm object of a response or callback; raise BadValue for a member that cannot be read."""
    if not isinstance(item, dict):
        raise BadValue("an alarm is not a JSON object", "告警不是 JSON 对象")
    alarm_id, device_id, kind, detail = item.get("alarm_id"), item.get("device_id"), item.get("type"), item.get("detail")
    if not isinstance(alarm_id, str) or not alarm_id or not isinstance(device_id, str) or not device_id:
        raise BadValue("an alarm lacks its alarm_id or device_id", "告警缺少 alarm_id 或 device_id")
    if devices is not None and device_id not in devices:
        raise BadValue(f"an alarm names device {device_id[:64]!r}, which was not requested", f"告警中的设备 {device_id[:64]!r} 不在查询范围内")
    if kind not in ALARM_TYPES:
        raise BadValue(f"the alarm type {str(kind)[:40]!r} is not one of {', '.join(ALARM_TYPES)}",
                       f"告警类型 {str(kind)[:40]!r} 不是 {', '.join(ALARM_TYPES)} 之一")
    if not (detail is None or isinstance(detail, str)):
        raise BadValue("an alarm's detail is not text", "告警的 detail 不是字符串")
    lat, lon = item.get("lat"), item.get("lon")
    if (lat is None) != (lon is None):
        raise BadValue("an alarm gives only one of lat and lon", "告警只给出了 lat 和 lon 之一")
    return Alarm(alarm_id, device_id, str(kind), moment(item.get("time")),
                 None if lat is None else _coordinate(lat, 90), None if lon is None else _coordinate(lon, 180), detail)


def parse_alarm(secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
    """Verify a pushed alarm's signature and read it; raise SignatureRejected or BadCallback."""
    document = read_event(secret, method, path, headers, body, shape_en="event_id, alarm_id, device_id, type and time",
                          shape_zh="event_id、alarm_id、device_id、type 和 time")
    try:
        alarm = read_alarm(document, None)
    except BadValue as error:
        raise BadCallback(f"The pushed alarm cannot be read: {error.en}", f"推送的告警无法解析：{error.zh}") from None
    return Callback(document["event_id"], f"gps_{alarm.type}", describe(alarm))


def _coordinate(value: object, limit: int) -> Decimal:
    number = decimal_number(value, COORDINATE_PLACES, rounded=True)
    if abs(number) > limit:
        raise BadValue(f"the coordinate {number} is beyond ±{limit}°", f"坐标 {number} 超出 ±{limit}°")
    return number


def _checked(config: ProviderConfig, device_ids: Sequence[str], since: datetime) -> list[str]:
    """Return the device ids without repeats; raise ProviderError "rejected" for invalid ids or a naive `since`."""
    if isinstance(device_ids, str) or not device_ids:
        _reject(config, f"Pass a list of 1 to {MAX_DEVICES} device ids", f"请传入 1 到 {MAX_DEVICES} 个设备编号的列表")
    for device_id in device_ids:
        if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
            _reject(config, f"{str(device_id)[:70]!r} is not a device id: 1 to 64 letters, digits, '-' or '_'",
                    f"{str(device_id)[:70]!r} 不是有效的设备编号：应为 1 到 64 个字母、数字、“-”或“_”")
    unique = list(dict.fromkeys(device_ids))
    if len(unique) > MAX_DEVICES:
        _reject(config, f"{len(unique)} devices were requested; request at most {MAX_DEVICES} per call",
                f"一次查询了 {len(unique)} 台设备，每次最多查询 {MAX_DEVICES} 台")
    if not isinstance(since, datetime) or since.tzinfo is None or since.utcoffset() is None:
        _reject(config, "Give `since` as a datetime with a time zone, such as datetime.now(timezone.utc)",
                "since 应为带时区的 datetime，例如 datetime.now(timezone.utc)")
    return unique


def _reject(config: ProviderConfig, en: str, zh: str) -> NoReturn:
    raise ProviderError(config.name, "rejected", en, zh)


@register_provider(INTERFACE, "http")
class HttpGps(HttpProvider):
    service_en = "the GPS platform"
    service_zh = "GPS 定位平台"

    def positions(self, device_ids: Sequence[str], since: datetime) -> list[Position]:
        devices = _checked(self.config, device_ids, since)
        answer = self.call("POST", "/gps/positions", {"device_ids": devices, "since": since.isoformat()},
                           operation="positions", ids={"devices": len(devices)})
        items = answer.get("positions")
        if not isinstance(items, list):
            raise self._unreadable("the positions member is not a list", "positions 不是列表")
        latest: dict[str, Position] = {}
        for item in items:
            try:
                position = self._position(item, devices)
            except BadValue as error:
                raise self._unreadable(error.en, error.zh) from None
            current = latest.get(position.device_id)
            if current is None or position.time > current.time:
                latest[position.device_id] = position
        return [latest[device] for device in devices if device in latest]

    def alarms(self, device_ids: Sequence[str], since: datetime) -> list[Alarm]:
        devices = _checked(self.config, device_ids, since)
        answer = self.call("POST", "/gps/alarms", {"device_ids": devices, "since": since.isoformat()},
                           operation="alarms", ids={"devices": len(devices)})
        items = answer.get("alarms")
        if not isinstance(items, list):
            raise self._unreadable("the alarms member is not a list", "alarms 不是列表")
        try:
            alarms = [read_alarm(item, devices) for item in items]
        except BadValue as error:
            raise self._unreadable(error.en, error.zh) from None
        return sorted(alarms, key=lambda alarm: alarm.time)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_alarm(callback_secret(self.config, self.secret), method, path, headers, body)

    def _position(self, item: object, devices: Sequence[str]) -> Position:
        if not isinstance(item, dict):
            raise BadValue("a position is not a JSON object", "定位不是 JSON 对象")
        device_id, online = item.get("device_id"), item.get("online")
        if not isinstance(device_id, str) or device_id not in devices:
            raise BadValue(f"a position names device {str(device_id)[:64]!r}, which was not requested",
                           f"定位中的设备 {str(device_id)[:64]!r} 不在查询范围内")
        if not isinstance(online, bool):
            raise BadValue("a position's online flag is not true or false", "定位的 online 不是 true 或 false")
        speed = decimal_number(item.get("speed"), 1, rounded=True)
        if speed < 0:
            raise BadValue(f"the speed {speed} is negative", f"速度 {speed} 为负数")
        return Position(device_id, moment(item.get("time")), _coordinate(item.get("lat"), 90), _coordinate(item.get("lon"), 180),
                        speed, online)

    def _unreadable(self, en: str, zh: str) -> ProviderError:
        return ProviderError(self.config.name, "bad_response",
                             f"The GPS platform sent a response that cannot be read ({en}); try again later",
                             f"GPS 定位平台返回的内容无法解析（{zh}），请稍后重试")


@register_provider(INTERFACE, "sandbox")
class SandboxGps:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.secret = sandbox_secret(config)
        #: The sandbox's time source, an aware datetime; tests replace it to fix the tracks.
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def positions(self, device_ids: Sequence[str], since: datetime) -> list[Position]:
        devices = _checked(self.config, device_ids, since)
        minute = self._minute()
        found = []
        for device in devices:
            online = not device.endswith("0")
            last_report = minute if online else minute - timedelta(minutes=120)
            if last_report >= since:
                found.append(self.position_at(device, last_report, online=online))
        return found

    def alarms(self, device_ids: Sequence[str], since: datetime) -> list[Alarm]:
        devices = _checked(self.config, device_ids, since)
        now = self.clock()
        found = []
        for device in devices:
            kind = _SANDBOX_ALARMS.get(device[-1])
            if kind is None:
                continue
            day = max(since, now - timedelta(days=366)).astimezone(timezone.utc).date()
            # One alarm a day at SANDBOX_ALARM_TIME, from the day of `since` (at most a year back) to now.
            while (raised := datetime.combine(day, SANDBOX_ALARM_TIME)) <= now:
                if raised >= since:
                    position = self.position_at(device, raised, online=True)
                    found.append(Alarm(f"sbx-{device}-{kind}-{raised:%Y%m%d}", device, kind, raised, position.lat, position.lon,
                                       f"sandbox {ALARM_TYPES[kind][1].lower()}"))
                day += timedelta(days=1)
        return sorted(found, key=lambda alarm: (alarm.time, alarm.device_id))

    def position_at(self, device_id: str, at: datetime, *, online: bool = True) -> Position:
        """Return the sandbox position of a device at the minute of `at`."""
        digest = hashlib.sha256(device_id.encode("utf-8")).digest()
        home_lat, home_lon = SANDBOX_CITIES[digest[0] % 2]
        home_lat += Decimal(digest[1] - 128) / 2560
        home_lon += Decimal(digest[2] - 128) / 2560
        minute = at.astimezone(timezone.utc).replace(second=0, microsecond=0)
        if device_id.endswith("4"):
            lat, lon, speed = home_lat, home_lon, Decimal("0.0")
        else:
            angle = 2 * math.pi * ((int(minute.timestamp()) // 60 + digest[3]) % 60) / 60
            # A degree of longitude is shorter by cos(latitude), so the offset is stretched to keep the circle round.
            lat = home_lat + Decimal(SANDBOX_RADIUS_DEGREES * math.sin(angle))
            lon = home_lon + Decimal(SANDBOX_RADIUS_DEGREES * math.cos(angle) / math.cos(math.radians(float(home_lat))))
            speed = SANDBOX_SPEED_KMH
        places = Decimal(1).scaleb(-COORDINATE_PLACES)
        return Position(device_id, minute, lat.quantize(places), lon.quantize(places), speed, online)

    def callback_request(self, alarm: Alarm, path: str | None = None) -> tuple[dict[str, str], bytes]:
        """Return the headers and body of the signed callback that pushes `alarm`, posted to `path`."""
        document = {"event_id": f"{alarm.alarm_id}-push", **describe(alarm)}
        return sandbox_request(self.secret, path or f"/callbacks/{self.config.name}", document)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_alarm(self.secret, method, path, headers, body)

    def _minute(self) -> datetime:
        return self.clock().astimezone(timezone.utc).replace(second=0, microsecond=0)
