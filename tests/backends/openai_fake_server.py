"""A small OpenAI-compatible server on 127.0.0.1 whose failures a test scripts.

In-process (``FakeServer``): each POST takes the next action from ``script``
(an HTTP status with headers and body, a delay, a garbled body, a dropped
connection) and answers normally once the script is empty. As a process
(``python openai_fake_server.py PORT [--die-after N]``) it answers normally and,
with ``--die-after``, exits abruptly on its N-th chat request, as a crashed
server would.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

MODEL = "fake-model"


@attrs.define
class Reply:
    """One scripted answer: status, headers, body text, and a delay before it."""

    status: int = 200
    body: str | None = None  # None: the normal answer
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


def answer_for(body: dict[str, Any], fingerprint: str | None) -> dict[str, Any]:
    """The normal answer: echo the last user message, as JSON when a schema was sent."""
    last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    schema = bool(body.get("response_format") or body.get("guided_json"))
    content = json.dumps({"t": last}) if schema else f"ok: {last}"
    out: dict[str, Any] = {
        "id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(last.split()), "completion_tokens": 2},
    }
    if fingerprint:
        out["system_fingerprint"] = fingerprint
    return out


class FakeServer:
    """The in-process server; ``posts`` and ``headers`` record every chat request."""

    def __init__(self, port: int = 0, *, fingerprint: str | None = "fp_1",
                 delay: float = 0.0) -> None:
        self.script: list[Reply] = []
        self.posts: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fingerprint, self.delay = fingerprint, delay
        self.active = self.peak = 0
        self.lock = threading.Lock()
        #: Called first with each chat request; a Reply it returns wins over ``script``.
        self.on_post: Callable[[dict[str, Any]], Reply | None] | None = None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # serve_forever checks for shutdown every poll_interval (0.5 s by default), which
        # every test paid again at teardown.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up on us (a timeout test)

        def do_GET(self) -> None:
            self._send(200, json.dumps({"object": "list", "data": [{"id": MODEL}]}))

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            chosen = server.on_post(body) if server.on_post is not None else None
            with server.lock:
                server.posts.append(body)
                server.headers.append(dict(self.headers))
                reply = chosen or (server.script.pop(0) if server.script else Reply())
                server.active += 1
                server.peak = max(server.peak, server.active)
            try:
                time.sleep(reply.delay or server.delay)
                if reply.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                text = reply.body if reply.body is not None else json.dumps(
                    answer_for(body, server.fingerprint))
                self._send(reply.status, text, reply.headers)
            finally:
                with server.lock:
                    server.active -= 1

    return Handler


def spawn(port: int, *extra: str) -> subprocess.Popen[bytes]:
    """This module as a server process on ``port``; returns once it accepts connections."""
    proc = subprocess.Popen([sys.executable, __file__, str(port), *extra])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"fake server did not start on port {port}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--die-after", type=int, default=0)
    args = ap.parse_args()
    count = 0

    def maybe_die(_body: dict[str, Any]) -> None:  # returns nothing: answer normally
        nonlocal count
        count += 1
        if args.die_after and count >= args.die_after:
            os._exit(1)  # a crash: no answer, every connection reset

    server = FakeServer(args.port)
    server.on_post = maybe_die
    server.thread.join()


if __name__ == "__main__":
    main()
