"""The benchmarks' in-process server (bench.server), which the browser tests also use: what
its figures rest on."""

import socket

from bench.server import LiveServer, Served, http_floor_app


def test_floor_app_answers_a_search_shaped_request():
    # The floor's endpoint must parse the body as the service's search does (a string
    # annotation it cannot resolve would make FastAPI read `body` from the query string: a 422).
    with Served(http_floor_app()) as floor:
        r = floor.post("/search", json={"vector": [0.1] * 512, "k": 3})
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 3
    assert 0 < r.seconds < 60  # timed by the client process


def test_live_server_socket_says_tcp():
    # asyncio disables Nagle only on sockets whose proto is IPPROTO_TCP; accepted connections
    # inherit the listening socket's, and without it every response waits on a delayed ACK.
    server = LiveServer(http_floor_app())
    try:
        assert server.sock.proto == socket.IPPROTO_TCP
    finally:
        server.sock.close()
