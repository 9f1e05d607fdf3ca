#!/usr/bin/python3
"""Keep a replica of jiceng's mobile-member status (流动党员) in a dict.

A subscriber built with Debian's python3-zmq and python3-protobuf and the
code protoc generates from proto/ (the Makefile writes it to build/py). It
follows the client recipe of proto/jiceng/v1/query.proto, so its replica
never misses or double-applies a change, across its own restarts and the
daemon's:

  1. SUB to the status socket (the topics it wants and "status/heartbeat")
     and buffer what arrives;
  2. take a snapshot (GetStatusSnapshot, several pages from one read
     transaction); the replica is the snapshot; P = (its seq, 0xffffffff);
  3. apply each change after P whose (prev_seq, prev_index) is <= P; on
     any other change, or a heartbeat naming a change after P, fetch the
     changes after P (ListStatusChanges) first;
  4. save P with the replica (--state), and resume from it; a
     SNAPSHOT_REQUIRED answer means the log no longer reaches back to P:
     take a snapshot again.

Usage:
  status_replica.py --query tcp://127.0.0.1:7402 --status tcp://127.0.0.1:7401 \\
      [--township 320123101000] [--org ORG] [--state replica.json] \\
      [--duration SECONDS] [--dump out.json] [--key FILE --server-key FILE]

--state keeps the replica and P in a JSON file (written on exit and every
few seconds) and resumes from it. --dump writes the replica on exit as
sorted JSON, one member per key, for comparison. SIGTERM or SIGINT stops it
cleanly. Progress goes to stderr.
"""

import argparse
import base64
import json
import os
import signal
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("JICENG_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "py"))

import zmq  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from jiceng.v1 import query_pb2, status_pb2  # noqa: E402

HEARTBEAT = b"status/heartbeat"
MAX_INDEX = 0xFFFFFFFF
QUERY_TIMEOUT_MS = 10000


class SnapshotRequired(Exception):
    """The change log no longer reaches back to the replica's position."""


def load_curve(path):
    """The keys of a key file jicengctl keygen wrote (ZPL, CZMQ's format)."""
    import zmq.auth
    public, secret = zmq.auth.load_certificate(path)
    return public, secret


class Replica:
    """The recipe: a replica (member_id -> StatusChange) and its position."""

    def __init__(self, args):
        self.args = args
        self.ctx = zmq.Context.instance()
        self.replica = {}
        self.position = None          # (seq, index) through which we hold everything
        self.request = 0
        self.applied = 0
        self.fetched = 0
        self.snapshots = 0
        self.query = None
        self.sub = None

    # ------------------------------------------------------------ sockets

    def _secure(self, sock):
        if not self.args.key:
            return
        public, secret = load_curve(self.args.key)
        server_public, _ = load_curve(self.args.server_key)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_serverkey = server_public

    def connect(self):
        self.query = self.ctx.socket(zmq.DEALER)
        self.query.linger = 0
        self._secure(self.query)
        self.query.connect(self.args.query)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.linger = 0
        self._secure(self.sub)
        topic = "status/%s/" % self.args.township if self.args.township else "status/"
        self.sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        if self.args.township:
            self.sub.setsockopt(zmq.SUBSCRIBE, HEARTBEAT)
        self.sub.connect(self.args.status)

    # ------------------------------------------------------------ queries

    def _ask(self, fill):
        """Send one Query; yield its replies (one, or a snapshot's pages).
        A query unanswered for QUERY_TIMEOUT_MS is asked again (jicengd may
        be restarting); a snapshot cut off that way starts again."""
        self.request += 1
        rid = "replica-%d-%d" % (os.getpid(), self.request)
        q = query_pb2.Query(request_id=rid)
        fill(q)
        self.query.send(q.SerializeToString())
        deadline = time.monotonic() + QUERY_TIMEOUT_MS / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.query.poll(int(left * 1000)):
                log("no answer from %s; asking again" % self.args.query)
                self.query.send(q.SerializeToString())
                deadline = time.monotonic() + QUERY_TIMEOUT_MS / 1000
                continue
            frames = self.query.recv_multipart()
            r = query_pb2.QueryReply.FromString(frames[-1])
            if r.request_id != rid:
                continue              # an answer to an earlier, abandoned request
            yield r
            deadline = time.monotonic() + QUERY_TIMEOUT_MS / 1000

    def _filter(self, m):
        if self.args.township:
            m.township_id = self.args.township
        if self.args.org:
            m.org_id = self.args.org

    def snapshot(self):
        def fill(q):
            self._filter(q.get_status_snapshot)
            q.get_status_snapshot.page_size = 1000
        replica = {}
        seq = 0
        for r in self._ask(fill):
            if r.status != query_pb2.OK:
                raise RuntimeError("snapshot refused: %s %s" % (r.code, r.reason))
            if r.status_page.seq != seq:
                replica = {}          # a snapshot asked again: its pages start over
            for c in r.status_page.changes:
                replica[c.member_id] = c
            seq = r.status_page.seq
            if r.status_page.last:
                break
        self.replica = replica
        self.position = (seq, MAX_INDEX)
        self.snapshots += 1
        log("snapshot: %d members at seq %d" % (len(replica), seq))

    def fetch(self):
        """The changes after the position, page by page."""
        while True:
            def fill(q):
                m = q.list_status_changes
                self._filter(m)
                m.after_seq, m.after_index = self.position
                m.limit = 1000
            r = next(self._ask(fill))
            if r.code == "SNAPSHOT_REQUIRED":
                raise SnapshotRequired(r.reason)
            if r.status != query_pb2.OK:
                raise RuntimeError("catch-up refused: %s %s" % (r.code, r.reason))
            page = r.status_page
            for c in page.changes:
                self._apply(c)
                self.fetched += 1
            if (page.next_seq, page.next_index) > self.position:
                self.position = (page.next_seq, page.next_index)
            if not page.more:
                return

    def _leaves(self, c):
        """Does c take its member out of our filter? The server says so in
        catch-up; on the stream a township filter can tell by itself."""
        t = self.args.township
        return c.leaves_filter or (t and c.township_id != t and c.host_township_id != t)

    def _apply(self, c):
        at = (c.seq, c.index)
        if at <= self.position:
            return False
        if self._leaves(c):
            self.replica.pop(c.member_id, None)
        else:
            self.replica[c.member_id] = c
        self.position = at
        self.applied += 1
        return True

    # ------------------------------------------------------------ the stream

    def on_change(self, c):
        if (c.seq, c.index) <= self.position:
            return                    # in the snapshot already, or a second topic's copy
        if self.args.org:
            self.fetch()              # only the server knows the org's subtree
            return
        if (c.prev_seq, c.prev_index) > self.position:
            self.fetch()
        self._apply(c)

    def on_heartbeat(self, hb):
        if (hb.seq, hb.index) > self.position:
            self.fetch()

    def handle(self, frames):
        topic, body = frames[0], frames[-1]
        if topic == HEARTBEAT:
            self.on_heartbeat(status_pb2.StatusHeartbeat.FromString(body))
        else:
            self.on_change(status_pb2.StatusChange.FromString(body))

    def start(self):
        """Resume from the state file, or take a snapshot."""
        self.connect()
        time.sleep(0.2)               # let the subscription reach the server
        if self.load():
            try:
                self.fetch()
                log("resumed at %d:%d with %d members" % (self.position + (len(self.replica),)))
                return
            except SnapshotRequired as e:
                log("resume: %s; taking a snapshot" % e)
        self.snapshot()
        self.fetch()

    def run(self, stop):
        buffered = []
        # Subscribed first, so whatever came during the snapshot is buffered.
        while self.sub.poll(0):
            buffered.append(self.sub.recv_multipart())
        for frames in buffered:
            self.handle(frames)
        last_save = time.monotonic()
        last_line = 0.0
        while not stop():
            if self.sub.poll(200):
                try:
                    self.handle(self.sub.recv_multipart())
                except SnapshotRequired as e:
                    log("catch-up: %s; taking a snapshot" % e)
                    self.snapshot()
                    self.fetch()
            now = time.monotonic()
            if self.args.state and now - last_save > 5:
                self.save()
                last_save = now
            if now - last_line >= 1:
                log("at %d:%d, %d members, %d applied live, %d fetched" %
                    (self.position + (len(self.replica), self.applied, self.fetched)))
                last_line = now

    # ------------------------------------------------------------ state

    def save(self):
        if not self.args.state:
            return
        data = {
            "position": list(self.position),
            "replica": {k: base64.b64encode(v.SerializeToString()).decode()
                        for k, v in self.replica.items()},
        }
        tmp = self.args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.args.state)

    def load(self):
        if not self.args.state or not os.path.exists(self.args.state):
            return False
        with open(self.args.state) as f:
            data = json.load(f)
        self.position = tuple(data["position"])
        self.replica = {k: status_pb2.StatusChange.FromString(base64.b64decode(v))
                        for k, v in data["replica"].items()}
        return True

    def dump(self, path):
        out = {k: json_format.MessageToDict(v, preserving_proto_field_name=True)
               for k, v in sorted(self.replica.items())}
        with open(path, "w") as f:
            json.dump(out, f, sort_keys=True, ensure_ascii=False, indent=0)


def log(line):
    print("status_replica: %s" % line, file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--query", default="tcp://127.0.0.1:7402")
    p.add_argument("--status", default="tcp://127.0.0.1:7401")
    p.add_argument("--township", default="")
    p.add_argument("--org", default="")
    p.add_argument("--state", help="keep the replica and its position here, and resume from it")
    p.add_argument("--dump", help="write the replica here on exit (sorted JSON)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds")
    p.add_argument("--key", help="CURVE: our secret key file")
    p.add_argument("--server-key", help="CURVE: the server's public key file")
    args = p.parse_args()
    if bool(args.key) != bool(args.server_key):
        p.error("--key and --server-key go together")

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    end = time.monotonic() + args.duration if args.duration else None

    r = Replica(args)
    r.start()
    r.run(lambda: stopping or (end is not None and time.monotonic() >= end))
    r.save()
    if args.dump:
        r.dump(args.dump)
    log("stopped at %d:%d with %d members" % (r.position + (len(r.replica),)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
