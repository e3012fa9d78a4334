#!/usr/bin/python3
"""test-xbackup.py — streaming backups over D-Bus (org.jetsnap.Writer1.ExternalBackup), checked
the way a backup product would use them: a real dbus-daemon, a writer host under write load
(jetsnap-demo-app), dbus-python clients reading the passed fds, the zstd CLI, and processes
killed with SIGKILL. docs/writer.md, "Streaming backups", is what is asserted.
Environment: JETSNAP_DEMO_APP and TESTBUS_CONF_IN, as test-bus.py.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
import unittest

import dbus

from jsbus import APP, CONF_IN, ERR, NAME, ROOT, Client, Env, error_of, wait_for

IX = "org.jetsnap.Writer1.ExternalBackup"
ACCESS = "org.freedesktop.DBus.Error.AccessDenied"


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC = _crc_table()


def crc32c(data):
    """CRC-32C computed here, independently of the writer (and of libjet, which a sanitizer build
    instruments and python could not load)."""
    c = 0xFFFFFFFF
    t = _CRC
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def path_of(entry):
    return bytes(entry[0]).decode()


def socket_buffer_max():
    """The most a stream's socket can buffer: the writer asks for a 4 MiB send buffer and the
    kernel gives at most twice net.core.wmem_max."""
    with open("/proc/sys/net/core/wmem_max") as f:
        return 2 * int(f.read())


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)


class XClient(Client):
    def __init__(self, address):
        super().__init__(address)
        self.x = dbus.Interface(self.obj, IX)

    def begin(self, inst="i-0", kind="full", **opts):
        s, info = self.x.BeginBackup(inst, kind, opts)
        return s, info

    def open(self, s, path, **opts):
        fd, info = self.x.OpenFile(s, dbus.ByteArray(path.encode()), opts)
        return fd.take(), info

    def stream(self, s, path, **opts):
        fd, info = self.open(s, path, **opts)
        data = read_all(fd)
        return data, info, self.x.GetFileResult(s, info["stream_id"])

    def backup(self, s, **opts):
        """Stream every file of the set the way docs/writer.md says; returns {name: (kind, bytes, info, result)}."""
        got = {}
        for _ in range(4):
            files = self.x.ListFiles(s)
            todo = [f for f in files if not f[5]["streamed"] and str(f[5]["name"]) not in got]
            if not todo and any(str(f[1]) == "log" for f in files):
                return got
            for f in todo:
                data, info, res = self.stream(s, path_of(f), **opts)
                got[str(info["name"])] = (str(f[1]), data, info, res)
        raise AssertionError("ListFiles never gave the logs")


class ExternalBackup(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.env.start_bus()

    def tearDown(self):
        try:
            # A clean exit (also under ASan's leak check), with whatever session is still open
            # ended by the writer's close.
            if self.env.app:
                rc = self.env.stop_app()
                self.assertEqual(rc, 0, self.env.app_log())
        finally:
            self.env.close()

    def start(self, load=True, value_size=None, commits=50, **kw):
        self.env.write_config(**kw)
        self.env.start_app(load=load, value_size=value_size)
        if load:
            wait_for(lambda: self.env.ack_count() > commits, 60, "the writers to commit")
        return XClient(self.env.address)

    def outgrow_socket(self, inst):
        """Wait until inst's database is larger than a stream's socket can buffer, so that a
        producer nobody reads is still sending; the bytes the socket buffers at most."""
        most = socket_buffer_max()
        db = os.path.join(self.env.dir, "data", inst, "db.edb")
        wait_for(lambda: os.path.getsize(db) > most + (4 << 20), 120, inst + "'s database to outgrow a socket buffer")
        return most

    def zstd_decompress(self, data):
        return subprocess.run(["zstd", "-d", "-q", "-c"], input=data, capture_output=True, check=True).stdout

    def test_full_backup_under_load_raw_and_zstd(self):
        c = self.start()
        for comp in ("none", "zstd"):
            s, info = c.begin("i-0", "full", label="t-" + comp)
            self.assertEqual(str(info["backup_type"]), "full")
            self.assertEqual(str(info["label"]), "t-" + comp)
            self.assertEqual(len(info["databases"]), 1)
            got = c.backup(s, compression=comp)
            kinds = sorted(k for k, *_ in got.values())
            self.assertEqual(kinds.count("data"), 1)
            self.assertGreaterEqual(kinds.count("log"), 1)
            for name, (kind, data, oinfo, res) in got.items():
                complete, nread, nwritten, checksum, error = res
                self.assertTrue(complete, name)
                self.assertEqual(str(error), "", name)
                raw = self.zstd_decompress(data) if comp == "zstd" else data
                # EOF proves nothing: the result says how many bytes and which checksum.
                self.assertEqual(len(raw), int(oinfo["expected_size"]), name)
                self.assertEqual(int(nread), len(raw), name)
                self.assertEqual(int(nwritten), len(data), name)
                self.assertEqual(str(checksum), "crc32c:%08x" % crc32c(raw), name)
                self.assertEqual(str(oinfo["compression"]), comp)
            li = c.x.GetLogInfo(s)
            self.assertEqual(int(li["databases_pending"]), 0)
            self.assertEqual(len(li["log_files"]), int(li["last_generation"]) - int(li["first_generation"]) + 1)
            stop = c.x.EndBackup(s, True)
            self.assertTrue(stop["valid"], dict(stop))
            self.assertEqual(str(stop["recorded_as"]), "full")
            self.assertEqual(str(c.obj_prop(s, "org.jetsnap.Writer1.Session", "State")), "completed")
        self.assertGreater(self.env.ack_count(), 50)

    def test_zstd_stream_decompresses_to_the_raw_stream(self):
        # A closed log generation never changes: streamed raw by a full backup and as zstd by a
        # differential (which copies every log still on disk), the bytes must be the same.
        c = self.start()
        s, _ = c.begin("i-0", "full")
        raw = {n: d for n, (k, d, _, _) in c.backup(s, compression="none").items() if k == "log"}
        self.assertTrue(c.x.EndBackup(s, True)["valid"])
        wait_for(lambda: self.env.ack_count() > 200, 60, "more commits")
        s, _ = c.begin("i-0", "differential")
        comp = {n: d for n, (k, d, _, _) in c.backup(s, compression="zstd", zstd_level=3).items()}
        self.assertTrue(c.x.EndBackup(s, True)["valid"])
        common = set(raw) & set(comp)
        self.assertTrue(common, "no generation in both backups: %s %s" % (sorted(raw), sorted(comp)))
        for n in common:
            self.assertEqual(self.zstd_decompress(comp[n]), raw[n], n)
            subprocess.run(["zstd", "-t", "-q"], input=comp[n], check=True)  # the frame's own checksum

    def test_paths_outside_the_set_are_refused(self):
        c = self.start(load=False)
        s, info = c.begin("i-0", "full")
        db = bytes(info["databases"][0]).decode()
        other = db.replace("/i-0/", "/i-1/")
        link = os.path.join(self.env.dir, "link.edb")
        os.symlink(db, link)
        for bad in (other, "/etc/passwd", db.replace("/i-0/", "/i-0/../i-0/"), "data/i-0/db.edb", link,
                    db + "/.", os.path.dirname(db)):
            name, msg = error_of(c.open, s, bad)
            self.assertEqual(name, ACCESS, (bad, msg))
        name, msg = error_of(lambda: c.x.OpenFile(s, dbus.ByteArray(db.encode() + b"\0x"), {}))
        self.assertEqual(name, ACCESS, msg)
        # The refusals opened nothing: the database can still be streamed, once.
        data, _, res = c.stream(s, db, compression="none")
        self.assertTrue(res[0] and str(res[4]) == "")
        name, msg = error_of(c.open, s, db)
        self.assertEqual(name, ERR + "InvalidState", msg)
        c.x.EndBackup(s, False)

    def test_reader_closing_early_fails_the_stream_not_the_writer(self):
        # A database larger than a socket buffers: the producer is still writing when the reader goes.
        c = self.start(value_size=16000, commits=600)
        most = self.outgrow_socket("i-0")
        s, info = c.begin("i-0", "full")
        db = bytes(info["databases"][0]).decode()
        fd, oinfo = c.open(s, db, compression="none")
        self.assertGreater(int(oinfo["expected_size"]), most)
        os.read(fd, 4096)
        os.close(fd)
        res = wait_for(lambda: (lambda r: r if r[0] else None)(c.x.GetFileResult(s, oinfo["stream_id"])), 30,
                       "the stream to end")
        self.assertEqual(str(res[4]), "EPIPE")
        self.assertLess(int(res[2]), int(oinfo["expected_size"]))
        # A database read short is not in the backup: the log range is never fixed, and ending
        # "successfully" says the backup is not valid.
        self.assertEqual(error_of(c.x.GetLogInfo, s)[0], ERR + "InvalidState")
        stop = c.x.EndBackup(s, True)
        self.assertFalse(stop["valid"])
        self.assertEqual(str(stop["error_name"]), "JET_errBackupAbortByCaller")
        # The next backup starts and succeeds; the writers went on.
        before = self.env.ack_count()
        s, _ = c.begin("i-0", "full")
        c.backup(s)
        self.assertTrue(c.x.EndBackup(s, True)["valid"])
        wait_for(lambda: self.env.ack_count() > before + 20, 30, "the writers to go on committing")

    def test_owner_killed_mid_stream(self):
        c = self.start(value_size=16000, commits=600)
        self.outgrow_socket("i-0")
        script = textwrap.dedent("""
            import os, sys, time, dbus
            bus = dbus.bus.BusConnection(sys.argv[1])
            x = dbus.Interface(bus.get_object("%s", "%s"), "%s")
            s, info = x.BeginBackup("i-0", "full", {})
            fd, oinfo = x.OpenFile(s, info["databases"][0], {"compression": "none"})
            f = fd.take()
            os.read(f, 8192)  # then never again: the producer blocks on a full socket
            print(s, flush=True)
            time.sleep(600)
        """ % (NAME, ROOT, IX))
        p = subprocess.Popen([sys.executable, "-c", script, self.env.address], stdout=subprocess.PIPE, text=True)
        try:
            session = p.stdout.readline().strip()
            self.assertTrue(session.startswith(ROOT + "/session/"), session)
            self.assertEqual(str(c.obj_prop(session, "org.jetsnap.Writer1.Session", "State")), "streaming")
            p.send_signal(signal.SIGKILL)
            p.wait()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        wait_for(lambda: str(c.obj_prop(session, "org.jetsnap.Writer1.Session", "State")) == "aborted", 30,
                 "the owner's backup to be aborted")
        before = self.env.ack_count()
        s, _ = c.begin("i-0", "full")
        got = c.backup(s)
        self.assertTrue(all(str(r[4]) == "" for _, _, _, r in got.values()))
        self.assertTrue(c.x.EndBackup(s, True)["valid"])
        wait_for(lambda: self.env.ack_count() > before + 20, 30, "the writers to go on committing")

    def test_owner_rules_and_exclusion_with_freeze(self):
        c = self.start(value_size=16000, commits=600)
        other = XClient(self.env.address)
        s, info = c.begin("i-0", "full")
        db = bytes(info["databases"][0]).decode()
        # Someone else's session: every call is refused.
        self.assertEqual(error_of(other.x.ListFiles, s)[0], ERR + "InvalidState")
        self.assertEqual(error_of(other.open, s, db)[0], ERR + "InvalidState")
        self.assertEqual(error_of(other.x.EndBackup, s, False)[0], ERR + "InvalidState")
        # One backup per instance; a freeze and a stream of one instance exclude each other.
        name, msg = error_of(other.begin, "i-0", "copy")
        self.assertEqual(name, ERR + "Busy", msg)
        name, msg = error_of(other.w.PrepareForBackup, "copy", ["i-0"], {})
        self.assertEqual(name, ERR + "Retryable", msg)
        self.assertIn("streamed", msg)
        sess = other.w.PrepareForBackup("copy", ["i-1"], {})
        name, msg = error_of(c.begin, "i-1", "full")
        self.assertEqual(name, ERR + "Busy", msg)
        other.w.Abort(sess, "test")
        # A database is read once per backup.
        fd, oinfo = c.open(s, db, compression="none")
        self.assertEqual(error_of(c.open, s, db)[0], ERR + "InvalidState")
        read_all(fd)
        # EndBackup(false) cuts a stream nobody reads, at once.
        most = self.outgrow_socket("i-1")
        s2, info2 = c.begin("i-1", "full")
        self.assertNotEqual(s2, s)
        fd2, oinfo2 = c.open(s2, bytes(info2["databases"][0]).decode(), compression="none")
        self.assertGreater(int(oinfo2["expected_size"]), most)
        t0 = time.monotonic()
        stop = c.x.EndBackup(s2, False)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertFalse(stop["valid"])
        res = c.x.GetFileResult(s2, oinfo2["stream_id"])
        self.assertTrue(res[0])
        self.assertEqual(str(res[4]), "JET_errBackupAbortByCaller")
        os.close(fd2)
        self.assertEqual(error_of(c.x.GetFileResult, s2, 999)[0], "org.freedesktop.DBus.Error.InvalidArgs")
        c.x.EndBackup(s, False)

    def test_limits_exceeded(self):
        # A stream holds its slot while its producer runs: until the reader has taken all but what
        # the socket buffers. Logs larger than that keep the first producer running.
        most = socket_buffer_max()
        self.assertLess(most, 32 << 20, "net.core.wmem_max is too large for this test's 32 MiB logs")
        c = self.start(extra="stream_max = 1\n", log_kb=32768)
        s, _ = c.begin("i-0", "full")
        c.backup(s)
        self.assertTrue(c.x.EndBackup(s, True)["valid"])
        # A differential copies every log still on disk: the full's and at least the one its
        # own GetLogInfo closes, so two streams can be asked for.
        s, _ = c.begin("i-0", "differential")
        logs = [path_of(f) for f in c.x.ListFiles(s) if str(f[1]) == "log"]
        self.assertGreaterEqual(len(logs), 2)
        fd1, _ = c.open(s, logs[0], compression="none")
        name, msg = error_of(c.open, s, logs[1])
        self.assertEqual(name, "org.freedesktop.DBus.Error.LimitsExceeded", msg)
        read_all(fd1)
        wait_for(lambda: c.x.ListFiles(s)[0][5]["streamed"], 30, "the first stream to end")
        fd2, _ = c.open(s, logs[1], compression="none")  # a slot is free again
        read_all(fd2)
        c.x.EndBackup(s, False)

    def test_incremental_needs_a_full_and_bad_arguments(self):
        c = self.start(load=False)
        name, msg = error_of(c.begin, "i-0", "incremental")
        self.assertEqual(name, ERR + "InvalidState", msg)
        self.assertIn("JET_errMissingFullBackup", msg)
        self.assertEqual(error_of(c.begin, "nope", "full")[0], ERR + "UnknownInstance")
        self.assertEqual(error_of(c.begin, "i-0", "log")[0], ERR + "NotSupported")
        self.assertEqual(error_of(lambda: c.begin("i-0", "full", colour="red"))[0], "org.freedesktop.DBus.Error.InvalidArgs")
        s, info = c.begin("i-0", "full")
        db = bytes(info["databases"][0]).decode()
        self.assertEqual(error_of(lambda: c.open(s, db, offset=dbus.UInt64(5)))[0], ERR + "NotSupported")
        self.assertEqual(error_of(lambda: c.open(s, db, compression="lz4"))[0], ERR + "NotSupported")
        self.assertEqual(error_of(lambda: c.open(s, db, zstd_level=dbus.Int32(40)))[0],
                         "org.freedesktop.DBus.Error.InvalidArgs")
        self.assertEqual(error_of(c.x.ListFiles, ROOT + "/session/9999")[0], ERR + "UnknownSession")
        c.x.EndBackup(s, False)
        # Ending again answers as the first end did.
        self.assertFalse(c.x.EndBackup(s, True)["valid"])

    def test_truncate_logs_only_after_a_valid_full_or_incremental(self):
        c = self.start(value_size=4000, commits=300)
        logdir = os.path.join(self.env.dir, "data", "i-0")

        def gens():
            return sorted(int(n[3:8], 16) for n in os.listdir(logdir) if len(n) == 12 and n.endswith(".log")
                          and n.startswith("edb") and n != "edb.log")

        name, msg = error_of(c.x.TruncateLogs, "i-0", "", {})
        self.assertEqual(name, ERR + "InvalidState", msg)  # no backup through this writer yet
        self.assertEqual(error_of(c.x.TruncateLogs, "nope", "", {})[0], ERR + "UnknownInstance")
        self.assertEqual(error_of(c.x.TruncateLogs, "i-0", "x1", {})[0], "org.freedesktop.DBus.Error.InvalidArgs")
        # A copy backup never allows truncation.
        s, _ = c.begin("i-0", "copy")
        c.backup(s)
        self.assertEqual(str(c.x.EndBackup(s, True)["recorded_as"]), "copy")
        self.assertEqual(error_of(c.x.TruncateLogs, "i-0", "", {})[0], ERR + "InvalidState")
        # A full one does, up to its last generation, and not while a backup runs.
        s, _ = c.begin("i-0", "full")
        c.backup(s)
        name, msg = error_of(c.x.TruncateLogs, "i-0", "", {})
        self.assertEqual(name, ERR + "InvalidState", msg)
        stop = c.x.EndBackup(s, True)
        self.assertTrue(stop["valid"])
        last = int(stop["last_generation"])
        self.assertEqual(error_of(c.x.TruncateLogs, "i-0", str(last + 1), {})[0], ERR + "InvalidState")
        before = gens()
        self.assertTrue(before and before[0] <= last, before)
        first = int(c.x.TruncateLogs("i-0", "", {}))
        after = gens()
        self.assertGreater(first, before[0])
        self.assertLessEqual(first, last + 1)
        self.assertTrue(all(g >= first for g in after), (first, after))
        # The next incremental follows on from what is left, and is valid.
        wait_for(lambda: self.env.ack_count() > 400, 60, "more commits")
        s, _ = c.begin("i-0", "incremental")
        c.backup(s)
        self.assertTrue(c.x.EndBackup(s, True)["valid"])

    def test_file_stream_finished_signal(self):
        c = self.start(load=False)
        mon = os.path.join(self.env.dir, "mon.txt")
        with open(mon, "w") as out:
            m = subprocess.Popen(["dbus-monitor", "--address", self.env.address,
                                  "type='signal',interface='%s'" % IX], stdout=out, stderr=subprocess.DEVNULL)
            try:
                wait_for(lambda: os.path.getsize(mon) > 0, 10, "dbus-monitor")
                s, info = c.begin("i-0", "full")
                data, oinfo, _ = c.stream(s, bytes(info["databases"][0]).decode(), compression="none")
                c.x.EndBackup(s, False)
                def monitored():
                    with open(mon) as f:
                        return f.read()
                wait_for(lambda: "FileStreamFinished" in monitored(), 10, "FileStreamFinished")
                text = monitored()
                self.assertIn('object path "%s"' % s, text)
                self.assertIn("uint32 %d" % int(oinfo["stream_id"]), text)
                self.assertIn("uint64 %d" % len(data), text)
                self.assertIn("boolean true", text)
            finally:
                m.kill()
                m.wait()


if __name__ == "__main__":
    missing = [n for n, v in (("JETSNAP_DEMO_APP", APP), ("TESTBUS_CONF_IN", CONF_IN))
               if not v]
    if missing:
        sys.exit("test-xbackup.py: set %s (meson test sets them)" % ", ".join(missing))
    if os.geteuid() != 0:
        sys.exit("test-xbackup.py needs root: the writer's allow_users is root")
    unittest.main(verbosity=2)
