"""Logs an operator can ship anywhere: JSON, UTC times, one access line per request, no customer text."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from sav_bridge import logs
from sav_bridge.channels.x.signing import SIGNATURE_HEADER
from tests.harness import CLAIRE, CONSUMER_SECRET, start_gateway

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The process's logging, configured as `serve` does at DEBUG, into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("DEBUG", [CONSUMER_SECRET], stream)
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_at_debug_no_customer_text_reaches_the_log(
    captured: io.StringIO, tmp_path: Path, vendor_dir: Path | None
) -> None:
    gw = await start_gateway(f"sqlite:///{tmp_path / 'sav-bridge.db'}", vendor_dir)
    try:
        secret_text = "ma carte 4970101234567893 code 1234 très personnel"
        response = await gw.post_x(gw.x.customer_post(CLAIRE, f"@MaBanque {secret_text}"))
        assert response.status_code == 200
        await gw.drain()
        assert gw.zendesk.tickets  # the text did travel, to the helpdesk only
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
    text = captured.getvalue()
    assert lines(captured), "nothing was logged at DEBUG"
    assert "très personnel" not in text and "4970101234567893" not in text
    assert CONSUMER_SECRET not in text


async def test_log_lines_are_json_with_iso_utc_times_and_one_access_line_per_request(
    captured: io.StringIO, tmp_path: Path, vendor_dir: Path | None
) -> None:
    gw = await start_gateway(f"sqlite:///{tmp_path / 'sav-bridge.db'}", vendor_dir)
    try:
        await gw.client.get("/webhooks/x", params={"crc_token": "challenge-secret-123"})
        refused = await gw.client.post(
            "/webhooks/x",
            content=b"{}",
            headers={SIGNATURE_HEADER: "sha256=Zm9yZ2Vk", "x-request-id": "abc-42"},
        )
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
    records = lines(captured)
    assert all(ISO_UTC.fullmatch(str(r["time"])) for r in records)
    access = [r for r in records if r["logger"] == "sav_bridge.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [
        ("GET", "/webhooks/x", 200),
        ("POST", "/webhooks/x", 401),
    ]
    assert access[1]["request_id"] == "abc-42" and refused.headers["x-request-id"] == "abc-42"
    assert re.fullmatch(r"[0-9a-f]{32}", str(access[0]["request_id"]))
    assert all(isinstance(r["duration_ms"], float) for r in access)
    [refusal] = [r for r in records if str(r["message"]).startswith("rejected POST /webhooks/x")]
    assert refusal["request_id"] == "abc-42"  # the refusal's line and its access line tie together
    text = captured.getvalue()
    assert "challenge-secret-123" not in text and "Zm9yZ2Vk" not in text  # no query, no signature


def test_uvicorn_lines_carry_no_terminal_colours(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]",
        7,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
    )
    [record] = lines(captured)
    assert record["message"] == "Started server process [7]" and "color_message" not in record
    assert "\x1b" not in captured.getvalue()


@pytest.mark.parametrize(
    ("message", "args", "extra"),
    [
        ("plain %s", ("text",), {}),
        ("accents é ü %d", (3,), {"path": "/webhooks/x", "status": 200, "duration_ms": 1.5, "none": None}),
        ("nested", None, {"fields": {"k": [1, "é"]}, "when": datetime(2026, 1, 1), "error": ValueError("x")}),
        ("private", None, {"_hidden": 1, "request_id": "abc-42"}),
    ],
)
def test_a_plain_record_s_short_path_writes_the_line_python_json_logger_writes(
    message: str, args: tuple[object, ...] | None, extra: dict[str, object]
) -> None:
    formatter = logs.UtcJsonFormatter()
    logger = logging.getLogger("sav_bridge.test")

    def record() -> logging.LogRecord:
        return logger.makeRecord(logger.name, logging.INFO, "f.py", 1, message, args, None, extra=extra)

    general = JsonFormatter.format(formatter, record())
    assert formatter.format(record()) == general
    assert json.loads(general)["logger"] == "sav_bridge.test"
