import pytest
from fastapi.testclient import TestClient

from app import create_app
from app.config import Settings


@pytest.fixture
def api_key() -> str:
    return "test-key-0123456789"


@pytest.fixture
def client(api_key) -> TestClient:
    return TestClient(create_app(Settings(api_key=api_key, log_level="INFO")))


@pytest.fixture
def unconfigured() -> TestClient:
    return TestClient(create_app(Settings(api_key="", log_level="INFO")))
