"""jsbus.py — what the writer's D-Bus tests share: a private dbus-daemon and a writer host
(jetsnap-demo-app) in a temporary directory (Env), one coordinator connection (Client), and small
helpers. The environment names the programs and files (see test-bus.py and test-xbackup.py).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import dbus

APP = os.environ.get("JETSNAP_DEMO_APP", "")
CONF_IN = os.environ.get("TESTBUS_CONF_IN", "")

NAME = "org.jetsnap.Writer1"
ROOT = "/org/jetsnap/Writer1"
IW = "org.jetsnap.Writer1.Writer"
PROPS = "org.freedesktop.DBus.Properties"
ERR = "org.jetsnap.Writer1.Error."


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


class Env:
    """A private bus and a writer host in a temporary directory, torn down whatever happens."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jetsnap-bus-")
        os.chmod(self.dir, 0o755)  # the "nobody" client must reach the bus socket inside
        self.bus_pid = None
        self.app = None
        self.monitor = None
        self.address = None

    # ---- the bus ----
    def start_bus(self, listen=None, text=None):
        listen = listen or "unix:dir=" + self.dir
        conf = os.path.join(self.dir, "bus.conf")
        if text is None:
            with open(CONF_IN) as f:
                text = f.read()
        with open(conf, "w") as o:
            o.write(text.replace("@LISTEN@", listen))
        out = subprocess.run(["dbus-daemon", "--config-file=" + conf, "--fork", "--nopidfile",
                              "--print-address=1", "--print-pid=1"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.split("\n")
        self.address, self.bus_pid = out[0], int(out[1])
        return self.address

    def kill_bus(self):
        if self.bus_pid:
            try:
                os.kill(self.bus_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.bus_pid = None

    # ---- the writer host ----
    def write_config(self, n=2, freeze_ms=5000, quiesce_ms=3000, allow="root", extra="", log_kb=256):
        self.conf = os.path.join(self.dir, "writer.conf")
        with open(self.conf, "w") as f:
            f.write("[writer]\nfreeze_timeout_ms = %d\nquiesce_timeout_ms = %d\nallow_users = %s\n%s"
                    % (freeze_ms, quiesce_ms, allow, extra))
            for i in range(n):
                d = os.path.join(self.dir, "data", "i-%d" % i)
                f.write("[instance i-%d]\nsystem_path = %s\nlog_path = %s\ndatabase = %s/db.edb\n"
                        "log_file_size_kb = %d\n" % (i, d, d, d, log_kb))
        self.acks = os.path.join(self.dir, "acks")
        return self.conf

    def start_app(self, load=False, loop="thread", expect_ready=True, value_size=None):
        args = [APP, "--config", self.conf, "--address", self.address, "--create", "--loop", loop]
        if load:
            args += ["--load", "--acks", self.acks]
        if value_size:
            args += ["--value-size", str(value_size)]
        self.app_err = open(os.path.join(self.dir, "app.err"), "w+")
        self.app = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.app_err, text=True)
        if expect_ready:
            line = self.app.stdout.readline()
            if line.strip() != "ready":
                raise AssertionError("the writer host did not start: %s" % self.app_log())
        return self.app

    def app_log(self):
        self.app_err.flush()
        with open(self.app_err.name) as f:
            return f.read()

    def stop_app(self, timeout=30):
        if not self.app:
            return None
        self.app.send_signal(signal.SIGTERM)
        try:
            rc = self.app.wait(timeout)
        except subprocess.TimeoutExpired:
            self.app.kill()
            rc = self.app.wait()
            raise AssertionError("the writer host did not stop within %d s after SIGTERM" % timeout)
        finally:
            self.app.stdout.close()
            self.app = None
        return rc

    def ack_count(self):
        try:
            with open(self.acks) as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    # ---- observers ----
    def start_monitor(self):
        self.mon_path = os.path.join(self.dir, "monitor.txt")
        self.mon_out = open(self.mon_path, "w")
        self.monitor = subprocess.Popen(
            ["dbus-monitor", "--address", self.address, "type='signal',interface='%s'" % IW],
            stdout=self.mon_out, stderr=subprocess.DEVNULL)
        # dbus-monitor has its match in place once it has said hello: wait for its first output
        wait_for(lambda: os.path.getsize(self.mon_path) > 0, 10, "dbus-monitor to start")

    def monitored(self):
        with open(self.mon_path) as f:
            return f.read()

    def close(self):
        if self.app:
            self.app.kill()
            self.app.wait()
            self.app.stdout.close()
        if self.monitor:
            self.monitor.kill()
            self.monitor.wait()
            self.mon_out.close()
        if getattr(self, "app_err", None):
            self.app_err.close()
        self.kill_bus()
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """One coordinator: its own connection, so its own unique name."""

    def __init__(self, address):
        self.bus = dbus.bus.BusConnection(address)
        self.obj = self.bus.get_object(NAME, ROOT)
        self.w = dbus.Interface(self.obj, IW)
        self.p = dbus.Interface(self.obj, PROPS)
        self.name = self.bus.get_unique_name()

    def prop(self, name):
        return self.p.Get(IW, name)

    def obj_prop(self, path, iface, name):
        return dbus.Interface(self.bus.get_object(NAME, path), PROPS).Get(iface, name)

    def close(self):
        self.bus.close()


def error_of(fn, *args):
    try:
        fn(*args)
    except dbus.DBusException as e:
        return e.get_dbus_name(), e.get_dbus_message()
    raise AssertionError("the call succeeded; an error was expected")


def cli(*args, uid=None, check=False):
    cmd = list(args)
    if uid:
        cmd = ["setpriv", "--reuid=" + uid, "--regid=nogroup", "--clear-groups"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), r.stderr))
    return r
