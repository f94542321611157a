#!/usr/bin/env python3
"""Image test helper: QEMU monitor `screendump` into a PPM, waiting until the
file is complete. Usage: screendump.py MONITOR_SOCKET OUT.ppm"""
import os
import socket
import sys
import time

sock_path, out = sys.argv[1], sys.argv[2]
if os.path.exists(out):
    os.remove(out)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sock_path)
s.sendall(f"screendump {out}\n".encode())
deadline = time.time() + 20
while time.time() < deadline:
    if os.path.exists(out):
        with open(out, "rb") as f:
            data = f.read()
        parts = data.split(b"\n", 3)
        if len(parts) == 4 and parts[0] == b"P6":
            w, h = (int(x) for x in parts[1].split())
            if len(parts[3]) >= w * h * 3:
                print(f"{w}x{h}")
                sys.exit(0)
    time.sleep(0.2)
sys.exit("screendump: no complete PPM from the QEMU monitor")
