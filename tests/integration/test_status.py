#!/usr/bin/python3
"""The status stream end to end: replicas equal a snapshot.

Each case starts a real jicengd (its own temporary directory, free loopback
ports, a NOTIFY_SOCKET, stopped by pid with its children) and follows its
status stream with two clients of the recipe in query.proto:

  - `jicengctl watch`, whose JSON lines are parsed into StatusChange; its
    replica is the last line of each member_id (the snapshot's records come
    first), its position the (seq, index) of its last line;
  - examples/status_replica.py, whose replica is its --dump.

Then it sends a burst (build/jiceng-sim, a simulated county with transfers
and mobile members; our own DEALER for mobile members sent away and home)
and, once both clients hold the log's head, checks that each replica equals
a fresh GetStatusSnapshot, field for field. The cases:

  a. a burst of 100 000 mixed events;
  b. kill -9 of the membership worker mid-burst;
  c. kill -9 of jicengd mid-stream and a restart on the same data dir, the
     subscribers running on; again at the moment both are catching up (their
     query held unread by jiceng-query when it dies);
  d. the subscribers killed (-9) mid-burst and restarted from their last
     position (--state; --since the last printed seq:index);
  e. status_replica.py stopped (SIGSTOP) through bursts: exact afterwards,
     and the p99 of our own acks during those bursts not worse than during
     bursts without a sleeper (a ratio, generous, best of three each);
  f. a position older than the retention (status.retention_changes =
     1000, a restart's Tick prunes): SNAPSHOT_REQUIRED, a new snapshot;
  g. a township filter: the replicas of one township equal its snapshot.

Every wait is bounded and scaled to the load; every process is stopped by
its pid. Run with /usr/bin/python3 (Debian's python3-zmq, python3-protobuf):
    /usr/bin/python3 tests/integration/test_status.py [-k case]
JICENG_BUILD_DIR picks the build (default build); JICENG_KEEP=1 keeps the
temporary directories. Exit status 0 when every test passed, 1 otherwise.
"""

import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_python  # noqa: E402  (its Daemon, BUILD and the generated code's path)
import zmq  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from jiceng.v1 import envelope_pb2, events_pb2, query_pb2, status_pb2  # noqa: E402

ROOT = test_python.ROOT
BUILD = test_python.BUILD
PY = "/usr/bin/python3"
REPLICA = os.path.join(ROOT, "examples", "status_replica.py")

# The simulator's counties, one per burst of a daemon (a county's orgs are
# established once). Odd codes only: its bad-township events use the next
# county's code, which must stay unknown.
COUNTIES = ("320123", "320125", "320127", "320129", "320131", "320133", "320135")
# Our own township, for the mobile members the ack probe sends away and home.
PROBE_COUNTY = "320141"
PROBE_TOWNSHIP = PROBE_COUNTY + "101000"
# heartbeat_ms: a child stopped by a test (SIGSTOP) is not replaced for 60 s.
CONFIG = "[daemon]\ntownships = %s\nheartbeat_ms = 6000\n" % " ".join(COUNTIES + (PROBE_COUNTY,))

# The ack probe of case e: events a second, and at least this many a round.
# With the simulator's some 13 500 changes a round makes about 37 000, more
# than what a stopped subscriber's queues can hold (the publisher's
# high-water mark of 1000 and the SUB's, TCP buffers of at most 4 MiB sent
# and some 250 KiB received: 24 000 changes at the very most, 10 000 seen),
# so the sleeper must lose some.
PROBE_RATE = 6000
PROBE_EVENTS = 24000
# A simulated county of this many members sends about 1.4 events each.
BURST_MEMBERS = 72000
MID_MEMBERS = 40000
SMALL_MEMBERS = 8000
QUERY_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
MAX_INDEX = 0xFFFFFFFF


def deadline_for(changes):
    """Seconds to allow for catching up with this many changes: generous,
    and growing with the load rather than fixed."""
    return 30 + changes / 1000.0


def wait_until(pred, timeout_s, what, step=0.05):
    """Poll pred until it is true; AssertionError naming what after timeout_s."""
    end = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout_s, what))
        time.sleep(step)


def stop_pid(proc, sig=signal.SIGTERM, timeout_s=STOP_TIMEOUT_S):
    """Signal one process we started, by its pid; SIGKILL after timeout_s."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def pid_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1].startswith("Z")  # a zombie is gone too
    except OSError:
        return True


def key(c):
    return (c.seq, c.index)


def unread_requests(endpoint):
    """Connections to this loopback TCP endpoint whose server side holds
    bytes nobody has read (/proc/net/tcp's rx_queue)."""
    port = int(endpoint.rsplit(":", 1)[1])
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if int(local.split(":")[1], 16) == port and state == "01" and \
                    int(queues.split(":")[1], 16) > 0:
                n += 1
    return n


# ---------------------------------------------------------------- jicengd

class Daemon(test_python.Daemon):
    """test_python's jicengd with a config file (the simulator's counties,
    rules), restartable on the same data dir and ports, and killable."""

    def __init__(self, rules=""):
        super().__init__()
        self.conf = os.path.join(self.dir, "jiceng.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG + ("[rules]\n%s\n" % rules if rules else ""))

    def start_once(self):
        env = dict(os.environ)
        for k in ("WATCHDOG_USEC", "WATCHDOG_PID", "JICENG_FAULT_CRASH_EVENT"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify_path
        self.drain_notify()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BUILD, "jicengd"), "--config", self.conf, "--data-dir", self.dir,
                 "--derived-dir", self.dir,   # beside the journal: removed with it
                 "--ingest", self.ingest, "--status", self.status, "--query", self.query],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        self.wait_notify("READY=1", test_python.READY_TIMEOUT_S)

    def drain_notify(self):
        """Forget what a previous run said (its READY=1 is not this one's)."""
        self.notify.settimeout(0)
        try:
            while True:
                self.notify.recv(4096)
        except (BlockingIOError, socket.timeout):
            pass

    def wait_children(self, kids):
        """Children stop with jicengd (PR_SET_PDEATHSIG); SIGKILL any that
        linger past the bound, by pid."""
        end = time.monotonic() + STOP_TIMEOUT_S
        for pid in kids:
            while not pid_gone(pid) and time.monotonic() < end:
                time.sleep(0.05)
            if not pid_gone(pid):
                os.kill(pid, signal.SIGKILL)

    def shutdown(self):
        """SIGTERM by pid, its children awaited. Returns jicengd's exit code."""
        kids = self.children() if self.proc and self.proc.poll() is None else []
        code = self.stop()
        self.wait_children(kids)
        return code

    def restart(self):
        code = self.shutdown()
        self.start_once()
        return code

    def kill9(self):
        kids = self.children()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.wait_children(kids)

    def child_pids(self, program, domain=None):
        """The children running program (with --domain domain, if given)."""
        found = []
        for pid in self.children():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if os.path.basename(argv[0]) != program.encode():
                continue
            if domain is None or (b"--domain" in argv and
                                  argv[argv.index(b"--domain") + 1:][:1] == [domain.encode()]):
                found.append(pid)
        return found

    def worker_pid(self, domain="membership"):
        pids = self.child_pids("jiceng-worker", domain)
        return pids[0] if pids else None


# ---------------------------------------------------------------- queries

class Queries:
    """Our own GetStatusSnapshot and ListStatusChanges client."""

    def __init__(self, ctx, endpoint):
        self.ctx = ctx
        self.endpoint = endpoint
        self.n = 0

    def ask(self, fill):
        """Send one Query and return its replies, a snapshot's pages up to
        the last; asked once more when no answer comes (jiceng-query may be
        restarting)."""
        for _ in range(2):
            s = self.ctx.socket(zmq.DEALER)
            s.linger = 0
            s.connect(self.endpoint)
            self.n += 1
            q = query_pb2.Query(request_id="status-test-%d" % self.n)
            fill(q)
            s.send(q.SerializeToString())
            replies = []
            try:
                while s.poll(QUERY_TIMEOUT_S * 1000):
                    r = query_pb2.QueryReply.FromString(s.recv_multipart()[-1])
                    if r.request_id != q.request_id:
                        continue
                    replies.append(r)
                    if not q.HasField("get_status_snapshot") or r.status != query_pb2.OK or \
                            r.status_page.last:
                        return replies
            finally:
                s.close()
        raise AssertionError("no answer from jiceng-query within %d s" % QUERY_TIMEOUT_S)

    def snapshot(self, township=""):
        """(member_id -> StatusChange, the seq it is consistent at)."""
        def fill(q):
            q.get_status_snapshot.township_id = township
            q.get_status_snapshot.page_size = 10000
        out, seq = {}, 0
        for r in self.ask(fill):
            if r.status != query_pb2.OK:
                raise AssertionError("snapshot refused: %s %s" % (r.code, r.reason))
            for c in r.status_page.changes:
                out[c.member_id] = c
            seq = r.status_page.seq
        return out, seq

    def changes_after(self, pos):
        """The whole log after pos: a list, or the SNAPSHOT_REQUIRED reply."""
        out = []
        while True:
            def fill(q):
                q.list_status_changes.after_seq, q.list_status_changes.after_index = pos
                q.list_status_changes.limit = 1000
            r = self.ask(fill)[0]
            if r.code == "SNAPSHOT_REQUIRED":
                return r
            if r.status != query_pb2.OK:
                raise AssertionError("catch-up refused: %s %s" % (r.code, r.reason))
            out.extend(r.status_page.changes)
            pos = (r.status_page.next_seq, r.status_page.next_index)
            if not r.status_page.more:
                return out


# ---------------------------------------------------------------- subscribers

class Watch:
    """`jicengctl watch`, its JSON lines in a file (appended to across its
    restarts, so the replica is the last line of each member)."""

    name = "jicengctl watch"

    def __init__(self, daemon, name, township=""):
        self.daemon = daemon
        self.township = township
        self.out = os.path.join(daemon.dir, name + ".out")
        self.err = os.path.join(daemon.dir, name + ".err")
        self.proc = None
        self.log_from = 0

    def start(self, since=None):
        argv = [os.path.join(BUILD, "jicengctl"), "watch", "--query", self.daemon.query,
                "--status", self.daemon.status]
        if self.township:
            argv += ["--township", self.township]
        if since:
            argv += ["--since", "%d:%d" % since]
        self.log_from = os.path.getsize(self.err) if os.path.exists(self.err) else 0
        with open(self.out, "ab") as out, open(self.err, "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def kill9(self):
        stop_pid(self.proc, signal.SIGKILL)

    def stop(self):
        return stop_pid(self.proc)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def lines(self):
        """Complete lines only: a process killed mid-write leaves half of one,
        which it never printed in full and so never counted as applied."""
        with open(self.out, "rb") as f:
            data = f.read()
        end = data.rfind(b"\n")
        return data[:end + 1].decode().splitlines() if end >= 0 else []

    def tail_line(self):
        try:
            with open(self.out, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                data = f.read()
        except OSError:
            return None
        end = data.rfind(b"\n")
        if end < 0:
            return None
        return data[data.rfind(b"\n", 0, end) + 1:end].decode()

    SNAPSHOT = re.compile(r"jicengctl watch: snapshot: \d+ members at seq (\d+)")

    def position(self):
        """Its P: the last line printed, unless that is a snapshot's record
        (printed in member order): then the snapshot's (seq, every index)."""
        at = None
        line = self.tail_line()
        if line:
            c = json.loads(line)
            at = (int(c.get("seq", 0)), int(c.get("index", 0)))
        snaps = self.SNAPSHOT.findall(self.log())
        if snaps and (at is None or (int(snaps[-1]), MAX_INDEX) > at):
            at = (int(snaps[-1]), MAX_INDEX)
        return at

    def count(self):
        try:
            with open(self.out, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def replica(self):
        """The last line of each member, but for members whose last line
        takes them out of the watch's filter (leaves_filter)."""
        out = {}
        for line in self.lines():
            c = json_format.Parse(line, status_pb2.StatusChange())
            if c.leaves_filter:
                out.pop(c.member_id, None)
            else:
                out[c.member_id] = c
        return out

    def log(self):
        """What this run of it said on stderr."""
        try:
            with open(self.err, "rb") as f:
                f.seek(self.log_from)
                return f.read().decode(errors="replace")
        except OSError:
            return ""


class PyReplica:
    """examples/status_replica.py, optionally keeping its --state."""

    name = "status_replica.py"

    POS = re.compile(r"status_replica: (?:at|resumed at|stopped at) (\d+):(\d+)")
    FETCHED = re.compile(r"status_replica: at \d+:\d+, \d+ members, \d+ applied live, (\d+) fetched")

    def __init__(self, daemon, name, township="", state=False):
        self.daemon = daemon
        self.township = township
        self.dump = os.path.join(daemon.dir, name + ".dump.json")
        self.err = os.path.join(daemon.dir, name + ".err")
        self.state = os.path.join(daemon.dir, name + ".state.json") if state else None
        self.proc = None
        self.log_from = 0

    def start(self):
        argv = [PY, REPLICA, "--query", self.daemon.query, "--status", self.daemon.status,
                "--dump", self.dump]
        if self.township:
            argv += ["--township", self.township]
        if self.state:
            argv += ["--state", self.state]
        env = dict(os.environ, JICENG_BUILD_DIR=BUILD)
        if os.path.exists(self.dump):
            os.unlink(self.dump)
        self.log_from = os.path.getsize(self.err) if os.path.exists(self.err) else 0
        with open(self.err, "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err, env=env)

    def kill9(self):
        stop_pid(self.proc, signal.SIGKILL)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """What this run of it said on stderr."""
        try:
            with open(self.err, "rb") as f:
                f.seek(self.log_from)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def position(self):
        """Where its latest progress line says it is (one a second)."""
        found = self.POS.findall(self.log())
        return (int(found[-1][0]), int(found[-1][1])) if found else None

    def fetched(self):
        found = self.FETCHED.findall(self.log())
        return int(found[-1]) if found else 0

    def saved_position(self):
        try:
            with open(self.state) as f:
                return tuple(json.load(f)["position"])
        except (OSError, ValueError, KeyError):
            return None

    def stop(self):
        """SIGTERM: it saves its state and writes the dump. Its exit code."""
        return stop_pid(self.proc)

    def replica(self):
        with open(self.dump) as f:
            data = json.load(f)
        return {k: json_format.ParseDict(v, status_pb2.StatusChange()) for k, v in data.items()}


# ---------------------------------------------------------------- load

class Sim:
    """build/jiceng-sim sending one simulated county, in the background."""

    def __init__(self, daemon, county, members, townships=6):
        self.members = members
        self.log_path = os.path.join(daemon.dir, "sim-%s.log" % county)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BUILD, "jiceng-sim"), "--ingest", daemon.ingest, "--county", county,
                 "--members", str(members), "--townships", str(townships), "--quiet",
                 "--no-meetings", "--no-funds", "--timeout", "30"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout_s=None):
        """Its exit code; the bound grows with the county it sends."""
        if timeout_s is None:
            timeout_s = 60 + self.members / 500.0
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_pid(self.proc)
            raise AssertionError("jiceng-sim did not finish within %.0f s\n%s" %
                                 (timeout_s, self.log()))

    def kill(self):
        stop_pid(self.proc, signal.SIGKILL)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def events(self):
        m = re.findall(r"events sent / \S+\s+(\d+)", self.log())
        return int(m[-1]) if m else 0


class Probe:
    """Our own township system: one DEALER sending its members away
    (MobileDeparted) and home (MobileReturned) in turn, every event a
    status change, timing each ack from send to arrival."""

    MEMBERS = 300

    def __init__(self, ctx, endpoint):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.n = 0
        self.base = int(time.time() * 1000) - 4 * 3600 * 1000  # business dates, 10 ms apart
        self.away = {}

    def close(self):
        self.sock.close()

    def envelope(self, **event):
        self.n += 1
        e = envelope_pb2.Envelope(event_id="probe-%d" % self.n, township_id=PROBE_TOWNSHIP,
                                  occurred_at=int(time.time() * 1000))
        (kind, msg), = event.items()
        getattr(e, kind).CopyFrom(msg)
        return e.event_id, e.SerializeToString()

    def setup(self):
        """The township committee and its members (no status change yet)."""
        frames = [self.envelope(org_established=events_pb2.OrgEstablished(
            org_id="probe:tc", kind=events_pb2.TOWNSHIP_COMMITTEE, name="中共探针镇委员会",
            established_at=1262275200000))]
        for i in range(self.MEMBERS):
            frames.append(self.envelope(member_registered=events_pb2.MemberRegistered(
                member_id="probe:m%d" % i, home_org_id="probe:tc", name="探针%d" % i,
                category=events_pb2.FULL, admitted_at=994000000000,
                confirmed_at=1026000000000)))
        for event_id, frame in frames:   # in order: the members need their org
            self.sock.send(frame)
        acks = self.collect(len(frames), 30)
        bad = [a for a in acks.values() if a.verdict != envelope_pb2.ACCEPTED]
        if bad:
            raise AssertionError("probe set-up refused: %s" % bad[0])

    def collect(self, n, timeout_s):
        acks = {}
        end = time.monotonic() + timeout_s
        while len(acks) < n:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                raise AssertionError("probe: %d of %d acks within %d s" % (len(acks), n, timeout_s))
            a = envelope_pb2.Ack.FromString(self.sock.recv())
            acks[a.event_id] = a
        return acks

    def next_step(self):
        """The next member in turn: away when home, home when away."""
        i = self.n % self.MEMBERS
        member = "probe:m%d" % i
        at = self.base + self.n * 10
        if member in self.away:
            flow = self.away.pop(member)
            return self.envelope(mobile_returned=events_pb2.MobileReturned(
                flow_id=flow, returned_at=at))
        flow = "probe:f%d" % self.n
        self.away[member] = flow
        return self.envelope(mobile_departed=events_pb2.MobileDeparted(
            flow_id=flow, member_id=member, destination_code="440306", reason="务工",
            expected_months=3, certificate_no="HD%d" % self.n, departed_at=at))

    def run(self, rate, busy, min_events, timeout_s):
        """Send at rate events/s while busy() (and at least min_events);
        then wait for the remaining acks. The ack latencies in ms, sorted."""
        sent, lat, refused = {}, [], []
        interval = 1.0 / rate
        t0 = time.monotonic()
        k = 0
        end = t0 + timeout_s
        while (busy() or k < min_events) and time.monotonic() < end:
            due = t0 + k * interval
            now = time.monotonic()
            if now >= due:
                event_id, frame = self.next_step()
                self.sock.send(frame)
                sent[event_id] = time.monotonic()
                k += 1
                continue
            if self.sock.poll(max(1, int((due - now) * 1000))):
                self._ack(sent, lat, refused)
        while len(lat) + len(refused) < k and time.monotonic() < end:
            if self.sock.poll(1000):
                self._ack(sent, lat, refused)
        if len(lat) + len(refused) < k:
            raise AssertionError("probe: %d of %d acks within %.0f s" %
                                 (len(lat) + len(refused), k, timeout_s))
        if refused:
            raise AssertionError("probe: %d events refused, first %s" % (len(refused), refused[0]))
        lat.sort()
        return lat

    def _ack(self, sent, lat, refused):
        while True:
            try:
                a = envelope_pb2.Ack.FromString(self.sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            t = sent.pop(a.event_id, None)
            if t is None:
                continue
            if a.verdict == envelope_pb2.ACCEPTED:
                lat.append((time.monotonic() - t) * 1000)
            else:
                refused.append("%s %s %s" % (a.event_id, a.code, a.reason))


def p99(sorted_ms):
    return sorted_ms[int((len(sorted_ms) - 1) * 0.99)] if sorted_ms else 0.0


# ---------------------------------------------------------------- the cases

class StatusCase(unittest.TestCase):
    """A jicengd per case, and what the cases share."""
    rules = ""

    def setUp(self):
        self.procs = []          # subscribers and sims, stopped in tearDown
        self.daemon = Daemon(self.rules)
        try:
            self.daemon.start()
        except Exception:
            self.daemon.shutdown()
            self.daemon.cleanup()
            raise
        self.ctx = zmq.Context()
        self.q = Queries(self.ctx, self.daemon.query)
        self.counties = list(COUNTIES)

    def tearDown(self):
        for p in self.procs:
            if isinstance(p, Sim):
                p.kill()
            elif p.running():
                p.stop()
        self.ctx.destroy(linger=0)
        code = self.daemon.shutdown()
        if code != 0:
            sys.stderr.write("jicengd exit status %s\n%s" % (code, self.daemon.log()[-4000:]))
        self.daemon.cleanup()
        self.assertEqual(code, 0, "jicengd did not stop cleanly")

    # ------------------------------------------------------------ helpers

    def watch(self, name="watch", township=""):
        w = Watch(self.daemon, name, township)
        w.start()
        self.procs.append(w)
        return w

    def replica(self, name="replica", township="", state=False):
        r = PyReplica(self.daemon, name, township, state)
        r.start()
        self.procs.append(r)
        return r

    def sim(self, members, townships=6):
        s = Sim(self.daemon, self.counties.pop(0), members, townships)
        self.procs.append(s)
        return s

    def finish(self, sim):
        """The sim's burst is over: every event acknowledged."""
        rc = sim.wait()
        self.assertEqual(rc, 0, "jiceng-sim failed\n%s" % sim.log()[-3000:])
        return sim.events()

    def started(self, subs):
        """Both clients have taken their first snapshot and subscribed."""
        for s in subs:
            wait_until(lambda: "snapshot:" in s.log() or "resumed at" in s.log(), 15,
                       "the first snapshot of %s\n%s" % (s.name, s.log()))
        time.sleep(0.3)   # let the subscriptions reach jicengd

    def converge(self, subs, township="", changes=0, problems=None):
        """Wait until every client holds the log's head (of its township);
        the snapshot it must then equal. A client that exits or never gets
        there fails the case, or with problems (a dict) given, is named
        there."""
        snap, _ = self.q.snapshot(township)
        head = max((key(c) for c in snap.values()), default=(0, 0))
        for s in subs:
            try:
                wait_until(lambda: not s.running() or (s.position() or (0, 0)) >= head,
                           deadline_for(changes or len(snap)),
                           "%s to reach %d:%d (at %s)\n%s" % (
                               s.name, head[0], head[1], s.position(), s.log()[-3000:]),
                           step=0.1)
                self.assertTrue(s.running(), "%s exited with %s\n%s" %
                                (s.name, s.proc.returncode, s.log()[-3000:]))
            except AssertionError as e:
                if problems is None:
                    raise
                problems[s.name] = str(e)
        return snap

    def differences(self, who, replica, snap, township=""):
        """"" when the replica equals the snapshot, else what differs (a few
        of each kind; for a township, where the extra members went)."""
        extra = sorted(set(replica) - set(snap))
        missing = sorted(set(snap) - set(replica))
        differ = sorted(k for k in set(replica) & set(snap) if replica[k] != snap[k])
        if not (extra or missing or differ):
            return ""
        js = lambda c: json_format.MessageToJson(c, indent=None)  # noqa: E731
        whole = self.q.snapshot()[0] if township and extra else {}
        show = []
        if whole:
            why = collections.Counter(
                "home %s, host %s, %s/%s" % (
                    "here" if whole[k].township_id == township else "elsewhere",
                    whole[k].host_township_id or "none",
                    events_pb2.MobilityState.Name(whole[k].state) if whole[k].state else "-",
                    events_pb2.TransferState.Name(whole[k].transfer_state)
                    if whole[k].transfer_state else "-")
                for k in extra if k in whole)
            show.append("  the extra members' latest changes, unfiltered: %s" %
                        ", ".join("%s: %d" % kv for kv in why.most_common()))
        for k in extra[:4]:
            show.append("  only in the replica: %s" % js(replica[k]))
            if k in whole:
                show.append("    the member's latest change, unfiltered: %s" % js(whole[k]))
        for k in missing[:3]:
            show.append("  only in the snapshot: %s" % js(snap[k]))
        for k in differ[:3]:
            show.append("  replica:  %s\n  snapshot: %s" % (js(replica[k]), js(snap[k])))
        return ("%s: %d members against the snapshot's %d: %d extra, %d missing, %d differ\n%s"
                % (who, len(replica), len(snap), len(extra), len(missing), len(differ),
                   "\n".join(show)))

    def check(self, watch, replica, township="", changes=0, least=1):
        """Both replicas equal a fresh snapshot (of the township)."""
        problems = {}
        subs = [s for s in (watch, replica) if s]
        snap = self.converge(subs, township, changes, problems)
        self.assertGreaterEqual(len(snap), least, "the snapshot is too small to tell anything")
        # Stopped first: the watch flushes what it printed, the replica
        # writes its dump. One that failed already is judged no further,
        # the other still is.
        for s in subs:
            code = s.stop()
            if s.name in problems:
                continue
            if code != 0:
                problems[s.name] = "%s exit %s\n%s" % (s.name, code, s.log()[-3000:])
            else:
                problems[s.name] = self.differences(s.name, s.replica(), snap, township)
        failed = [p for p in problems.values() if p]
        if failed:
            self.fail("\n".join(failed))
        return snap

    def mid_burst(self, sim, changes):
        """Return once `changes` status changes of the sim's burst were
        published, the sim still sending: the burst is then mid-way. Counted
        on a SUB of our own, which sees them as soon as anyone can."""
        sub = self.ctx.socket(zmq.SUB)
        sub.linger = 0
        sub.setsockopt(zmq.SUBSCRIBE, b"status/")
        sub.connect(self.daemon.status)
        seen = 0
        end = time.monotonic() + 60 + sim.members / 500.0
        try:
            while seen < changes and sim.running() and time.monotonic() < end:
                if sub.poll(10):
                    while True:
                        try:
                            topic = sub.recv_multipart(zmq.NOBLOCK)[0]
                        except zmq.Again:
                            break
                        seen += topic != b"status/heartbeat"
        finally:
            sub.close()
        self.assertTrue(sim.running(), "the burst ended after %d of the %d changes awaited: the "
                        "case needs a bigger burst on this machine" % (seen, changes))
        self.assertGreaterEqual(seen, changes, "no burst")


class StatusStream(StatusCase):
    """a-e and g, on the default retention."""

    def test_a_burst_of_100000(self):
        w, r = self.watch(), self.replica()
        self.started([w, r])
        sent = self.finish(self.sim(BURST_MEMBERS, townships=12))
        self.assertGreaterEqual(sent, 100000, "the burst was smaller than asked")
        snap = self.check(w, r, least=5000)
        sys.stderr.write("[%d events, %d members in the snapshot] " % (sent, len(snap)))

    def test_b_worker_killed_mid_burst(self):
        w, r = self.watch(), self.replica()
        self.started([w, r])
        sim = self.sim(BURST_MEMBERS, townships=12)
        self.mid_burst(sim, 2000)
        pid = self.daemon.worker_pid()
        self.assertIsNotNone(pid, "no membership worker among %s" % self.daemon.children())
        os.kill(pid, signal.SIGKILL)
        self.finish(sim)
        self.assertNotIn(self.daemon.worker_pid(), (None, pid), "the worker was not restarted")
        self.assertIn("membership (pid %d) killed by signal 9" % pid, self.daemon.log())
        self.check(w, r, least=5000)

    def test_c_jicengd_killed_and_restarted(self):
        w, r = self.watch(), self.replica()
        self.started([w, r])
        sim = self.sim(BURST_MEMBERS, townships=12)
        self.mid_burst(sim, 2000)
        self.daemon.kill9()
        sim.kill()   # it would wait out its timeout for acks that never come
        self.daemon.start_once()
        # Changes after the restart, on the same subscriptions.
        self.finish(self.sim(SMALL_MEMBERS))
        self.check(w, r, least=2000)

    def test_c_jicengd_killed_while_catching_up(self):
        # c at its hardest moment: both clients slept through a burst and
        # are catching up, their ListStatusChanges sent and held unread by
        # jiceng-query, when jicengd is killed (-9): the question lost with
        # the old server must be asked again of the new one.
        w, r = self.watch(), self.replica()
        self.started([w, r])
        probe = Probe(self.ctx, self.daemon.ingest)
        probe.setup()
        for s in (w, r):
            os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            # More changes than their queues hold (see PROBE_EVENTS): both
            # wake to a gap.
            probe.run(20000, lambda: False, PROBE_EVENTS + 14000, 120)
            query = self.daemon.child_pids("jiceng-query")
            self.assertEqual(len(query), 1, "jiceng-query among %s" % self.daemon.children())
            os.kill(query[0], signal.SIGSTOP)
        finally:
            for s in (w, r):
                os.kill(s.proc.pid, signal.SIGCONT)
        wait_until(lambda: unread_requests(self.daemon.query) >= 2, 30,
                   "both clients to ask jiceng-query for the changes they missed")
        try:
            os.kill(query[0], signal.SIGKILL)
        except ProcessLookupError:
            pass    # jicengd's supervision killed it first (missed heartbeats while stopped)
        self.daemon.kill9()
        self.daemon.start_once()
        probe.close()
        self.check(w, r, least=200)

    def test_d_subscribers_killed_and_resumed(self):
        w, r = self.watch(), self.replica(state=True)
        self.started([w, r])
        self.finish(self.sim(SMALL_MEMBERS))
        snap = self.converge([w, r])
        head = max(key(c) for c in snap.values())
        # status_replica.py saves every 5 s: wait for a save past this burst.
        wait_until(lambda: (r.saved_position() or (0, 0)) >= head, 15,
                   "status_replica.py to save its state")
        sim = self.sim(BURST_MEMBERS, townships=12)
        self.mid_burst(sim, 2000)
        w.kill9()
        r.kill9()
        since = w.position()
        self.finish(sim)
        w.start(since=since)
        r.start()
        wait_until(lambda: "resumed at" in r.log() or not r.running(), 15,
                   "status_replica.py to resume\n" + r.log())
        self.assertIn("resumed at", r.log(), "status_replica.py did not resume from its state")
        self.assertNotIn("snapshot:", r.log(), "status_replica.py took a snapshot to resume")
        self.check(w, r, least=5000)
        self.assertNotIn("snapshot:", w.log(), "jicengctl watch --since took a snapshot")

    def test_e_sleeper_does_not_slow_ingest(self):
        w, r = self.watch(), self.replica()
        self.started([w, r])
        probe = Probe(self.ctx, self.daemon.ingest)
        probe.setup()
        p99s = {False: [], True: []}
        fetched = []
        # Awake and asleep in turn, three rounds each, and the best of each
        # compared: a burst of the shared machine's load that spoils a round
        # or two spoils neither verdict. Each round a simulated county's
        # burst, and our probe sending its members away and home at a fixed
        # pace all through it.
        for asleep in (False, True) * 3:
            if asleep:
                os.kill(r.proc.pid, signal.SIGSTOP)
            before = r.fetched()
            sim = self.sim(BURST_MEMBERS, townships=12)
            try:
                lat = probe.run(PROBE_RATE, sim.running, PROBE_EVENTS, 120)
            finally:
                if asleep:
                    os.kill(r.proc.pid, signal.SIGCONT)
            self.finish(sim)
            p99s[asleep].append(p99(lat))
            self.converge([w, r])
            if asleep:
                fetched.append(r.fetched() - before)
        probe.close()
        self.check(w, r, least=5000)
        awake, sleeping = min(p99s[False]), min(p99s[True])
        sys.stderr.write("[probe p99 awake %s, asleep %s ms; the sleeper fetched %s] " % (
            ["%.1f" % x for x in p99s[False]], ["%.1f" % x for x in p99s[True]], fetched))
        # What it slept through was more than its queues hold: it had to
        # fetch what the publisher dropped.
        self.assertTrue(all(f > 0 for f in fetched), "the sleeper fetched nothing: %s" % fetched)
        # Generous: a ratio, with a floor for a near-idle machine.
        self.assertLessEqual(sleeping, 3 * max(awake, 5.0),
                             "ack p99 with a sleeping subscriber %.1f ms, without %.1f ms"
                             % (sleeping, awake))

    def test_g_township_filter(self):
        # The simulator's second township: it sends members to host orgs of
        # other townships and hosts theirs, and transfers members across.
        township = self.counties[0] + "102000"
        w, r = self.watch(township=township), self.replica(township=township)
        self.started([w, r])
        self.finish(self.sim(MID_MEMBERS))
        self.check(w, r, township=township, least=100)


class StatusRetention(StatusCase):
    """f: status.retention_changes = 1000, the lowest it may be."""
    rules = "status.retention_changes = 1000"

    def test_f_cursor_older_than_retention(self):
        w, r = self.watch(), self.replica(state=True)
        self.started([w, r])
        self.finish(self.sim(2000))
        snap = self.converge([w, r])
        self.assertEqual(r.stop(), 0, r.log())
        self.assertEqual(w.stop(), 0, w.log())
        old = max(key(c) for c in snap.values())
        self.assertEqual(r.saved_position(), old)
        self.assertEqual(w.position(), old)
        self.finish(self.sim(SMALL_MEMBERS))
        newer = self.q.changes_after(old)
        self.assertIsInstance(newer, list)
        self.assertGreater(len(newer), 1000, "too few changes to pass the retention")
        self.assertEqual(self.daemon.restart(), 0)   # its start-up Tick prunes the log to 1000
        # The worker applies that Tick a moment after jicengd is ready.
        wait_until(lambda: not isinstance(self.q.changes_after(old), list), 30,
                   "the start-up Tick to prune the log past %d:%d" % old)
        gone = self.q.changes_after(old)
        self.assertNotIsInstance(gone, list, "the log still reaches back to %d:%d" % old)
        self.assertEqual(gone.status, query_pb2.NOT_FOUND)
        self.assertGreaterEqual(gone.status_page.pruned_seq, old[0])
        w.start(since=old)
        r.start()
        self.check(w, r, least=500)
        self.assertIn("no longer reaches back", w.log())
        self.assertIn("taking a snapshot", r.log())


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
