"""A static HTTP server on 127.0.0.1 (a free port) that honours single `Range: bytes=a-b`
requests, as object stores and CDNs do, and records every request and the bytes it sent:
what the tests of remote reading count. Modes per file name, set by the test:
`ignore_range` (answers every GET with the whole file, as a plain web server without range
support), `refuse` (name → status, e.g. 403: an expired signature), `busy` (name → N: the
next N requests get 503, which GDAL retries), `drops` (the connection is cut halfway through the next N answers to ranges
that do not start at byte 0: a network that fails while the pixels are read).

`url(name)` starts with a random folder of this server (also accepted without it, as an S3
endpoint's bucket paths are): GDAL caches what it learnt of a URL for the process, and a
later test's server may get the same port."""
from __future__ import annotations

import http.server
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Served:
    path: str
    status: int
    range: str | None
    sent: int


@dataclass
class RangeServer:
    root: Path
    ignore_range: set = field(default_factory=set)
    drops: dict = field(default_factory=dict)
    refuse: dict = field(default_factory=dict)
    busy: dict = field(default_factory=dict)
    log: list = field(default_factory=list)

    def __enter__(self):
        import secrets
        server = self
        self.prefix = secrets.token_hex(4)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):      # quiet
                pass

            def do_HEAD(self):
                self.answer(head=True)

            def do_GET(self):
                self.answer(head=False)

            def answer(self, head: bool):
                name = urlsplit(self.path).path.lstrip('/')      # the query is ignored
                name = name.removeprefix(server.prefix + '/')
                file = server.root / name
                rng = self.headers.get('Range')
                if server.busy.get(name):
                    server.busy[name] -= 1
                    server.refuse[name] = 503
                if not name or not file.is_file() or name in server.refuse:
                    status = server.refuse.get(name, 404)
                    code = {404: 'NoSuchKey', 403: 'AccessDenied'}.get(status, 'Error')
                    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'  # as S3
                            f'{code}</Code><Message>{self.responses[status][0]}</Message>'
                            '</Error>').encode()
                    self.send_response(status)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    server.log.append(Served(name, status, rng, 0))
                    if status == 503:
                        server.refuse.pop(name)
                    return
                data = file.read_bytes()
                m = re.fullmatch(r'bytes=(\d+)-(\d*)', rng or '')
                if m and name not in server.ignore_range and int(m[1]) < len(data):
                    a = int(m[1])
                    b = min(int(m[2]) if m[2] else len(data) - 1, len(data) - 1)
                    body, status = data[a:b + 1], 206
                else:
                    body, status = data, 200
                self.send_response(status)
                self.send_header('Content-Type', 'application/json' if name.endswith('.json')
                                 else 'image/tiff')
                self.send_header('Content-Length', str(len(body)))
                if status == 206:
                    self.send_header('Content-Range', f'bytes {a}-{b}/{len(data)}')
                if name not in server.ignore_range:
                    self.send_header('Accept-Ranges', 'bytes')
                self.end_headers()
                if head:
                    server.log.append(Served(name, status, rng, 0))
                    return
                if server.drops.get(name) and status == 206 and a > 0:
                    server.drops[name] -= 1
                    cut = len(body) // 2
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    server.log.append(Served(name, status, rng, cut))
                    self.close_connection = True
                    import socket
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)
                server.log.append(Served(name, status, rng, len(body)))

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass        # a client that hangs up early (GDAL, after a refused range)

        self.httpd = Server(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
        return False

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, name: str) -> str:
        return f'http://127.0.0.1:{self.port}/{self.prefix}/{name}'

    def sent(self, name: str) -> int:
        return sum(s.sent for s in self.log if s.path == name)
