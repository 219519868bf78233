"""Entry point: `python main.py` serves the app with uvicorn on 0.0.0.0:8000."""

import logging.config
import os

import uvicorn

from app import create_app
from app.config import PORT, Settings
from app.logs import log_config

settings = Settings.from_env()
logging.config.dictConfig(log_config(settings.log_level))
app = create_app(settings)

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="0.0.0.0",  # the pod's address; the chart's probes and Service reach it there
        port=int(os.environ.get("PORT", PORT)),
        log_config=log_config(settings.log_level),
        access_log=False,
        proxy_headers=True,
    )
