"""Settings, read from the environment the platform gives the pod."""

import os
from dataclasses import dataclass

SERVICE_NAME = "your-service"
VERSION = "0.1.0"

# The chart sets API_KEY from the platform's Secret <service>-secret, key api-key.
API_KEY_ENV = "API_KEY"
# The chart's probes call this path on this port.
HEALTH_PATH = "/api/v1/health"
PORT = 8000


@dataclass(frozen=True)
class Settings:
    api_key: str
    log_level: str

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            api_key=os.environ.get(API_KEY_ENV, ""),
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        )
