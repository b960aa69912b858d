"""Build helper: turns a Python source file into a C header with one
NUL-terminated char array (an array, since string literals past 4095
characters are not portable C).

usage: embed_py.py INPUT OUTPUT SYMBOL
"""
import sys

src, dst, symbol = sys.argv[1:4]
with open(src, "rb") as f:
    data = f.read() + b"\0"
rows = [", ".join(str(b) for b in data[i:i + 24]) for i in range(0, len(data), 24)]
with open(dst, "w", encoding="ascii") as f:
    f.write(f"/* Generated from {src.rsplit('/', 1)[-1]}: do not edit. */\n")
    f.write(f"static const char {symbol}[] = {{\n    ")
    f.write(",\n    ".join(rows))
    f.write("\n};\n")
