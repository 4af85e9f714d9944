"""Serve the sandbox User Data API under uvicorn, in its own process, for the benchmarks.

Run by ``bench/context_assembly.py``, not by hand (though that works too)::

    python bench/_sandbox_server.py --latency 0.05 --users 2048

It binds 127.0.0.1 on a port the OS picks, prints ``PORT <n>`` on one line
once uvicorn accepts connections, and serves until it receives SIGTERM/SIGINT
or its standard input reaches end of file (the parent closes the pipe, or
dies), so it never outlives the benchmark.

``--users N`` seeds ``bench-<i>@example.com`` for i in 0..N-1, each with Ann's
seed text, so every conversation of a run can have a distinct user.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading

import uvicorn

from liveuser.sandbox import ANN_EMAIL, SANDBOX_USERS, create_user_data_api


def bench_email(index: int) -> str:
    return f"bench-{index}@example.com"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--users", type=int, default=2048)
    args = parser.parse_args()

    users = dict(SANDBOX_USERS)
    users.update({bench_email(i): SANDBOX_USERS[ANN_EMAIL] for i in range(args.users)})
    app = create_user_data_api(latency=args.latency, users=users)

    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says TCP; with proto 0, Nagle + delayed ACK add ~40 ms per
    # keep-alive request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=None,
        lifespan="off",
        access_log=False,
        backlog=4096,
        timeout_graceful_shutdown=1,
        # Longer than any pause between rounds: a client must never reuse a connection
        # the server closed while idle (the floor's aiohttp would fail on it).
        timeout_keep_alive=300,
    )
    server = uvicorn.Server(config)

    def watch_stdin() -> None:
        # End of file on stdin: the parent closed the pipe or died. Stop.
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        server.should_exit = True

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        print(f"PORT {port}", flush=True)

    async def run() -> None:
        announcer = asyncio.create_task(announce())
        try:
            await server.serve(sockets=[sock])
        finally:
            announcer.cancel()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    try:
        asyncio.run(run())
    finally:
        sock.close()


if __name__ == "__main__":
    main()
