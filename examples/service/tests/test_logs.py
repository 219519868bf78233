import json
import logging

from app.logs import JSONFormatter


def test_lines_are_json_with_the_extra_fields():
    record = logging.makeLogRecord({"name": "app", "levelname": "INFO", "msg": "request", "status": 200})
    line = json.loads(JSONFormatter().format(record))
    assert line["level"] == "info"
    assert line["message"] == "request"
    assert line["status"] == 200
    assert line["time"].endswith("+00:00")


def test_requests_are_logged_without_the_key(client, api_key, caplog):
    caplog.set_level(logging.INFO, logger="app")
    client.get("/api/v1/info", headers={"X-API-Key": api_key})
    records = [r for r in caplog.records if r.getMessage() == "request"]
    assert len(records) == 1
    assert records[0].status == 200
    assert records[0].path == "/api/v1/info"
    assert all(api_key not in JSONFormatter().format(r) for r in caplog.records)


def test_healthy_probes_are_not_logged(client, caplog):
    caplog.set_level(logging.INFO, logger="app")
    client.get("/api/v1/health")
    assert not [r for r in caplog.records if r.getMessage() == "request"]
