from app.config import HEALTH_PATH


def test_health_answers_without_a_key(client):
    response = client.get(HEALTH_PATH)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_answers_even_when_the_key_is_not_configured(unconfigured):
    assert unconfigured.get(HEALTH_PATH).status_code == 200


def test_info_needs_the_key(client):
    assert client.get("/api/v1/info").status_code == 401


def test_info_refuses_a_wrong_key(client):
    assert client.get("/api/v1/info", headers={"X-API-Key": "wrong"}).status_code == 401


def test_info_answers_with_the_key(client, api_key):
    response = client.get("/api/v1/info", headers={"X-API-Key": api_key})
    assert response.status_code == 200
    assert response.json()["service"] == "your-service"


def test_info_refuses_everyone_when_the_key_is_not_configured(unconfigured):
    response = unconfigured.get("/api/v1/info", headers={"X-API-Key": ""})
    assert response.status_code == 503
