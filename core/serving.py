"""Serving an ASGI app with uvicorn in one or several worker processes.

With `--workers N` uvicorn (0.54) binds the listening socket itself with `proto` 0; accepted connections inherit it,
and asyncio only sets TCP_NODELAY on sockets that say IPPROTO_TCP. Nagle's algorithm then meets the client's delayed
ACK and every keep-alive request after the first waits about 40 ms on Linux (uvicorn issue #3149; measured here: a
bare endpoint answered in 44 ms with two workers, 1.6 ms with one). We bind the socket ourselves, as TCP.
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx
import uvicorn
from uvicorn.supervisors import Multiprocess


class TcpConfig(uvicorn.Config):
    """uvicorn's configuration, binding its socket as TCP (so accepted connections get TCP_NODELAY)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())


def serve(app: str, *, host: str, port: int, workers: int = 1, factory: bool = False) -> None:
    """Serve the app at import path `app` until Ctrl-C or SIGTERM."""
    config = TcpConfig(app, factory=factory, host=host, port=port, workers=workers, log_level="warning")
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def wait_until_answering(process: subprocess.Popen[Any], url: str, *, timeout_s: float = 120) -> None:
    """Wait until `url` answers 200 while `process`, the server behind it, keeps running; RuntimeError otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} stopped with exit code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")
        time.sleep(0.3)
