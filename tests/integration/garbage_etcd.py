"""garbage_etcd - an HTTP server on loopback that answers like a broken etcd.

It speaks just enough HTTP/1.1 to read the daemon's requests (POST with a
Content-Length body) and answers every one of them with one chosen
misbehaviour (MISBEHAVIOURS). Where a misbehaviour has several forms, the
server takes them in turn, request by request on each path, so that a
short run meets them all.

It runs an asyncio loop in a background thread, like tests/faults/tcpproxy,
so tests drive it from plain synchronous code. What it saw is kept for the
test to judge: every connection, every request (time and path), and how
many bytes each answer got out before the client hung up.

Only 127.0.0.1 is ever bound.
"""

import asyncio
import base64
import json
import socket
import struct
import threading
import time

LOOPBACK = "127.0.0.1"
BIG_BODY = 50 * 1024 * 1024
ANSWER_LIMIT = 4 << 20          # ETCD_MAX_RESPONSE
NESTING = 20000

# What a sane member says when it cannot serve: retryable, 2 attempts a call.
NO_LEADER = b'{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}'
EMPTY_RANGE = (b'{"header":{"cluster_id":"1","member_id":"2","revision":"7",'
               b'"raft_term":"2"},"count":"0"}')
WATCH_CREATED = (b'{"result":{"header":{"cluster_id":"1","member_id":"2",'
                 b'"revision":"7","raft_term":"2"},"created":true}}\n')

REASONS = {200: "OK", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def _request_key(body):
    """The "key" a JSON request names, as sent (base64), or None."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("create_request"), dict):
        doc = doc["create_request"]
    return doc.get("key") if isinstance(doc, dict) else None


class Request:
    def __init__(self, path, body, index):
        self.path = path
        self.body = body
        self.index = index          # how many requests on this path came before


def _pick(forms, req):
    return forms[req.index % len(forms)]


def _head(status, headers):
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Oops')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _whole(status, body, ctype="application/json"):
    """A complete answer with a Content-Length, after which we close."""
    return _head(status, [("Content-Type", ctype), ("Content-Length", len(body)),
                          ("Connection", "close")]) + body


def _chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def _rst(writer):
    """Close with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def _send(writer, data):
    writer.write(data)
    await writer.drain()


# ------------------------------------------------------------ misbehaviours
#
# Each takes (server, request, writer) and returns True to keep the
# connection for another request. A raised ConnectionError ends it.

async def invalid_json(srv, req, w):
    forms = [b'{"header":{"revision":"7"}', b"{'header': {'revision': 7}}",
             b"}{", b"", b'{"header":{"revision":"7"}}trailing garbage',
             b"\xff\xfe\xfd not even UTF-8", b'{"ID":"1","TTL":"5",}']
    await _send(w, _whole(200, _pick(forms, req)))
    return False


WRONG_TYPES = {
    "/v3/kv/range": [b'{"header":"7","kvs":{"key":"a2V5"}}', b'{"kvs":"none","count":[]}',
                     b'{"header":{"revision":true},"kvs":[1,2]}', b"[]",
                     b'{"header":{"revision":"7"},"kvs":[{"key":17,"create_revision":{}}]}',
                     b'{"header":{"revision":"99999999999999999999999"}}'],
    "/v3/lease/grant": [b'{"ID":[],"TTL":"10"}', b'{"ID":"1","TTL":{"s":10}}',
                        b'{"ID":1.5e300,"TTL":true}', b'"a string"',
                        b'{"ID":"99999999999999999999999","TTL":"10"}',
                        b'{"ID":"12","TTL":"ten"}', b"null"],
    "/v3/kv/txn": [b'{"succeeded":"yes","header":{"revision":[]}}',
                   b'{"succeeded":true,"responses":{"response_put":1}}'],
    "/v3/lease/keepalive": [b'{"result":[]}', b'{"result":{"ID":true,"TTL":[3]}}'],
    "/v3/watch": [b'{"result":{"created":"yes","events":{"kv":1}}}\n'],
}


async def wrong_types(srv, req, w):
    forms = WRONG_TYPES.get(req.path, [b'{"header":[]}'])
    await _send(w, _whole(200, _pick(forms, req)))
    return False


async def truncated_chunked(srv, req, w):
    head = _head(200, [("Content-Type", "application/json"),
                       ("Transfer-Encoding", "chunked")])
    body = b'{"header":{"cluster_id":"1","member_id":"2","revision":"7"},"ID":"5","TTL":"5"}'
    forms = [
        head + b"400\r\n" + body[:40],          # a chunk cut short
        head + b"4",                            # cut inside a chunk-size line
        head + _chunk(body),                    # no terminating chunk
        head + b"zz\r\n" + body,                # not a chunk-size at all
    ]
    await _send(w, _pick(forms, req))
    w.close()
    return False


async def huge_body(srv, req, w):
    """50 MB, with a length or chunked, as long as the client reads."""
    block = b'{"key":"a2luZ3Ntb290L3N2Yy8x","value":"eA==","create_revision":"1"},' * 16384
    chunked = req.index % 2 == 1
    if chunked:
        start = _head(200, [("Content-Type", "application/json"),
                            ("Transfer-Encoding", "chunked")]) + _chunk(b'{"kvs":[')
    else:
        start = _head(200, [("Content-Type", "application/json"),
                            ("Content-Length", BIG_BODY)]) + b'{"kvs":['
    sent = 0
    try:
        await _send(w, start)
        while sent < BIG_BODY:
            part = block[:BIG_BODY - sent]
            await _send(w, _chunk(part) if chunked else part)
            sent += len(part)
    finally:
        srv.note_answer_bytes(sent)
    return False


async def dense_json(srv, req, w):
    """Under the daemon's 4 MiB answer limit, and nothing but JSON values:
    a parser spends far more on each than the 2 or 3 bytes it takes."""
    unit = _pick([b"[],", b"{},", b"0,", b'"",'], req)
    head, tail = b'{"header":{"revision":"7"},"kvs":[', b"0]}"
    body = head + unit * ((ANSWER_LIMIT - 64 - len(head)) // len(unit)) + tail
    await _send(w, _whole(200, body))
    return False


async def trickle(srv, req, w):
    """A valid answer, one byte a second, status line first."""
    answer = _whole(200, NO_LEADER if req.path != "/v3/kv/range" else EMPTY_RANGE)
    for i in range(len(answer)):
        await _send(w, answer[i:i + 1])
        await asyncio.sleep(1.0)
    return False


async def reset(srv, req, w):
    forms = ["now", "half-head", "after-head"]
    form = _pick(forms, req)
    if form == "half-head":
        await _send(w, b"HTTP/1.1 200 OK\r\nContent-Ty")
    elif form == "after-head":
        await _send(w, _head(200, [("Content-Type", "application/json"),
                                   ("Content-Length", 100)]) + b'{"hea')
    _rst(w)
    return False


HTML = (b"<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s"
        b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


async def html_5xx(srv, req, w):
    status = _pick([502, 503, 500, 504], req)
    reason = REASONS[status].encode()
    body = HTML % (status, reason, status, reason)
    await _send(w, _whole(status, body, ctype="text/html"))
    return False


async def nul_bytes(srv, req, w):
    key = json.dumps(base64.b64encode(b"kingsmoot/svc/\0\0").decode())
    forms = [
        b'{"header":{"revision":"7"},"ID":"1\x002","TTL":"5"}',        # raw NUL in text
        b'\x00{"header":{"revision":"7"},"ID":"12","TTL":"5"}',        # NUL first
        b'{"header":{"revision":"7\\u0000"},"ID":"1\\u00002","TTL":"5\\u0000"}',
        b'{"header":{"revision":"7"},"kvs":[{"key":' + key.encode() +
        b',"value":"AAAA","create_revision":"1\\u0000"}],"ID":"\\u0000","TTL":"\\u0000"}',
        b"\x00" * 64,
    ]
    await _send(w, _whole(_pick([200, 200, 200, 200, 503], req), _pick(forms, req)))
    return False


async def deep_nesting(srv, req, w):
    forms = [b"[" * NESTING + b"]" * NESTING,
             b'{"a":' * NESTING + b"1" + b"}" * NESTING,
             b'{"error":' * NESTING + b'"x"' + b"}" * NESTING]
    status = 200 if req.index % 2 == 0 else 503
    await _send(w, _whole(status, _pick(forms, req)))
    return False


async def watch_unterminated(srv, req, w):
    """Everything sane but the watch, whose line never ends."""
    if req.path == "/v3/kv/range":
        await _send(w, _whole(200, EMPTY_RANGE))
        return False
    if req.path != "/v3/watch":
        await _send(w, _whole(503, NO_LEADER))
        return False
    await _send(w, _head(200, [("Content-Type", "application/json"),
                               ("Transfer-Encoding", "chunked")]))
    if req.index % 2 == 0:
        await _send(w, _chunk(WATCH_CREATED))
    block = b'{"result":{"events":[' + b"x" * 65500
    sent = 0
    try:
        while True:
            await _send(w, _chunk(block))
            sent += len(block)
            if sent > BIG_BODY:
                # Far past any sane bound: keep the line open, slowly.
                await asyncio.sleep(0.1)
    finally:
        srv.note_answer_bytes(sent)


MISBEHAVIOURS = {
    "invalid_json": invalid_json,
    "wrong_types": wrong_types,
    "truncated_chunked": truncated_chunked,
    "huge_body": huge_body,
    "dense_json": dense_json,
    "trickle": trickle,
    "reset": reset,
    "html_5xx": html_5xx,
    "nul_bytes": nul_bytes,
    "deep_nesting": deep_nesting,
    "watch_unterminated": watch_unterminated,
}


# A sane etcd in every answer but one ordering that etcd itself allows: a
# watch created from a past revision says, in its "created" message, the
# store's current revision, and only then replays the events up to it. Our
# candidate key (lease 0x1234) is created at revision 12 while the
# election was read at 10; its PUT reaches the watch a second later.
AHEAD_LEASE = 0x1234


def _json(obj):
    return json.dumps(obj).encode()


async def watch_created_ahead(srv, req, w):
    rev = {"revision": "12"}
    if req.path == "/v3/kv/range":
        await _send(w, _whole(200, _json({"header": {"revision": "10"}})))
    elif req.path == "/v3/lease/grant":
        await _send(w, _whole(200, _json({"header": rev, "ID": str(AHEAD_LEASE),
                                          "TTL": "3"})))
    elif req.path == "/v3/lease/keepalive":
        await _send(w, _whole(200, _json({"result": {"header": rev,
                                                     "ID": str(AHEAD_LEASE), "TTL": "3"}})))
    elif req.path == "/v3/kv/txn":
        await _send(w, _whole(200, _json({"header": rev, "succeeded": True})))
    elif req.path != "/v3/watch":
        await _send(w, _whole(200, _json({"header": rev})))
    else:
        key = base64.b64decode(_request_key(req.body) or "")
        await _send(w, _head(200, [("Content-Type", "application/json"),
                                   ("Transfer-Encoding", "chunked")]))
        await _send(w, _chunk(_json({"result": {"header": rev, "created": True}}) + b"\n"))
        if key.endswith(b"/"):
            await asyncio.sleep(1.0)
            ours = key + b"%x" % AHEAD_LEASE
            kv = {"key": base64.b64encode(ours).decode(), "create_revision": "12",
                  "mod_revision": "12", "version": "1", "lease": str(AHEAD_LEASE),
                  "value": base64.b64encode(srv.node_id.encode()).decode()}
            await _send(w, _chunk(_json({"result": {"header": rev,
                                                    "events": [{"kv": kv}]}}) + b"\n"))
        while True:
            await asyncio.sleep(3600)
    return False


SCRIPTED = {"watch_created_ahead": watch_created_ahead}


class GarbageEtcd:
    def __init__(self, misbehaviour, name=None, node_id="node-a"):
        self.misbehaviour = misbehaviour
        self.handler = MISBEHAVIOURS.get(misbehaviour) or SCRIPTED[misbehaviour]
        self.node_id = node_id
        self.name = name or misbehaviour
        self.port = None
        self.connections = 0
        self.requests = []          # (time.monotonic(), path, key), in arrival order
        self.answer_bytes = []      # body bytes each big answer got out
        self.handler_errors = []    # anything but the client hanging up
        self._per_path = {}
        self._loop = None
        self._server = None
        self._thread = None
        self._tasks = set()

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}"

    def start(self):
        ready = threading.Event()
        failure = []

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(asyncio.start_server(
                    self._serve, LOOPBACK, 0, limit=1 << 16))
                self.port = self._server.sockets[0].getsockname()[1]
            except OSError as e:
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"garbage-{self.name}",
                                        daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def close(self):
        if self._loop is None or not self._thread.is_alive():
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            fut.result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _shutdown(self):
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def note_answer_bytes(self, n):
        self.answer_bytes.append(n)

    def times(self, path, key=None):
        """When each request on path (and for key, base64 as sent, if
        given) arrived (time.monotonic())."""
        return [t for t, p, k in list(self.requests)
                if p == path and (key is None or k == key)]

    def describe(self):
        paths = {}
        for _, p, _ in list(self.requests):
            paths[p] = paths.get(p, 0) + 1
        return (f"garbage etcd {self.name} :{self.port}: {self.connections} connections, "
                f"requests {paths}, big answers {self.answer_bytes[-5:]}, "
                f"handler errors {self.handler_errors[-3:]}")

    async def _read_request(self, reader):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        body = await reader.readexactly(length) if length else b""
        path = parts[1]
        index = self._per_path.get(path, 0)
        self._per_path[path] = index + 1
        self.requests.append((time.monotonic(), path, _request_key(body)))
        return Request(path, body, index)

    async def _serve(self, reader, writer):
        self.connections += 1
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            while True:
                req = await self._read_request(reader)
                if req is None or not await self.handler(self, req, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception as e:  # a defect of this server, not of the daemon
            self.handler_errors.append(repr(e))
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()
