"""The socket `sav-bridge serve` listens on: its connections send small answers at once.

Without TCP_NODELAY, a keep-alive answer written in two parts (head, then body) waits for the client's
delayed ACK, about 40 ms per request: asyncio sets it only on sockets made for TCP by name.
"""

from __future__ import annotations

import asyncio
import socket

from sav_bridge.cli import listen


async def test_connections_accepted_on_the_listening_socket_do_not_wait_for_acks() -> None:
    accepted: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    sock = listen("127.0.0.1", 0)
    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if accepted:
                break
            await asyncio.sleep(0.01)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert accepted and accepted[0] != 0
