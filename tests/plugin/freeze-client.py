"""freeze-client.py — a snapshot coordinator that freezes and then waits to be thawed by shutdown.

    /usr/bin/python3 freeze-client.py ADDRESS BUS_NAME TIMEOUT_S

Connects to the bus at ADDRESS, listens for Writer.AutoThawed, then PrepareForBackup("copy", [],
{}) and Freeze(session, {}) on BUS_NAME's /org/jetsnap/Writer1, and prints "FROZEN SESSION" with
one "RESULT instance state message" line per instance. It stays connected (the owner of the
freeze) until it receives AutoThawed for its session, prints "AUTOTHAWED SESSION REASON" and a
RESULT line per instance, and exits 0; after TIMEOUT_S seconds without it, or on a D-Bus error, it
exits 1. Run with the system python (dbus-python and GLib's main loop, python3-dbus and python3-gi).
"""
import sys

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

IFACE = "org.jetsnap.Writer1.Writer"
ROOT = "/org/jetsnap/Writer1"


def say(*words):
    print(*words, flush=True)


def main():
    address, bus_name, timeout_s = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    loop = GLib.MainLoop()
    outcome = {"rc": 1, "session": None}

    def on_auto_thawed(session, reason, results):
        # Signals of an earlier session are not ours: keep waiting.
        if session != outcome["session"]:
            say("OTHER-AUTOTHAWED", session, reason)
            return
        say("AUTOTHAWED", session, reason)
        for inst, state, message in results:
            say("RESULT", inst, state, message or "-")
        outcome["rc"] = 0
        loop.quit()

    def on_timeout():
        say("TIMEOUT waiting for AutoThawed")
        loop.quit()
        return False

    # The match is in place before the freeze, so no AutoThawed can slip by.
    bus.add_signal_receiver(on_auto_thawed, signal_name="AutoThawed", dbus_interface=IFACE, path=ROOT)
    writer = dbus.Interface(bus.get_object(bus_name, ROOT), IFACE)
    session = writer.PrepareForBackup("copy", dbus.Array([], signature="s"),
                                      dbus.Dictionary({}, signature="sv"))
    outcome["session"] = session
    results = writer.Freeze(session, dbus.Dictionary({}, signature="sv"))
    say("FROZEN", session)
    for inst, state, message in results:
        say("RESULT", inst, state, message or "-")
    GLib.timeout_add_seconds(timeout_s, on_timeout)
    loop.run()
    return outcome["rc"]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except dbus.exceptions.DBusException as e:
        print("DBUS-ERROR", e.get_dbus_name(), e.get_dbus_message(), flush=True)
        sys.exit(1)
