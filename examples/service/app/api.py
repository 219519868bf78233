"""The HTTP API."""

import hmac
import logging
import time

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, status

from app.config import HEALTH_PATH, SERVICE_NAME, VERSION, Settings

log = logging.getLogger("app")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    if not settings.api_key:
        log.error("API_KEY is not set: every request that needs it is refused")

    def require_api_key(x_api_key: str = Header(default="")) -> None:
        if not settings.api_key:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the API key is not configured")
        # Constant time, so the comparison leaks nothing about the key.
        if not hmac.compare_digest(x_api_key.encode(), settings.api_key.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-API-Key header")

    app = FastAPI(title=SERVICE_NAME, version=VERSION)
    router = APIRouter(prefix="/api/v1")

    @router.get(HEALTH_PATH.removeprefix("/api/v1"))
    def health() -> dict:
        """Liveness and readiness: answers while the process serves requests. Needs no key."""
        return {"status": "ok"}

    @router.get("/info", dependencies=[Depends(require_api_key)])
    def info() -> dict:
        """What is running; callers must present the API key."""
        return {"service": SERVICE_NAME, "version": VERSION}

    app.include_router(router)

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        # Health checks every few seconds would drown the log; they are logged only when they fail.
        if request.url.path != HEALTH_PATH or response.status_code != 200:
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                },
            )
        return response

    return app
