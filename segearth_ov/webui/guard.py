"""Who may talk to the server: the protections Jupyter uses against other web pages.

Why: the page binds to loopback, but any web site the user visits can make the browser send
requests there. A foreign page cannot read the answers, yet it can POST (a form, or a fetch
without preflight: text/plain, no Content-Type), and through DNS rebinding (its own name
resolving to 127.0.0.1) it can read them too. So, as ASGI middleware in front of every route:

- Host allow-list: the bound address, localhost, 127.0.0.1, [::1] and --allow-host; a
  rebound name is refused.
- A random per-launch token on every /api/ call: the `X-SegEarth-Token` header (GET may
  give it as `?token=`, for map tiles and download links, which cannot send headers). The
  page (static, no data in it) loads without it and reads it from the URL's `#token=`.
- Origin, when sent with a state-changing request, must be the server's own.
- State-changing requests carry a body type a foreign page cannot send without a CORS
  preflight (which is never granted): uploads application/octet-stream, the rest JSON.
- JSON bodies are read here, at most MAX_JSON_BYTES, before any route sees them.
- Only HTTP: a websocket is refused (the page has none).
- Every answer carries a Content-Security-Policy: scripts only from this server (so a
  class name that is HTML can never run), images from here and the --basemap host.
"""
from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

TOKEN_HEADER = 'x-segearth-token'
LOCAL_HOSTS = ('localhost', '127.0.0.1', '::1')
BODY_TYPES = {'/api/scenes': 'application/octet-stream',       # the page sends the file as is
              '/api/scenes/pick': 'application/json', '/api/jobs': 'application/json'}
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')
MAX_JSON_BYTES = 64 * 1024          # the page's JSON bodies are a few hundred bytes
SECURITY_HEADERS = [(b'referrer-policy', b'no-referrer'), (b'x-content-type-options', b'nosniff'),
                    (b'x-frame-options', b'DENY')]


def content_security_policy(basemap: str | None = None) -> str:
    """Scripts, styles and requests: this server only; images also the basemap's host
    (its {s} subdomain template as a wildcard)."""
    images = "'self' data:"
    if basemap:
        import re
        from urllib.parse import urlsplit
        parts = urlsplit(basemap)
        host = re.sub(r'\{[^}]*\}', '*', parts.netloc)
        ok = '*' not in host or (host.startswith('*.') and '*' not in host[2:])
        images += f' {parts.scheme}://{host}' if ok else f' {parts.scheme}:'
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"img-src {images}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def allowed_hosts(bound: str, extra=()) -> set[str]:
    """Host names the server answers to; '*' in `extra` allows any."""
    hosts = set(LOCAL_HOSTS) | {h.strip().lower().strip('[]') for h in extra if h.strip()}
    if bound not in ('0.0.0.0', '::', ''):
        hosts.add(bound.lower().strip('[]'))
    return hosts


def split_host(value: str) -> tuple[str, int | None]:
    """('name', port) of a Host header or URL netloc; IPv6 without its brackets."""
    value = value.strip().lower()
    if value.startswith('['):
        name, _, rest = value[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else ''
    else:
        name, _, port = value.partition(':')
    return name, int(port) if port.isdigit() else None


class Guard:
    """ASGI middleware refusing foreign hosts, missing tokens, foreign origins and body types
    a cross-site request could send; adds no-referrer / no-framing headers to every answer."""

    def __init__(self, app, token: str, hosts: set[str], basemap: str | None = None):
        self.app, self.token, self.hosts = app, token, hosts
        self.headers = [*SECURITY_HEADERS, (b'content-security-policy',
                                            content_security_policy(basemap).encode())]

    def problem(self, scope, headers: dict) -> tuple[int, str] | None:
        method, path = scope['method'], scope['path']
        host = headers.get('host', '')
        name, port = split_host(host)
        if '*' not in self.hosts and name not in self.hosts:
            return 403, (f'Host {host!r} is refused: open the page through 127.0.0.1 or '
                         f'localhost, or start the server with --allow-host {name or "NAME"}')
        if not path.startswith('/api/'):
            return None
        token = headers.get(TOKEN_HEADER)
        if token is None and method in SAFE_METHODS:
            query = parse_qs(scope.get('query_string', b'').decode('latin-1'))
            token = query.get('token', [None])[0]
        if not token or not secrets.compare_digest(token.encode(), self.token.encode()):
            return 403, ('missing or wrong token: open the page with the address the server '
                         'printed at start (it ends with #token=…)')
        if method in SAFE_METHODS:
            return None
        origin = headers.get('origin')
        if origin is not None:
            scheme = scope.get('scheme', 'http')
            default = 443 if scheme == 'https' else 80
            o = urlsplit(origin)
            o_name, o_port = split_host(o.netloc)
            o_port = o_port or (443 if o.scheme == 'https' else 80)
            if (o.scheme, o_name, o_port) != (scheme, name, port or default):
                return 403, f'requests from the web page at {origin!r} are refused'
        want = BODY_TYPES.get(path)
        got = headers.get('content-type', '').split(';')[0].strip().lower()
        if want is not None and got != want:
            return 415, f'{path} takes a {want} body, not {got or "one without a Content-Type"}'
        return None

    async def refuse(self, send, status: int, message: str) -> None:
        body = json.dumps({'error': message}).encode()
        await send({'type': 'http.response.start', 'status': status,
                    'headers': [(b'content-type', b'application/json'),
                                (b'content-length', str(len(body)).encode()), *self.headers]})
        await send({'type': 'http.response.body', 'body': body})

    async def __call__(self, scope, receive, send):
        if scope['type'] == 'websocket':
            await receive()                     # websocket.connect
            await send({'type': 'websocket.close', 'code': 1008,
                        'reason': 'websockets are refused: the page uses HTTP only'})
            return
        if scope['type'] != 'http':             # lifespan
            return await self.app(scope, receive, send)
        headers = {k.decode('latin-1').lower(): v.decode('latin-1') for k, v in scope['headers']}
        refused = self.problem(scope, headers)
        if refused is None and BODY_TYPES.get(scope['path']) == 'application/json' and \
                scope['method'] not in SAFE_METHODS:
            refused, receive = await json_body(headers, receive)
        if refused is not None:
            return await self.refuse(send, *refused)

        async def send_with_headers(message):
            if message['type'] == 'http.response.start':
                message = dict(message, headers=[*message.get('headers', []), *self.headers])
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def json_body(headers: dict, receive):
    """(refusal or None, a receive that replays the body): the body read whole, at most
    MAX_JSON_BYTES (a longer one is refused before it is read, or as soon as it passes)."""
    too_long = 413, (f'the JSON body is larger than {MAX_JSON_BYTES // 1024} KiB: the page '
                     'sends a few hundred bytes')
    length = headers.get('content-length', '')
    if length.isdigit() and int(length) > MAX_JSON_BYTES:
        return too_long, receive
    body = bytearray()
    while True:
        message = await receive()
        if message['type'] != 'http.request':
            return (400, 'the request ended before its body'), receive
        body += message.get('body', b'')
        if len(body) > MAX_JSON_BYTES:
            return too_long, receive
        if not message.get('more_body'):
            break
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {'type': 'http.request', 'body': bytes(body), 'more_body': False}
        return await receive()          # http.disconnect
    return None, replay
