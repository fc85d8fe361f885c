"""systemd's notify socket full: nothing reads it for a while (PID 1 busy),
and its datagram queue (net.unix.max_dgram_qlen) is already full. The
daemon must go on electing, resigning and stopping; what it had to say
arrives, newest STATUS last, once the socket is read again."""

import signal
import socket

import kmtest


def fill(receiver):
    """Datagrams up to the receiver's queue limit; True once it is full."""
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.setblocking(False)
    try:
        for i in range(10000):
            try:
                sender.sendto(f"X_FILLER={i}".encode(), receiver.path)
            except BlockingIOError:
                return True
    finally:
        sender.close()
    return False


def test_a_full_notify_socket_does_not_stop_the_daemon(km):
    receiver = kmtest.NotifySocket()
    km.cleanups.append(receiver.close)
    receiver.reading.clear()
    km.wait_for(lambda: fill(receiver), 5, "the notify socket's queue to fill")

    etcd = km.etcd()
    node = km.node("node-a", etcd).start(notify=receiver)
    km.wait_for(lambda: node.role() == "leader", 10,
                "node-a to lead while nobody reads its notify socket")
    term = int(node.state()["TERM"])
    node.send(signal.SIGUSR1)
    km.wait_for(lambda: node.role() == "leader" and int(node.state()["TERM"]) > term,
                10, "node-a to resign and lead again")
    term = int(node.state()["TERM"])

    # Read again: the messages it could not send come, in order.
    receiver.reading.set()

    def told():
        mine = [m for _, m in receiver.drain() if "X_FILLER" not in m]
        return mine if any("READY" in m for m in mine) and mine and \
            mine[-1].get("STATUS") == f"leader of svc (term {term})" else None
    mine = km.wait_for(told, 5, "READY=1 and the newest STATUS once the socket is read")
    assert [m for m in mine if "READY" in m] == [{"READY": "1"}], mine
    assert node.stop() == 0
