"""A small stand-in for the Hugging Face Hub's HTTP API, on 127.0.0.1, that records calls.

It answers only what ``HfApi.create_repo`` and ``HfApi.create_commit`` ask:
``/api/repos/create``, ``/api/validate-yaml``, ``.../preupload/<rev>`` (every
file as a "regular" upload, so its bytes travel base64 in the commit) and
``.../commit/<rev>`` (NDJSON), whose files it keeps. ``refuse=401`` answers
every call with that status instead.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHub:
    def __init__(self, refuse: int | None = None) -> None:
        self.refuse = refuse
        self.calls: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.repos: list[dict[str, Any]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.calls.append({"method": "POST", "path": self.path,
                                  "auth": self.headers.get("Authorization")})
                status, answer = hub.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                hub.calls.append({"method": "GET", "path": self.path,
                                  "auth": self.headers.get("Authorization")})
                status = hub.refuse or 404
                data = json.dumps({"error": "not found"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short shutdown poll (0.5 s by default) keeps each test's teardown quick.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, body: bytes) -> tuple[int, Any]:
        path = path.split("?")[0]
        if self.refuse:
            return self.refuse, {"error": "Invalid credentials in Authorization header"}
        if path == "/api/repos/create":
            req = json.loads(body)
            self.repos.append(req)
            name = f"{req.get('organization') or 'me'}/{req['name']}"
            return 200, {"url": f"{self.url}/datasets/{name}"}
        if path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}
        if "/preupload/" in path:
            files = json.loads(body)["files"]
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                    "shouldIgnore": False} for f in files]}
        if "/commit/" in path:
            for line in body.splitlines():
                entry = json.loads(line)
                if entry["key"] == "file":
                    value = entry["value"]
                    self.files[value["path"]] = base64.b64decode(value["content"])
            repo = path.split("/commit/")[0].removeprefix("/api/")
            return 200, {"commitUrl": f"{self.url}/{repo}/commit/{'a' * 40}",
                         "commitOid": "a" * 40, "pullRequestUrl": None}
        return 404, {"error": f"the fake hub does not know {path}"}
