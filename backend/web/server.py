"""`courier web`: the FastAPI app under uvicorn, with WebSocket frame limits set at the server."""

from __future__ import annotations

import uvicorn

from backend.app import create_app
from backend.procs.role import configure_logging, tune_collector
from backend.settings import Settings
from backend.web.ws import websocket_endpoint
from backend.web.wsprotocol import GracefulWebSocketProtocol, UpgradingHttpProtocol
from backend.web.wsroute import DirectWebSockets

MAX_FRAME_BYTES = 64 * 1024


def uvicorn_config(settings: Settings, host: str, port: int) -> uvicorn.Config:
    """Frames over the limit are refused by the protocol layer with close code 1009."""
    app = DirectWebSockets(create_app(settings), {"/ws": websocket_endpoint})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=UpgradingHttpProtocol,
        ws=GracefulWebSocketProtocol,
        ws_max_size=MAX_FRAME_BYTES,
        # Events are small JSON objects: compressing each one costs more CPU than it saves.
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level=settings.log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )


def serve(settings: Settings, host: str, port: int) -> int:
    """Courier's own loggers get the same handler and format as in the other roles (uvicorn
    configures only its own)."""
    configure_logging(settings, "web")
    server = uvicorn.Server(uvicorn_config(settings, host, port))
    tune_collector()
    server.run()
    return 0 if server.started else 1
