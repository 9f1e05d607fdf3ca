#!/usr/bin/python3
"""A township system written in Python, integrating with stock libraries.

Proves that a non-C client can drive jiceng with Debian's python3-zmq and
python3-protobuf and the code protoc generates from proto/ (the Makefile
writes it to build/py): it starts build/jicengd on free loopback ports in a
temporary directory, sends an OrgEstablished and a MemberRegistered over a
DEALER socket, checks the Acks, resends (DUPLICATE), queries the member
(masked ID only), connects a status subscriber, and stops jicengd by pid.

Run with /usr/bin/python3 (not a pyenv python without the Debian modules):
    /usr/bin/python3 tests/integration/test_python.py
Exit status 0 when every test passed, 1 otherwise.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("JICENG_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "py"))

import zmq  # noqa: E402
from jiceng.v1 import envelope_pb2, events_pb2, query_pb2, status_pb2  # noqa: E402

TOWNSHIP = "510722103000"
ACK_TIMEOUT_MS = 10000
READY_TIMEOUT_S = 15


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def id_number(birth, seq):
    """A valid GB 11643 resident ID number (weighted mod-11 check)."""
    body = "510722%s%03d" % (birth, seq)
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


def now_ms():
    return int(time.time() * 1000)


class Daemon:
    """build/jicengd in a temporary data directory, with a NOTIFY_SOCKET
    of our own to learn READY=1."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jiceng-py-")
        self.ingest = "tcp://127.0.0.1:%d" % free_port()
        self.status = "tcp://127.0.0.1:%d" % free_port()
        self.query = "tcp://127.0.0.1:%d" % free_port()
        self.log_path = os.path.join(self.dir, "jicengd.log")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.proc = None

    def start(self):
        """Start and wait for READY=1; new ports if one was taken meanwhile."""
        for attempt in range(3):
            try:
                self.start_once()
                return
            except RuntimeError:
                self.stop()
                if attempt == 2 or "cannot bind" not in self.log():
                    raise
                self.ingest = "tcp://127.0.0.1:%d" % free_port()
                self.status = "tcp://127.0.0.1:%d" % free_port()
                self.query = "tcp://127.0.0.1:%d" % free_port()

    def start_once(self):
        env = dict(os.environ)
        for k in ("WATCHDOG_USEC", "WATCHDOG_PID", "JICENG_FAULT_CRASH_EVENT"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify_path
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BUILD, "jicengd"), "--data-dir", self.dir,
                 "--derived-dir", self.dir,   # beside the journal: removed with it
                 "--ingest", self.ingest, "--status", self.status,
                 "--query", self.query],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        self.wait_notify("READY=1", READY_TIMEOUT_S)

    def wait_notify(self, line, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("jicengd exited with %s\n%s" % (self.proc.returncode, self.log()))
            self.notify.settimeout(0.1)
            try:
                msg = self.notify.recv(4096).decode()
            except socket.timeout:
                continue
            if line in msg.split("\n"):
                return
        raise RuntimeError("no %s from jicengd within %ss\n%s" % (line, timeout_s, self.log()))

    def stop(self):
        """SIGTERM by pid, then SIGKILL after a timeout. Returns the exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.notify.close()
        if not os.environ.get("JICENG_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def envelope(event_id, **event):
    e = envelope_pb2.Envelope(event_id=event_id, township_id=TOWNSHIP, occurred_at=now_ms())
    (kind, msg), = event.items()
    getattr(e, kind).CopyFrom(msg)
    return e.SerializeToString()


class TownshipFromPython(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.stop()
            cls.daemon.cleanup()
            raise
        cls.ctx = zmq.Context()
        cls.dealer = cls.ctx.socket(zmq.DEALER)
        cls.dealer.setsockopt(zmq.LINGER, 0)
        cls.dealer.connect(cls.daemon.ingest)
        cls.idn = id_number("19820704", 42)
        cls.org = envelope("py-org-1", org_established=events_pb2.OrgEstablished(
            org_id="py-town", kind=events_pb2.TOWNSHIP_COMMITTEE,
            name="中共示范镇委员会", established_at=1262275200000))
        cls.member = envelope("py-member-1", member_registered=events_pb2.MemberRegistered(
            member_id="py-m-1", home_org_id="py-town", name="李明",
            id_number=cls.idn, category=events_pb2.FULL,
            admitted_at=994000000000, confirmed_at=1026000000000,
            phone="13912345678"))
        cls.seqs = {}

    @classmethod
    def tearDownClass(cls):
        failed = False
        if cls.daemon:
            for s in ("dealer",):
                if hasattr(cls, s):
                    getattr(cls, s).close()
            if hasattr(cls, "ctx"):
                cls.ctx.term()
            kids = cls.daemon.children()
            code = cls.daemon.stop()
            for pid in kids:  # children stop with jicengd
                for _ in range(100):
                    if not os.path.exists("/proc/%d" % pid):
                        break
                    time.sleep(0.05)
            if code != 0:
                failed = True
                sys.stderr.write("jicengd exit status %s\n%s" % (code, cls.daemon.log()))
            cls.daemon.cleanup()
        if failed:
            raise RuntimeError("jicengd did not stop cleanly")

    def call(self, frame):
        self.dealer.send(frame)
        if not self.dealer.poll(ACK_TIMEOUT_MS):
            self.fail("no ack within %d ms\n%s" % (ACK_TIMEOUT_MS, self.daemon.log()))
        ack = envelope_pb2.Ack()
        ack.ParseFromString(self.dealer.recv())
        return ack

    def ask(self, **query):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.daemon.query)
        try:
            q = query_pb2.Query(request_id="py-q")
            (kind, msg), = query.items()
            getattr(q, kind).CopyFrom(msg)
            s.send(q.SerializeToString())
            if not s.poll(5000):
                self.fail("no query reply within 5 s")
            r = query_pb2.QueryReply()
            r.ParseFromString(s.recv())
            self.assertEqual(r.request_id, "py-q")
            return r
        finally:
            s.close()

    def test_1_org_and_member_accepted(self):
        ack = self.call(self.org)
        self.assertEqual(ack.verdict, envelope_pb2.ACCEPTED, ack)
        self.assertEqual(ack.event_id, "py-org-1")
        self.assertEqual(ack.code, "OK")
        self.assertGreater(ack.seq, 0)
        ack = self.call(self.member)
        self.assertEqual(ack.verdict, envelope_pb2.ACCEPTED, ack)
        self.assertEqual(ack.event_id, "py-member-1")
        self.assertGreater(ack.seq, 0)
        type(self).seqs["member"] = ack.seq

    def test_2_resend_is_duplicate(self):
        ack = self.call(self.member)
        self.assertEqual(ack.verdict, envelope_pb2.DUPLICATE, ack)
        self.assertEqual(ack.original_verdict, envelope_pb2.ACCEPTED)
        self.assertEqual(ack.seq, self.seqs.get("member"))
        reused = envelope("py-member-1", member_registered=events_pb2.MemberRegistered(
            member_id="py-m-2", home_org_id="py-town", name="王芳",
            category=events_pb2.FULL, admitted_at=994000000000, confirmed_at=1026000000000))
        ack = self.call(reused)
        self.assertEqual(ack.verdict, envelope_pb2.REJECTED)
        self.assertEqual(ack.code, "ID_REUSED")

    def test_3_member_query_masks_id(self):
        r = self.ask(get_member=query_pb2.GetMember(member_id="py-m-1"))
        self.assertEqual(r.status, query_pb2.OK, r)
        m = r.member
        self.assertEqual(m.member_id, "py-m-1")
        self.assertEqual(m.home_org_id, "py-town")
        self.assertEqual(m.name, "李明")
        self.assertEqual(m.township_id, TOWNSHIP)
        self.assertEqual(m.category, events_pb2.FULL)
        self.assertEqual(m.birth_date, "1982-07-04")
        self.assertEqual(m.id_masked, self.idn[:6] + "*" * 8 + self.idn[-4:])
        self.assertNotIn(self.idn, r.SerializeToString().decode("utf-8", "replace"))
        self.assertNotIn(self.idn[6:14], m.id_masked)
        self.assertNotIn("12345", m.phone_masked)
        r = self.ask(get_org=query_pb2.GetOrg(org_id="py-town"))
        self.assertEqual(r.status, query_pb2.OK, r)
        self.assertEqual(r.org.member_count, 1)

    def test_4_status_subscriber_connects(self):
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"status/")
        sub.connect(self.daemon.status)
        try:
            time.sleep(0.2)  # let the subscription reach jicengd
            ack = self.call(envelope("py-after-sub", member_registered=events_pb2.MemberRegistered(
                member_id="py-m-3", home_org_id="py-town", name="赵强",
                category=events_pb2.FULL, admitted_at=994000000000,
                confirmed_at=1026000000000)))
            self.assertEqual(ack.verdict, envelope_pb2.ACCEPTED, ack)
            # Only mobility changes are published, and none happened: a
            # registration must not appear on the status stream.
            self.assertFalse(sub.poll(300), "a registration was published as a status change")
        finally:
            sub.close()

if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
