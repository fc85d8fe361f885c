"""tcpproxy - a loopback TCP proxy that injects network faults.

One proxy sits between ONE daemon and ONE etcd member (the daemon's config
names the proxy as its only endpoint). It runs an asyncio loop in a
background thread, so tests drive it from plain synchronous code.

Modes (switchable at any time; a switch applies to the bytes read from
then on, on existing connections as well as new ones):

  pass          forward both ways at once;
  blackhole     accept connections, never forward a byte either way (what
                was read is thrown away, like packets lost in a partition,
                and so is a FIN);
  drop_replies  forward client -> etcd, throw away etcd -> client (FIN
                included): etcd acts on every request (keepalives renew
                the lease!) and the daemon never hears back;
  delay         hold every chunk `delay` seconds in each direction, in
                order; bytes read before a switch back to `pass` still keep
                their due time, bytes never overtake each other, and bytes
                in flight towards etcd are delivered even when the client
                has already closed (like packets on the wire).

A test may also set `rewrite`, a function that edits each chunk in
flight without changing its length (tampering on an unencrypted link).
With one_request_per_connection set, the proxy adds "Connection: close"
to the first request on each connection, so etcd closes it after its
answer and the client must connect again for the next request.

heal() returns to `pass` and resets every connection that lost bytes,
since the byte stream on it is broken. reset() resets every connection
(both sides get an RST), which ends the daemon's watch stream.

Only 127.0.0.1 is ever bound or dialled.
"""

import asyncio
import socket
import struct
import threading
import time

LOOPBACK = "127.0.0.1"
MODES = ("pass", "blackhole", "drop_replies", "delay")


def _rst(writer):
    """Close with an RST rather than a FIN."""
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class _Conn:
    def __init__(self, proxy, cid, cw):
        self.proxy = proxy
        self.cid = cid
        self.cw = cw                 # client-side writer
        self.sw = None               # etcd-side writer
        self.damaged = False
        self.frozen = False          # blackholed on its own (freeze_existing)
        self.asked_to_close = False
        self.tasks = []
        self.closed = False

    def abort(self):
        if self.closed:
            return
        self.closed = True
        for w in (self.cw, self.sw):
            if w is not None:
                _rst(w)
        for t in self.tasks:
            t.cancel()


class TcpProxy:
    def __init__(self, target_port, listen_port=None, name="proxy"):
        self.name = name
        self.target_port = target_port
        self.listen_port = listen_port
        self.mode = "pass"
        self.delay = 0.0
        self.conns = {}
        self.next_id = 0
        self.stats = {"connections": 0, "c2s_bytes": 0, "s2c_bytes": 0,
                      "c2s_dropped": 0, "s2c_dropped": 0, "resets": 0}
        self.events = []             # (time.time(), text): mode changes etc.
        self.trace = None            # a list to record every chunk in, if set
        self.rewrite = None          # (direction, bytes) -> bytes of one length
        self.one_request_per_connection = False
        self._loop = None
        self._server = None
        self._thread = None

    # ------------------------------------------------------------- control
    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.listen_port}"

    def start(self):
        ready = threading.Event()
        failure = []

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(asyncio.start_server(
                    self._handle, LOOPBACK, self.listen_port or 0,
                    reuse_address=True))
                self.listen_port = self._server.sockets[0].getsockname()[1]
            except OSError as e:
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"tcpproxy-{self.name}",
                                        daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        self._note(f"listening on {self.listen_port} -> {self.target_port}")
        return self

    def set_mode(self, mode, delay=None):
        assert mode in MODES, mode
        if delay is not None:
            self.delay = float(delay)
        self.mode = mode
        self._note(f"mode {mode}" + (f" ({self.delay:g} s)" if mode == "delay" else ""))

    def heal(self):
        """Back to pass; connections that lost bytes are reset."""
        self.mode = "pass"
        n = self._call(self._reset, True)
        self._note(f"healed; reset {n} damaged connection(s)")

    def freeze_existing(self):
        """Blackhole the connections open now, and only those: new ones
        pass. A long-lived stream (the daemon's watch) goes silent while
        fresh requests still get through."""
        n = 0
        for conn in list(self.conns.values()):
            conn.frozen = True
            n += 1
        self._note(f"froze {n} existing connection(s)")
        return n

    def reset(self):
        """Reset every connection now (the mode stays)."""
        n = self._call(self._reset, False)
        self._note(f"reset {n} connection(s)")
        return n

    def close(self):
        if self._loop is None or not self._thread.is_alive():
            return
        try:
            self._call(self._shutdown)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def describe(self):
        return (f"proxy {self.name} :{self.listen_port} -> :{self.target_port} "
                f"mode={self.mode} stats={self.stats}\n"
                + "\n".join(f"  {t:.3f} {e}" for t, e in self.events[-20:]))

    # ------------------------------------------------------------ internals
    def _note(self, text):
        self.events.append((time.time(), text))

    def _call(self, coro_fn, *args):
        fut = asyncio.run_coroutine_threadsafe(coro_fn(*args), self._loop)
        return fut.result(10)

    async def _reset(self, damaged_only):
        victims = [c for c in list(self.conns.values())
                   if c.damaged or not damaged_only]
        for c in victims:
            c.abort()
            self.conns.pop(c.cid, None)
        self.stats["resets"] += len(victims)
        return len(victims)

    async def _shutdown(self):
        self._server.close()
        await self._reset(False)

    async def _handle(self, cr, cw):
        cid = self.next_id
        self.next_id += 1
        conn = _Conn(self, cid, cw)
        self.conns[cid] = conn
        self.stats["connections"] += 1
        try:
            sr, sw = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            conn.abort()
            self.conns.pop(cid, None)
            return
        conn.sw = sw
        loop = asyncio.get_running_loop()
        q_up, q_down = asyncio.Queue(), asyncio.Queue()
        conn.tasks = [
            loop.create_task(self._pump(conn, cr, q_up, "c2s")),
            loop.create_task(self._send(conn, q_up, sw)),
            loop.create_task(self._pump(conn, sr, q_down, "s2c")),
            loop.create_task(self._send(conn, q_down, cw)),
        ]
        try:
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        finally:
            conn.abort()
            self.conns.pop(cid, None)

    def _dropping(self, direction, conn=None):
        return (self.mode == "blackhole" or (conn is not None and conn.frozen)
                or (self.mode == "drop_replies" and direction == "s2c"))

    async def _pump(self, conn, reader, queue, direction):
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            if data and self.rewrite is not None:
                # Same-length edits only: HTTP framing stays intact.
                data = self.rewrite(direction, data)
            mode = self.mode
            lag = self.delay if mode == "delay" else 0.0
            if self.trace is not None:
                self.trace.append((time.time(), conn.cid, direction, "read",
                                   data[:70]))
            if self._dropping(direction, conn):
                # Lost on the way, the FIN as well: the other side never
                # learns; heal() resets the connection.
                conn.damaged = True
                if not data:
                    return
                self.stats[f"{direction}_dropped"] += len(data)
                continue
            if (direction == "c2s" and self.one_request_per_connection
                    and not conn.asked_to_close and b"\r\n\r\n" in data):
                end = data.index(b"\r\n\r\n")
                data = data[:end] + b"\r\nConnection: close" + data[end:]
                conn.asked_to_close = True
            # A FIN travels like data: after what was sent before it.
            await queue.put((loop.time() + lag, data or None))
            if not data:
                return

    async def _send(self, conn, queue, writer):
        loop = asyncio.get_running_loop()
        direction = "c2s" if writer is conn.sw else "s2c"
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                # The other side closed: close this one once everything
                # that was in flight has been delivered.
                try:
                    writer.close()
                except (ConnectionError, OSError):
                    pass
                return
            if self.trace is not None:
                self.trace.append((time.time(), conn.cid, direction, "sent", data[:70]))
            try:
                writer.write(data)
                await writer.drain()
                self.stats[f"{direction}_bytes"] += len(data)
            except (ConnectionError, OSError):
                conn.damaged = True
                return
