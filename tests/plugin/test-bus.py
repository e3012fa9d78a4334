#!/usr/bin/python3
"""test-bus.py — the writer on D-Bus, checked from outside the way coordinators use it.

Each test starts its own dbus-daemon (tests/plugin/testbus.conf.in) and its own
jetsnap-demo-app, which hosts instances through jetsnap-writer.so, and drives the writer with
real, unmodified clients: dbus-python, busctl, gdbus, dbus-monitor, and setpriv for a second uid.
The signatures, state names and error names are those of plugin/org.jetsnap.Writer1.xml and
docs/writer.md. Run by meson (suite 'integration') with /usr/bin/python3, whose dbus module is
Debian's python3-dbus; the environment names the programs and files:
  JETSNAP_DEMO_APP   the built jetsnap-demo-app
  JETSNAP_WRITER_XML plugin/org.jetsnap.Writer1.xml
  TESTBUS_CONF_IN    tests/plugin/testbus.conf.in
  JETSNAP_BUS_POLICY plugin/org.jetsnap.Writer1.conf
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

import dbus

XML = os.environ.get("JETSNAP_WRITER_XML", "")
POLICY = os.environ.get("JETSNAP_BUS_POLICY", "")

from jsbus import APP, CONF_IN, ERR, IW, NAME, PROPS, ROOT, Client, Env, cli, error_of, wait_for


class WriterBus(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.env.start_bus()

    def tearDown(self):
        self.env.close()

    def start(self, **kw):
        load = kw.pop("load", False)
        loop = kw.pop("loop", "thread")
        self.env.write_config(**kw)
        self.env.start_app(load=load, loop=loop)
        return Client(self.env.address)

    def instance_states(self, c):
        state, per = c.w.GetStatus()
        return str(state), {str(i[0]): str(i[1]) for i in per}

    # ------------------------------------------------------------------------------------------
    def test_introspect_matches_the_installed_contract(self):
        c = self.start(n=2)
        want = {i.get("name"): i for i in ET.parse(XML).getroot().findall("interface")}
        session = c.w.PrepareForBackup("copy", [], {})
        objects = {ROOT: "org.jetsnap.Writer1.Writer",
                   ROOT + "/instance/i_2d0": "org.jetsnap.Writer1.Instance",
                   str(session): "org.jetsnap.Writer1.Session"}
        for path, iface in objects.items():
            r = cli("gdbus", "introspect", "--address", self.env.address, "--dest", NAME,
                    "--object-path", path, "--xml", check=True)
            got = {i.get("name"): i for i in ET.fromstring(r.stdout).findall("interface")}
            self.assertIn(iface, got, "%s does not offer %s" % (path, iface))
            self.assertEqual(canon(got[iface]), canon(want[iface]),
                             "%s on %s differs from %s" % (iface, path, XML))
            for std in ("org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Introspectable",
                        "org.freedesktop.DBus.Peer"):
                self.assertIn(std, got, path)
        tree = cli("busctl", "--address=" + self.env.address, "tree", NAME, check=True).stdout
        for p in ("/org/jetsnap/Writer1/instance/i_2d0", "/org/jetsnap/Writer1/instance/i_2d1",
                  str(session)):
            self.assertIn(p, tree)
        cli("busctl", "--address=" + self.env.address, "call", NAME, ROOT,
            "org.freedesktop.DBus.Peer", "Ping", check=True)

    def test_freeze_thaw_complete_reports_every_instance(self):
        c = self.start(n=3, load=True)
        s = c.w.PrepareForBackup("full", [], {})
        self.assertEqual(c.prop("FreezeOwner"), c.name)
        self.assertEqual(c.prop("ActiveSession"), s)
        self.assertEqual(c.prop("State"), "preparing")
        res = c.w.Freeze(s, {})
        self.assertEqual(sorted((str(a), str(b)) for a, b, _ in res),
                         [("i-0", "frozen"), ("i-1", "frozen"), ("i-2", "frozen")])
        state, inst = self.instance_states(c)
        self.assertEqual((state, set(inst.values())), ("frozen", {"frozen"}))
        self.assertGreater(c.obj_prop(ROOT + "/instance/i_2d1", "org.jetsnap.Writer1.Instance",
                                      "FrozenSinceUsec"), 0)
        self.assertEqual(c.obj_prop(s, "org.jetsnap.Writer1.Session", "State"), "frozen")
        time.sleep(0.1)
        res, usec = c.w.Thaw(s, {})
        self.assertEqual({str(b) for _, b, _ in res}, {"running"})
        self.assertGreaterEqual(usec, 100000)
        res2, usec2 = c.w.Thaw(s, {})  # "just in case": harmless
        self.assertEqual(usec2, usec)
        c.w.BackupComplete(s, True, {})
        self.assertEqual(c.prop("State"), "stable")
        self.assertEqual(c.prop("ActiveSession"), "/")
        self.assertEqual(c.obj_prop(s, "org.jetsnap.Writer1.Session", "State"), "completed")
        objs = dbus.Interface(c.obj, "org.freedesktop.DBus.ObjectManager").GetManagedObjects()
        self.assertEqual(sorted(str(p) for p in objs),
                         [ROOT + "/instance/i_2d0", ROOT + "/instance/i_2d1", ROOT + "/instance/i_2d2"])
        before = self.env.ack_count()
        wait_for(lambda: self.env.ack_count() > before + 100, 10, "the writes to resume")

    def test_nothing_is_written_into_a_frozen_instance(self):
        # Rule 6: while frozen, neither the engine nor the writer (its log lines, its state)
        # touches the instances' files, under a write load and with the writer logging events.
        c = self.start(n=2, load=True)
        s = c.w.PrepareForBackup("copy", [], {})
        c.w.Freeze(s, {})
        before = tree_state(os.path.join(self.env.dir, "data"))
        c.w.GetStatus()
        c.w.GetMetadata({})
        time.sleep(0.3)
        after = tree_state(os.path.join(self.env.dir, "data"))
        c.w.Thaw(s, {})
        c.w.Abort(s, "test")
        self.assertEqual(before, after)

    def test_reads_from_others_are_answered_while_frozen(self):
        c = self.start(n=2, allow="root")
        s = c.w.PrepareForBackup("copy", [], {})
        c.w.Freeze(s, {})
        a = self.env.address
        for uid in (None, "nobody"):
            r = cli("busctl", "--address=" + a, "call", NAME, ROOT, IW, "GetStatus", uid=uid, check=True)
            self.assertTrue(r.stdout.startswith('sa(ssss) "frozen" 2'), r.stdout)
            r = cli("busctl", "--address=" + a, "get-property", NAME, ROOT, IW, "FreezeOwner", uid=uid,
                    check=True)
            self.assertEqual(r.stdout.strip(), 's "%s"' % c.name)
            cli("gdbus", "introspect", "--address", a, "--dest", NAME, "--object-path", ROOT, uid=uid,
                check=True)
        c.w.Thaw(s, {})

    def test_owner_killed_while_frozen_thaws_at_once(self):
        c = self.start(n=2, load=True, freeze_ms=60000)
        self.env.start_monitor()
        holder = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, self.env.address], stdout=subprocess.PIPE,
                                  text=True)
        line = holder.stdout.readline().split()
        self.assertEqual(line[0], "frozen", line)
        session = line[1]
        self.assertEqual(self.instance_states(c)[1], {"i-0": "frozen", "i-1": "frozen"})
        killed = time.monotonic()
        holder.kill()
        holder.wait()
        holder.stdout.close()
        wait_for(lambda: set(self.instance_states(c)[1].values()) == {"running"}, 5, "the auto-thaw")
        elapsed = time.monotonic() - killed
        self.assertLess(elapsed, 2.0, "the thaw waited for something other than the owner leaving")
        wait_for(lambda: re.search(r'member=AutoThawed.*?\n\s*object path "%s"\n\s*string "owner-vanished"'
                                   % re.escape(session), self.env.monitored(), re.S), 5,
                 "AutoThawed(owner-vanished) on the bus")
        self.assertEqual(c.obj_prop(session, "org.jetsnap.Writer1.Session", "State"), "aborted")
        before = self.env.ack_count()
        wait_for(lambda: self.env.ack_count() > before + 100, 10, "the writes to resume")

    def test_a_cli_caller_that_exits_leaves_no_session(self):
        self.start(n=1)
        r = cli("busctl", "--address=" + self.env.address, "call", NAME, ROOT, IW, "PrepareForBackup",
                "sasa{sv}", "copy", "0", "0", check=True)
        path = r.stdout.split('"')[1]
        c = Client(self.env.address)
        wait_for(lambda: c.obj_prop(path, "org.jetsnap.Writer1.Session", "State") == "aborted", 5,
                 "the session of the departed busctl to end")
        self.assertEqual(c.prop("ActiveSession"), "/")

    def test_freeze_timeout_of_300_ms(self):
        c = self.start(n=2, freeze_ms=300)
        self.env.start_monitor()
        s = c.w.PrepareForBackup("copy", [], {})
        c.w.Freeze(s, {})
        t0 = time.monotonic()
        wait_for(lambda: set(self.instance_states(c)[1].values()) == {"running"}, 5, "the time-out thaw")
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)
        name, msg = error_of(c.w.Thaw, s, {})
        self.assertEqual(name, ERR + "Timeout", msg)
        self.assertEqual(error_of(c.w.BackupComplete, s, True, {})[0], ERR + "Timeout")
        self.assertRegex(self.env.monitored(), r'member=AutoThawed.*?\n\s*object path "%s"\n\s*string "timeout"'
                         % re.escape(s))
        c.w.Abort(s, "done")  # legal in every state

    def test_one_owner_at_a_time(self):
        a = self.start(n=2)
        b = Client(self.env.address)
        s = a.w.PrepareForBackup("copy", [], {})
        name, msg = error_of(b.w.PrepareForBackup, "copy", [], {})
        self.assertEqual(name, ERR + "Busy")
        self.assertIn(a.name, msg)
        for call, args in ((b.w.Freeze, (s, {})), (b.w.Thaw, (s, {})), (b.w.Abort, (s, "x")),
                           (b.w.BackupComplete, (s, True, {}))):
            name, msg = error_of(call, *args)
            self.assertEqual(name, ERR + "InvalidState", msg)
            self.assertIn(a.name, msg)
        self.assertEqual(error_of(a.w.Thaw, s, {})[0], ERR + "InvalidState")  # not frozen yet
        a.w.Freeze(s, {})
        self.assertEqual(error_of(b.w.PrepareForBackup, "copy", [], {})[0], ERR + "Busy")
        a.w.Abort(s, "first")
        a.w.Abort(s, "again")  # idempotent
        self.assertEqual(set(self.instance_states(a)[1].values()), {"running"})
        s2 = b.w.PrepareForBackup("copy", ["i-1"], {})  # free again
        self.assertEqual(b.obj_prop(s2, "org.jetsnap.Writer1.Session", "Instances"), ["i-1"])
        b.w.Abort(s2, "")

    def test_callers_not_in_allow_users_are_refused(self):
        self.start(n=1, allow="root")
        a = self.env.address
        for member, sig, args in (("PrepareForBackup", "sasa{sv}", ["copy", "0", "0"]),
                                  ("Freeze", "oa{sv}", [ROOT + "/session/1", "0"]),
                                  ("Thaw", "oa{sv}", [ROOT + "/session/1", "0"]),
                                  ("Abort", "os", [ROOT + "/session/1", "x"]),
                                  ("BackupComplete", "oba{sv}", [ROOT + "/session/1", "true", "0"])):
            r = cli("busctl", "--address=" + a, "call", NAME, ROOT, IW, member, sig, *args, uid="nobody")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("Access denied", r.stderr, member)
        r = cli("gdbus", "call", "--address", a, "--dest", NAME, "--object-path", ROOT, "--method",
                IW + ".PrepareForBackup", "copy", "[]", "{}", uid="nobody")
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
        self.assertIn("allow_users", r.stderr)

    def test_a_listed_second_uid_may_freeze(self):
        self.start(n=1, allow="root, nobody")
        r = cli("gdbus", "call", "--address", self.env.address, "--dest", NAME, "--object-path", ROOT,
                "--method", IW + ".PrepareForBackup", "copy", "[]", "{}", uid="nobody", check=True)
        self.assertIn("/org/jetsnap/Writer1/session/", r.stdout)

    def test_bad_arguments_get_errors_and_leave_the_writer_healthy(self):
        c = self.start(n=2)
        w = c.w
        big = "x" * (1 << 20)
        cases = [
            (lambda: w.PrepareForBackup(big, [], {}), ERR + "NotSupported"),
            (lambda: w.PrepareForBackup("copy", [big], {}), ERR + "UnknownInstance"),
            (lambda: w.PrepareForBackup("copy", ["i-0"] * 100000, {}), "org.freedesktop.DBus.Error.InvalidArgs"),
            (lambda: w.PrepareForBackup("copy", [], {"k%d" % i: dbus.UInt32(i) for i in range(100000)}),
             "org.freedesktop.DBus.Error.InvalidArgs"),
            (lambda: w.PrepareForBackup("copy", [], {"no-such-option": True}), "org.freedesktop.DBus.Error.InvalidArgs"),
            (lambda: w.Freeze(dbus.ObjectPath(ROOT + "/session/4294967296"), {}), ERR + "UnknownSession"),
            (lambda: w.Freeze(dbus.ObjectPath(ROOT + "/session/007"), {}), ERR + "UnknownSession"),
            (lambda: w.Freeze(dbus.ObjectPath("/"), {}), ERR + "UnknownSession"),
            (lambda: w.Thaw(dbus.ObjectPath(ROOT + "/session/12345"), {}), ERR + "UnknownSession"),
            (lambda: w.Freeze("not a path", {}, signature="sa{sv}"), "org.freedesktop.DBus.Error.InvalidArgs"),
            (lambda: w.Freeze(dbus.ObjectPath(ROOT), signature="o"), "org.freedesktop.DBus.Error.InvalidArgs"),
            (lambda: w.GetStatus(1, signature="u"), "org.freedesktop.DBus.Error.InvalidArgs"),
            (lambda: w.NoSuchMethod(), "org.freedesktop.DBus.Error.UnknownMethod"),
            (lambda: c.p.Get(IW, big), "org.freedesktop.DBus.Error.UnknownProperty"),
            (lambda: c.p.Set(IW, "State", "frozen"), "org.freedesktop.DBus.Error.PropertyReadOnly"),
            (lambda: c.p.GetAll("org.example.Nope"), "org.freedesktop.DBus.Error.UnknownInterface"),
            (lambda: c.bus.get_object(NAME, ROOT + "/instance/nope").GetAll(
                "org.jetsnap.Writer1.Instance", dbus_interface=PROPS), "org.freedesktop.DBus.Error.UnknownObject"),
        ]
        for call, want in cases:
            name, msg = error_of(call)
            self.assertEqual(name, want, msg[:200])
        # and gdbus with a string where the object path belongs: refused, not crashed
        r = cli("gdbus", "call", "--address", self.env.address, "--dest", NAME, "--object-path", ROOT,
                "--method", IW + ".Abort", "'nonsense'", "'x'")
        self.assertNotEqual(r.returncode, 0)
        s = w.PrepareForBackup("copy", [], {})
        w.Abort(s, big)  # a 1 MiB reason is cut, not refused
        s = w.PrepareForBackup("copy", ["i-0", "i-0"], {})
        self.assertEqual(len(w.Freeze(s, {})), 1)
        w.Thaw(s, {})
        w.BackupComplete(s, True, {})
        self.assertEqual(self.instance_states(c), ("stable", {"i-0": "running", "i-1": "running"}))
        self.assertIsNone(self.env.app.poll(), "the writer host died")

    def test_100_rounds_from_4_coordinators_under_load_lose_nothing(self):
        self.start(n=3, load=True, freeze_ms=10000)
        procs = [subprocess.Popen([sys.executable, "-c", ROUNDS_SCRIPT, self.env.address, "25"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        done = 0
        for p in procs:
            out, err = p.communicate(timeout=240)
            self.assertEqual(p.returncode, 0, err)
            done += int(out.split()[0])
        self.assertEqual(done, 100)
        c = Client(self.env.address)
        self.assertEqual(self.instance_states(c), ("stable", {"i-0": "running", "i-1": "running", "i-2": "running"}))
        c.close()
        acked = self.env.ack_count()
        self.assertEqual(self.env.stop_app(), 0, self.env.app_log())
        r = subprocess.run([APP, "--verify", "--config", self.env.conf, "--acks", self.env.acks],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(acked, 0)

    def test_host_loop_mode_serves_and_tracks_owners(self):
        # The same writer driven by the host's poll loop (bus_fd + bus_dispatch) instead of its thread.
        c = self.start(n=2, loop="host", freeze_ms=60000)
        s = c.w.PrepareForBackup("copy", [], {})
        c.w.Freeze(s, {})
        c.w.Thaw(s, {})
        c.w.BackupComplete(s, True, {})
        holder = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, self.env.address], stdout=subprocess.PIPE,
                                  text=True)
        self.assertEqual(holder.stdout.readline().split()[0], "frozen")
        holder.kill()
        holder.wait()
        holder.stdout.close()
        wait_for(lambda: set(self.instance_states(c)[1].values()) == {"running"}, 5, "the auto-thaw")

    def test_a_second_writer_for_the_same_name_is_refused(self):
        self.start(n=1)
        first_conf = self.env.conf
        other = Env()
        try:
            other.address = self.env.address
            other.write_config(n=1)
            other.start_app(expect_ready=False)
            rc = other.app.wait(30)
            other.app.stdout.close()
            other.app = None
            self.assertEqual(rc, 3)
            self.assertIn("cannot own the bus name org.jetsnap.Writer1", other.app_log())
        finally:
            other.close()
        self.assertTrue(first_conf)

    def test_the_installed_system_bus_policy(self):
        # Debian's own system.conf (deny by default) with the writer's policy file included, on a
        # private daemon: root may own the name, anyone may call, the writer decides by uid.
        with open("/usr/share/dbus-1/system.conf") as f:
            text = f.read()
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        text = re.sub(r"\s*<(user|pidfile|servicehelper)>[^<]*</\1>", "", text)
        text = re.sub(r"\s*<(fork|syslog|standard_system_servicedirs)/>", "", text)
        text = re.sub(r"\s*<include(dir)?\b[^>]*>[^<]*</include(dir)?>", "", text)
        text = re.sub(r"<listen>[^<]*</listen>", "<listen>@LISTEN@</listen>", text)
        text = text.replace("</busconfig>", "<include>%s</include>\n</busconfig>" % POLICY)
        self.assertIn("<deny send_type=\"method_call\"/>", text)
        self.env.kill_bus()
        self.env.start_bus(text=text)
        self.start(n=1, allow="root")
        a = self.env.address
        r = cli("busctl", "--address=" + a, "call", NAME, ROOT, IW, "GetStatus", uid="nobody", check=True)
        self.assertTrue(r.stdout.startswith('sa(ssss) "stable"'), r.stdout)
        cli("gdbus", "introspect", "--address", a, "--dest", NAME, "--object-path", ROOT, uid="nobody", check=True)
        r = cli("gdbus", "call", "--address", a, "--dest", NAME, "--object-path", ROOT, "--method",
                IW + ".PrepareForBackup", "copy", "[]", "{}", uid="nobody")
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
        self.assertIn("allow_users", r.stderr, "refused by the bus, not by the writer: " + r.stderr)
        # a process of another uid cannot take the writer's name
        r = cli(sys.executable, "-c", "import dbus,sys; b=dbus.bus.BusConnection(sys.argv[1]); "
                "print(b.request_name('org.jetsnap.Writer1', dbus.bus.NAME_FLAG_DO_NOT_QUEUE))", a, uid="nobody")
        self.assertIn("AccessDenied", r.stderr)

    def test_bus_lost_while_frozen_thaws_then_reconnects(self):
        sock = os.path.join(self.env.dir, "fixed-bus")
        self.env.kill_bus()
        self.env.start_bus(listen="unix:path=" + sock)
        c = self.start(n=2, load=True, freeze_ms=60000)
        s = c.w.PrepareForBackup("copy", [], {})
        c.w.Freeze(s, {})
        frozen_at = self.env.ack_count()
        self.env.kill_bus()
        wait_for(lambda: "ended: disconnected" in self.env.app_log(), 5, "the writer to thaw after losing the bus")
        wait_for(lambda: self.env.ack_count() > frozen_at + 100, 10, "the writes to resume")
        os.unlink(sock)
        self.env.start_bus(listen="unix:path=" + sock)

        def answered():
            try:
                per = Client(self.env.address).w.GetStatus()[1]
                return {str(i[1]) for i in per} == {"running"}
            except dbus.DBusException:
                return False
        try:
            wait_for(answered, 15, "the writer to reconnect")
        except AssertionError:
            raise AssertionError("no reconnect; the host said:\n" + self.env.app_log()[-3000:])
        self.assertIn("reconnected to the bus", self.env.app_log())



class SlowQuiesce(unittest.TestCase):
    """A Freeze that cannot finish quiescing: one instance lives on a filesystem of our own, on a
    loop device, which the test freezes (fsfreeze) under the write load, so that instance's I/O
    blocks in the kernel. Only a filesystem this test created is ever frozen; it is thawed on
    every exit path, and a watchdog process thaws it after 60 s whatever happens to the test."""

    def setUp(self):
        self.env = Env()
        self.loop = self.mnt = self.watchdog = None
        self.frozen = False
        img = os.path.join(self.env.dir, "disk.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        r = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True)
        if r.returncode != 0:
            self.env.close()
            self.fail("this test needs root and a free loop device: losetup said: " + r.stderr.strip())
        self.loop = r.stdout.strip()
        self.mnt = os.path.join(self.env.dir, "mnt")
        os.mkdir(self.mnt)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.loop], check=True, timeout=60)
        subprocess.run(["mount", self.loop, self.mnt], check=True, timeout=30)
        self.env.start_bus()

    def tearDown(self):
        try:
            self.thaw_disk()
            if self.watchdog:
                os.killpg(self.watchdog.pid, signal.SIGKILL)  # its sleep too
                self.watchdog.wait()
            if self.env.app:
                self.env.stop_app()
        finally:
            if self.mnt:
                subprocess.run(["umount", self.mnt], timeout=30)
            if self.loop:
                subprocess.run(["losetup", "-d", self.loop], timeout=30)
            self.env.close()

    def freeze_disk(self):
        self.watchdog = subprocess.Popen(["sh", "-c", "sleep 60; fsfreeze -u '%s'" % self.mnt], start_new_session=True,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["fsfreeze", "-f", self.mnt], check=True, timeout=30)
        self.frozen = True

    def thaw_disk(self):
        if self.frozen:
            subprocess.run(["fsfreeze", "-u", self.mnt], timeout=30)
            self.frozen = False

    def test_reads_are_answered_while_freeze_quiesces_and_it_times_out_whole(self):
        conf = self.env.write_config(n=2, quiesce_ms=2000, freeze_ms=60000)
        slow = os.path.join(self.mnt, "i-0")
        with open(conf) as f:
            text = f.read().replace(os.path.join(self.env.dir, "data", "i-0"), slow)
        with open(conf, "w") as f:
            f.write(text)
        self.env.start_app(load=True)
        c = Client(self.env.address)
        owner = Client(self.env.address)
        s = owner.w.PrepareForBackup("copy", [], {})
        time.sleep(0.3)  # the load is writing to both instances
        self.freeze_disk()
        result = {}

        def freeze():
            t0 = time.monotonic()
            try:
                owner.w.Freeze(s, {}, timeout=30)
                result["error"] = None
            except dbus.DBusException as e:
                result["error"] = (e.get_dbus_name(), e.get_dbus_message())
            result["seconds"] = time.monotonic() - t0

        import threading
        t = threading.Thread(target=freeze)
        t.start()
        time.sleep(0.4)
        self.assertTrue(t.is_alive(), "the Freeze returned at once: the disk did not hold it up")
        a = self.env.address
        answered = []
        for uid in (None, "nobody"):
            for args in (["call", NAME, ROOT, IW, "GetStatus"],
                         ["get-property", NAME, ROOT, IW, "State"],
                         ["call", NAME, ROOT, "org.freedesktop.DBus.Peer", "Ping"],
                         ["introspect", NAME, ROOT]):
                t0 = time.monotonic()
                cli("busctl", "--address=" + a, "--timeout=2", *args, uid=uid, check=True)
                answered.append(time.monotonic() - t0)
        self.assertTrue(t.is_alive(), "the reads were not made while the Freeze quiesced")
        self.assertEqual(c.prop("State"), "preparing")
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertIsNotNone(result["error"], "the Freeze succeeded with an instance that could not quiesce")
        self.assertEqual(result["error"][0], ERR + "Timeout", result["error"][1])
        self.assertGreaterEqual(result["seconds"], 1.8)
        self.assertLess(max(answered), 1.5, "a read waited for the quiescing Freeze: %r" % answered)
        # Never a half-frozen set: the instance that did freeze is running again.
        self.assertEqual(self.instance_states(c).get("i-1"), "running")
        self.assertEqual(c.obj_prop(s, "org.jetsnap.Writer1.Session", "State"), "failed-at-freeze")
        self.thaw_disk()
        before = self.env.ack_count()
        wait_for(lambda: self.env.ack_count() > before + 100, 20, "the writes to resume after the disk thawed")
        wait_for(lambda: set(self.instance_states(c).values()) == {"running"}, 20, "every instance running")
        s2 = owner.w.PrepareForBackup("copy", [], {})
        owner.w.Freeze(s2, {})
        owner.w.Thaw(s2, {})
        owner.w.BackupComplete(s2, True, {})

    def instance_states(self, c):
        return {str(i[0]): str(i[1]) for i in c.w.GetStatus()[1]}


def canon(el):
    """An element without whitespace differences, for comparing interface definitions."""
    el = ET.fromstring(ET.tostring(el))
    for e in el.iter():
        e.text = (e.text or "").strip() or None
        e.tail = None
    return ET.tostring(el, encoding="unicode")


def tree_state(top):
    st = {}
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            s = os.stat(p)
            st[p] = (s.st_size, s.st_mtime_ns)
    return st


# A coordinator that prepares and freezes, says so, and waits to be killed.
OWNER_SCRIPT = r"""
import dbus, sys, time
bus = dbus.bus.BusConnection(sys.argv[1])
w = dbus.Interface(bus.get_object("org.jetsnap.Writer1", "/org/jetsnap/Writer1"), "org.jetsnap.Writer1.Writer")
s = w.PrepareForBackup("copy", [], {})
w.Freeze(s, {})
print("frozen", s, flush=True)
time.sleep(600)
"""

# A coordinator doing N full rounds, retrying while another one holds the writer.
ROUNDS_SCRIPT = r"""
import dbus, sys, time
bus = dbus.bus.BusConnection(sys.argv[1])
w = dbus.Interface(bus.get_object("org.jetsnap.Writer1", "/org/jetsnap/Writer1"), "org.jetsnap.Writer1.Writer")
done = 0
deadline = time.monotonic() + 200
while done < int(sys.argv[2]) and time.monotonic() < deadline:
    try:
        s = w.PrepareForBackup("copy", [], {})
    except dbus.DBusException as e:
        if e.get_dbus_name() != "org.jetsnap.Writer1.Error.Busy":
            raise
        time.sleep(0.002)
        continue
    res = w.Freeze(s, {})
    assert all(str(r[1]) == "frozen" for r in res), res
    res, usec = w.Thaw(s, {})
    assert all(str(r[1]) == "running" for r in res), res
    w.BackupComplete(s, True, {})
    done += 1
print(done)
"""

if __name__ == "__main__":
    missing = [n for n, v in (("JETSNAP_DEMO_APP", APP), ("JETSNAP_WRITER_XML", XML), ("TESTBUS_CONF_IN", CONF_IN),
                                          ("JETSNAP_BUS_POLICY", POLICY))
               if not v]
    if missing:
        sys.exit("test-bus.py: set %s (meson does)" % ", ".join(missing))
    if os.geteuid() != 0:
        sys.exit("test-bus.py: needs root, to run a client as the user 'nobody' with setpriv")
    unittest.main(verbosity=2)
