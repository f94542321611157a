#!/usr/bin/env python3
"""Image test helper: compares QEMU's screendump (PPM) with the gateway's PNG
of the same screen (8-bit RGB, as src/display/png.rs writes it), standard
library only. Exit 0 when at least 99.5% of the pixels are equal and the
picture is not blank. Usage: compare.py SCREEN.ppm SCREEN.png"""
import struct
import sys
import zlib


def ppm(path):
    data = open(path, "rb").read()
    magic, size, maxval, pixels = data.split(b"\n", 3)
    assert magic == b"P6" and maxval == b"255", "not an 8-bit P6 PPM"
    w, h = (int(x) for x in size.split())
    return w, h, pixels[: w * h * 3]


def png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, colour, interlace) == (8, 2, 0), "expected 8-bit RGB, not interlaced"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, bpp = zlib.decompress(idat), w * 3, 3
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, bytes(out)


(w1, h1, a), (w2, h2, b) = ppm(sys.argv[1]), png(sys.argv[2])
if (w1, h1) != (w2, h2):
    sys.exit(f"sizes differ: framebuffer {w1}x{h1}, gateway PNG {w2}x{h2}")
total = w1 * h1
equal = sum(1 for i in range(0, total * 3, 3) if a[i : i + 3] == b[i : i + 3])
colours = len({a[i : i + 3] for i in range(0, total * 3, 3 * 97)})
print(f"{equal} of {total} pixels equal ({100 * equal / total:.2f}%), {colours} colours sampled")
if colours < 2:
    sys.exit("the framebuffer is blank")
if equal < total * 0.995:
    sys.exit("the framebuffer does not show the gateway's screen")
