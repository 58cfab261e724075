"""Regenerate the MNIST subset bundled in microgrador/data/ from the four real MNIST files.

    python tools/make_mnist_subset.py /path/to/mnist [--out microgrador/data]

Keeps the first 2,000 training and the first 1,000 test images with their labels, in the
original order, and writes them as gzip IDX files with mtime 0, so the same input gives
the same bytes (with the same zlib). Prints the SHA-256 of each uncompressed output.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import struct
import sys

# Run from a source checkout without installing: import microgrador from the repository.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from microgrador.datasets import FILES, SUBSET_PREFIX, _find_files, read_idx  # noqa: E402

KEEP = {"train": 2000, "t10k": 1000}


def gzip_bytes(data: bytes) -> bytes:
    """Compress deterministically: no file name and mtime 0 in the gzip header."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="folder with the four MNIST files (.gz or uncompressed)")
    parser.add_argument("--out", default=os.path.join(REPO, "microgrador", "data"),
                        help="where to write the subset (default: microgrador/data)")
    args = parser.parse_args(argv)

    found = _find_files(args.source)
    missing = [base for base, path in found.items() if path is None]
    if missing:
        parser.error(f"not in {args.source}: {', '.join(missing)}")
    os.makedirs(args.out, exist_ok=True)
    for base in FILES:
        dims, data = read_idx(found[base])        # checks the header and the length
        n = KEEP[base.split("-")[0]]
        record = len(data) // dims[0]             # 784 bytes per image, 1 per label
        new_dims = (n,) + tuple(dims[1:])
        magic = 0x0800 + len(new_dims)            # unsigned bytes; 2051 images, 2049 labels
        content = struct.pack(f">I{len(new_dims)}I", magic, *new_dims) + data[:n * record]
        path = os.path.join(args.out, SUBSET_PREFIX + base + ".gz")
        with open(path, "wb") as f:
            f.write(gzip_bytes(content))
        print(f"{path}: {' x '.join(map(str, new_dims))}, "
              f"sha256 of uncompressed {hashlib.sha256(content).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
