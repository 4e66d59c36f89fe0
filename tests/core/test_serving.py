"""`maeul serve --workers N` keeps TCP_NODELAY on its connections (uvicorn's own socket loses it: issue #3149, a
40 ms delayed-ACK stall on every keep-alive request after the first)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from core.serving import TcpConfig


async def _nodelay_of_accepted(listener: socket.socket) -> int:
    """Accept one connection on `listener` the way uvicorn's workers do (asyncio, a pre-bound socket)."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    port = listener.getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(accepted, 5)
    finally:
        writer.close()
        server.close()


async def test_the_socket_maeul_binds_gives_connections_tcp_nodelay() -> None:
    listener = TcpConfig("loadtests.bare:app", host="127.0.0.1", port=0, workers=2).bind_socket()
    assert listener.proto == socket.IPPROTO_TCP
    assert await _nodelay_of_accepted(listener) == 1


async def test_uvicorns_own_socket_would_lose_it() -> None:
    """The reason for core.serving: if uvicorn fixes this, the workaround can go."""
    listener = uvicorn.Config("loadtests.bare:app", host="127.0.0.1", port=0, workers=2).bind_socket()
    assert await _nodelay_of_accepted(listener) == 0
