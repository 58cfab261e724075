"""MNIST and FashionMNIST in pure Python: read IDX files, download them, split them.

    >>> from microgrador.datasets import load_mnist
    >>> train, evaluation, info = load_mnist(subset=True)
    >>> len(train), len(evaluation), info["evaluation_split"]
    (1500, 500, 'validation')
    >>> pixels, label = train[0]      # 784 floats in [0, 1] and an int in 0..9

Images stay as one `bytes` object of rows*cols grey levels each (784 bytes for MNIST), so
the 60,000 training images take about 50 MB; a sample becomes a list of floats only when
it is used. Only the standard library is needed (tqdm, if installed, draws download bars).
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import operator
import os
import struct
import tempfile
import time
import urllib.request
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

from .progress import progress_bar

__all__ = ["DataError", "ImageSet", "read_idx", "load_mnist", "default_data_dir", "download",
           "verify_uncompressed", "MIRRORS", "MD5", "MNIST_SHA256"]


class DataError(ValueError):
    """A data file is missing, truncated or corrupt, or could not be downloaded."""


# --- the datasets -----------------------------------------------------------------------

TITLES = {"mnist": "MNIST", "fashion": "FashionMNIST"}
NUM_CLASSES = 10

# The four files, without their ".gz"; both datasets use the same names.
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# Public mirrors, tried in order. yann.lecun.com is last because it often refuses robots now.
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

# MD5 of the published .gz files, as listed by torchvision (datasets/mnist.py, `resources`).
# MD5 is weak against attackers, but these published sums are what identifies the files.
MD5 = {
    "mnist": {
        TRAIN_IMAGES + ".gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        TRAIN_LABELS + ".gz": "d53e105ee54ea40749a09fcbcd1e9432",
        TEST_IMAGES + ".gz": "9fb629c4189551a2d022fa330f9573f3",
        TEST_LABELS + ".gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion": {
        TRAIN_IMAGES + ".gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        TRAIN_LABELS + ".gz": "25c81989df183df01b3e8a0aad5dffbe",
        TEST_IMAGES + ".gz": "bef4ecab320f06d8554ea6380940ec79",
        TEST_LABELS + ".gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

# The published sizes of the .gz files in bytes: a download stops as soon as a mirror
# sends more, so a server that streams forever cannot fill the disk.
SIZES = {
    "mnist": {TRAIN_IMAGES + ".gz": 9912422, TRAIN_LABELS + ".gz": 28881,
              TEST_IMAGES + ".gz": 1648877, TEST_LABELS + ".gz": 4542},
    "fashion": {TRAIN_IMAGES + ".gz": 26421880, TRAIN_LABELS + ".gz": 29515,
                TEST_IMAGES + ".gz": 4422102, TEST_LABELS + ".gz": 5148},
}

# SHA-256 of the UNCOMPRESSED MNIST files. Downloads are checked with the .gz MD5s above,
# which is enough; these sums identify the content however it was (re)compressed, so a
# copy from anywhere can be checked with verify_uncompressed(folder).
MNIST_SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# The course's split: the last 5,000 of the 60,000 training images are the validation set.
VALIDATION_SIZE = 5000

# The small MNIST subset shipped inside the package (see data/README.md).
SUBSET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SUBSET_PREFIX = "mnist-subset-"

_CHUNK = 1 << 20          # read and download 1 MiB at a time
_MAX_IDX_BYTES = 1 << 31  # an IDX file's data; MNIST's largest is 47 MB, EMNIST's 550 MB
_MAX_IMAGES = 10 ** 6     # images per file (MNIST has 60,000): each is one Python object
_TIMEOUT = 30             # seconds without an answer before a mirror counts as unreachable
_DEADLINE = 30 * 60       # seconds for a whole download: a mirror that trickles is abandoned


# --- reading IDX files ------------------------------------------------------------------
# IDX (http://yann.lecun.com/exdb/mnist/) is a big-endian header: two zero bytes, a data
# type (0x08 = unsigned byte), the number of dimensions, one 32-bit size per dimension;
# then the values, last dimension fastest. Images: magic 2051 = 0x00000803, sizes
# (count, rows, cols). Labels: magic 2049 = 0x00000801, size (count).

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"
_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
               0x0D: "float", 0x0E: "double"}


class _IdxReader:
    """An open IDX file (gzip or raw) whose header is read and checked; the data is read on demand."""

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        self._file = open(self.path, "rb")
        try:
            # gzip or not is decided by the content, not by the file name.
            self.compressed = self._file.read(2) == _GZIP_MAGIC
            self._file.seek(0)
            self._stream = gzip.GzipFile(fileobj=self._file, mode="rb") if self.compressed else self._file
            self.offset = 0      # bytes of IDX content consumed so far (decompressed, for gzip)
            self._read_header()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> "_IdxReader":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._stream is not self._file:
            self._stream.close()     # closing a GzipFile leaves the file it reads from open
        self._file.close()

    def error(self, message: str) -> DataError:
        return DataError(f"{self.name}: {message}")

    def _ends_at(self) -> str:
        content = "decompressed data" if self.compressed else "file"
        return f"{content} ends at byte offset {self.offset}"

    def _read(self, n: int) -> bytes:
        """Read up to n bytes, fewer only at the end of the data."""
        parts = []
        while n > 0:
            try:
                # Bounded chunks: a corrupt header must not make us allocate gigabytes at once.
                chunk = self._stream.read(min(n, _CHUNK))
            except (OSError, EOFError, zlib.error) as exc:
                if not self.compressed:
                    raise
                raise self.error(f"corrupt or truncated gzip stream after {self.offset} bytes of "
                                 f"decompressed data ({exc})") from None
            if not chunk:
                break
            parts.append(chunk)
            self.offset += len(chunk)
            n -= len(chunk)
        return b"".join(parts)

    def _read_header(self) -> None:
        head = self._read(4)
        if len(head) < 4:
            raise self.error(f"truncated header: expected a 4-byte magic number, found {len(head)} "
                             f"bytes ({self._ends_at()})")
        self.magic = struct.unpack(">I", head)[0]
        zeros, dtype, ndim = struct.unpack(">HBB", head)
        if zeros != 0:
            raise self.error(f"bad magic number 0x{self.magic:08x} at byte offset 0: expected "
                             f"0x000008NN, e.g. 0x00000803 ({IMAGES_MAGIC}, images) or 0x00000801 "
                             f"({LABELS_MAGIC}, labels); this is not an IDX file")
        if dtype != 0x08:
            kind = _TYPE_NAMES.get(dtype, "unknown")
            raise self.error(f"bad magic number 0x{self.magic:08x}: data type 0x{dtype:02x} ({kind}) at "
                             f"byte offset 2, expected 0x08 (unsigned byte)")
        if ndim == 0:
            raise self.error(f"bad magic number 0x{self.magic:08x}: 0 dimensions at byte offset 3, "
                             f"expected at least 1")
        sizes = self._read(4 * ndim)
        if len(sizes) < 4 * ndim:
            raise self.error(f"truncated header: expected {4 * ndim} bytes of dimension sizes after the "
                             f"magic number, found {len(sizes)} ({self._ends_at()})")
        self.dims = struct.unpack(f">{ndim}I", sizes)
        self.header = head + sizes
        self.header_size = 4 + 4 * ndim
        self.data_size = math.prod(self.dims)
        self.what = {IMAGES_MAGIC: "pixel data", LABELS_MAGIC: "label data"}.get(self.magic, "data")
        if self.header_size + self.data_size > _MAX_IDX_BYTES:
            shape = " x ".join(str(d) for d in self.dims)
            raise self.error(f"the header (byte offsets 4-{self.header_size - 1}) claims {shape} = "
                             f"{self.data_size:,} bytes of {self.what}, more than the "
                             f"{_MAX_IDX_BYTES:,} this reader accepts")

    def read_data(self, n: int) -> bytes:
        """Read the next n bytes of the data section; a file that ends sooner is an error."""
        data = self._read(n)
        if len(data) < n:
            found = self.offset - self.header_size
            raise self.error(f"expected {self.data_size} bytes of {self.what} after the "
                             f"{self.header_size}-byte header, found {found} ({self._ends_at()})")
        return data

    def check_end(self) -> None:
        """Raise if anything follows the data: the header and the length disagree."""
        end = self.offset
        extra = len(self._read(_CHUNK))    # one bounded read: a bomb of trailing data is not unpacked
        if extra:
            shape = " x ".join(str(d) for d in self.dims)
            more = "at least " if extra == _CHUNK else ""
            raise self.error(f"expected {self.data_size} bytes of {self.what} after the "
                             f"{self.header_size}-byte header ({shape}), found {more}"
                             f"{self.data_size + extra}: {more}{extra} unexpected bytes after byte "
                             f"offset {end}")


def read_idx(path: str) -> Tuple[Tuple[int, ...], bytes]:
    """Read an IDX file of unsigned bytes (gzip or raw): its dimensions and its data.

    A bad magic number, a short or overlong file or a corrupt gzip stream raises DataError.
    """
    with _IdxReader(path) as idx:
        data = idx.read_data(idx.data_size)
        idx.check_end()
    return idx.dims, data


def _read_images(path: str, expected_count: Optional[int] = None, labels_name: str = ""
                 ) -> Tuple[List[bytes], int, int]:
    """Read an images file into one bytes object per image, without holding the whole file.
    With `expected_count` (from the labels file `labels_name`), a header that disagrees is
    refused before any pixel is read."""
    with _IdxReader(path) as idx:
        if idx.magic != IMAGES_MAGIC:
            raise idx.error(f"expected an images file (magic number {IMAGES_MAGIC} = 0x00000803, "
                            f"3 dimensions), found magic number {idx.magic} ({len(idx.dims)} dimensions)")
        count, rows, cols = idx.dims
        if rows == 0 or cols == 0:
            raise idx.error(f"images of {rows} x {cols} pixels in the header (byte offsets 8-15)")
        if count == 0:
            raise idx.error("the header (byte offsets 4-7) says the file holds 0 images")
        if count > _MAX_IMAGES:
            raise idx.error(f"the header (byte offsets 4-7) claims {count:,} images, more than the "
                            f"{_MAX_IMAGES:,} this reader accepts")
        if expected_count is not None and count != expected_count:
            raise DataError(f"{labels_name} has {expected_count} labels but {idx.name} has {count} "
                            f"images (by their headers)")
        # One read per image: each image gets its own bytes object straight away, and no
        # large temporary buffer is needed (both the file and gzip reader are buffered).
        images = [idx.read_data(rows * cols) for _ in range(count)]
        idx.check_end()
    return images, rows, cols


def _read_labels(path: str) -> bytes:
    """Read a labels file and check that every label is a class 0..9."""
    with _IdxReader(path) as idx:
        if idx.magic != LABELS_MAGIC:
            raise idx.error(f"expected a labels file (magic number {LABELS_MAGIC} = 0x00000801, "
                            f"1 dimension), found magic number {idx.magic} ({len(idx.dims)} dimensions)")
        labels = idx.read_data(idx.data_size)
        idx.check_end()
        if labels and max(labels) >= NUM_CLASSES:
            i = labels.index(max(labels))
            raise idx.error(f"label {labels[i]} at index {i} (byte offset {idx.header_size + i}) is not "
                            f"a class 0..{NUM_CLASSES - 1}")
    return labels


# --- a set of images ---------------------------------------------------------------------

# Grey level -> float in [0, 1], computed once: scaling a sample is then one lookup per pixel.
_PIXEL_SCALE = [level / 255.0 for level in range(256)]
_scaled = _PIXEL_SCALE.__getitem__


class ImageSet:
    """Images (one bytes object of rows*cols grey levels each) and their labels (one bytes)."""

    def __init__(self, images: List[bytes], labels: bytes, rows: int, cols: int) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.rows = rows
        self.cols = cols

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tuple[List[float], int]:
        """Sample i as (rows*cols pixels in [0, 1], row by row; label)."""
        if isinstance(i, slice):
            raise TypeError("ImageSet indices are integers; use split(start, stop) for a range")
        i = operator.index(i)
        return self.pixels(i), self.labels[i]

    def pixels(self, i: int) -> List[float]:
        """The pixels of image i, row by row, scaled to [0, 1]."""
        return list(map(_scaled, self.images[i]))

    def xy(self, images: bool = False) -> Tuple[Sequence, bytes]:
        """(inputs, labels) as train() and evaluate() take them: the inputs are flat
        pixel tuples (a PixelView), or with images=True one-channel images
        x[0][row][column] for Conv2d (an ImageView); made when a sample is used."""
        return (ImageView(self.images, self.cols) if images else PixelView(self.images)), self.labels

    def label(self, i: int) -> int:
        """The class (0..9) of image i."""
        return self.labels[i]

    def class_counts(self) -> List[int]:
        """How many images each class 0..9 has."""
        return [self.labels.count(c) for c in range(NUM_CLASSES)]

    def split(self, start: int, stop: int) -> "ImageSet":
        """Images start..stop-1 as a new ImageSet that shares the image bytes (no copy)."""
        return ImageSet(self.images[start:stop], self.labels[start:stop], self.rows, self.cols)

    def __repr__(self) -> str:
        return f"ImageSet({len(self)} images of {self.rows}x{self.cols})"


class PixelView:
    """The images of an ImageSet as a read-only sequence of pixel tuples in [0, 1],
    made when a sample is used (the set keeps one bytes object per image, so the
    60,000 training images stay ~50 MB instead of ~1.5 GB of float lists). A tuple
    of floats is what a Layer takes as constants without converting it."""

    __slots__ = ("images",)

    def __init__(self, images: Sequence[bytes]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tuple[float, ...]:
        if isinstance(i, slice):      # xs[:100]: the same kind of view of fewer images
            return self._sliced(self.images[i])
        return tuple(map(_scaled, self._image(i)))

    def _image(self, i: int) -> bytes:
        """Image i's bytes, or an error that names the index and the range."""
        try:
            return self.images[operator.index(i)]
        except TypeError:
            raise TypeError(f"images are indexed by an int or a slice, not a "
                            f"{type(i).__name__} ({i!r})") from None
        except IndexError:
            raise IndexError(f"image {i} does not exist: there are {len(self.images)} "
                             f"(0..{len(self.images) - 1})") from None

    def _sliced(self, images: Sequence[bytes]) -> "PixelView":
        return PixelView(images)


class ImageView(PixelView):
    """The images as one-channel nested lists x[0][row][column], what Conv2d takes."""

    __slots__ = ("cols",)

    def __init__(self, images: Sequence[bytes], cols: int) -> None:
        super().__init__(images)
        self.cols = cols

    def __getitem__(self, i: int) -> List[List[Tuple[float, ...]]]:
        if isinstance(i, slice):
            return self._sliced(self.images[i])
        pixels, c = super().__getitem__(i), self.cols
        return [[pixels[r:r + c] for r in range(0, len(pixels), c)]]

    def _sliced(self, images: Sequence[bytes]) -> "ImageView":
        return ImageView(images, self.cols)


def _read_image_set(images_path: str, labels_path: str) -> ImageSet:
    labels = _read_labels(labels_path)      # the small file first: its count bounds the images
    images, rows, cols = _read_images(images_path, len(labels), os.path.basename(labels_path))
    if len(images) != len(labels):
        raise DataError(f"{os.path.basename(labels_path)} has {len(labels)} labels but "
                        f"{os.path.basename(images_path)} has {len(images)} images")
    return ImageSet(images, labels, rows, cols)


# --- where the files are -----------------------------------------------------------------

def _check_name(name: str) -> None:
    if name not in TITLES:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(map(repr, TITLES))}")


def default_data_dir(name: str = "mnist") -> str:
    """The folder load_mnist uses without data_dir: $MICROGRADOR_DATA/<name>, else the user cache.

    The cache is $XDG_CACHE_HOME/microgrador/<name> (default ~/.cache/microgrador/<name>).
    """
    _check_name(name)
    # MICROGRADOR_DATA is a parent folder: MNIST and FashionMNIST use the same file names.
    root = os.environ.get("MICROGRADOR_DATA")
    if root:
        return os.path.join(os.path.expanduser(root), name)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "microgrador", name)


def _find_files(folder: str) -> Dict[str, Optional[str]]:
    """For each of the four files, its path in folder (.gz or uncompressed), or None."""
    found: Dict[str, Optional[str]] = {}
    for base in FILES:
        found[base] = None
        for candidate in (base + ".gz", base):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                found[base] = path
                break
    return found


def _pretty(path: str) -> str:
    """The path with the home folder written as ~, for one-line messages."""
    home = os.path.expanduser("~")
    if home not in ("", "~", os.sep) and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


# --- downloading -------------------------------------------------------------------------

class _MirrorFailed(Exception):
    """One mirror could not deliver one file; `network` tells whether it was unreachable."""

    def __init__(self, reason: str, network: bool) -> None:
        super().__init__(reason)
        self.network = network


class _DownloadFailed(DataError):
    """No mirror delivered a file; `unreachable` is True when every mirror failed on the network."""

    def __init__(self, message: str, unreachable: bool) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def _progress_bar(total: Optional[int], description: str, enabled: bool):
    """A download's bar, counting bytes (tests replace it to watch a download)."""
    return progress_bar(total, description, enabled, unit="B", unit_scale=True, unit_divisor=1024)


def _fetch(url: str, path: str, md5: str, progress: bool, max_bytes: Optional[int] = None,
           deadline: Optional[float] = None) -> None:
    """Download url to path, atomically: write a temporary file beside it, check it, rename it.
    More than `max_bytes`, or still running at time.monotonic() `deadline`, is a failure."""
    def time_left() -> float:
        if deadline is None:
            return _TIMEOUT
        left = deadline - time.monotonic()
        if left <= 0:
            raise _MirrorFailed(f"the download took longer than its deadline ({received} bytes "
                                f"received)", network=True)
        return min(_TIMEOUT, left)
    received = 0
    folder, filename = os.path.split(path)
    # The temporary file sits in the same folder so that os.replace is an atomic rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=time_left())
            except (OSError, http.client.HTTPException) as exc:   # URLError, HTTPError, timeouts
                raise _MirrorFailed(str(exc), network=True) from None
            except ValueError as exc:                              # e.g. "unknown url type"
                raise _MirrorFailed(str(exc), network=False) from None
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if total is not None and max_bytes is not None and total > max_bytes:
                    raise _MirrorFailed(f"the mirror announces {total:,} bytes; the file has "
                                        f"{max_bytes:,}", network=False)
                digest = hashlib.md5()
                bar = _progress_bar(total, filename, progress)
                try:
                    while True:
                        time_left()
                        try:
                            # read1: whatever has arrived, so a trickle still meets the deadline
                            chunk = response.read1(_CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise _MirrorFailed(f"connection lost after {received} bytes ({exc!r})",
                                                network=True) from None
                        if not chunk:
                            break
                        received += len(chunk)
                        if max_bytes is not None and received > max_bytes:
                            raise _MirrorFailed(f"the mirror sent more than the file's {max_bytes:,} "
                                                f"bytes; stopped", network=False)
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
                finally:
                    bar.close()
            # http.client returns a short body without complaint when the server hangs up early.
            if total is not None and received != total:
                raise _MirrorFailed(f"connection closed after {received} of {total} bytes", network=True)
            if digest.hexdigest() != md5:
                raise _MirrorFailed(f"checksum mismatch: expected MD5 {md5}, got {digest.hexdigest()} "
                                    f"({received} bytes)", network=False)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)       # mkstemp makes it private; the data is public
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:        # failed or interrupted: never leave a partial file behind
            try:
                os.remove(tmp)
            except OSError:
                pass


def download(name: str = "mnist", data_dir: Optional[str] = None, mirrors: Optional[List[str]] = None,
             progress: bool = True, deadline: Optional[float] = None) -> List[str]:
    """Download the files of `name` missing from data_dir, trying each mirror in turn; their paths.

    Each .gz is checked against its published size and MD5 before it gets its final name;
    all of it must be done within `deadline` seconds (default 30 minutes).
    """
    _check_name(name)
    until = time.monotonic() + (_DEADLINE if deadline is None else deadline)
    folder = os.path.expanduser(data_dir) if data_dir is not None else default_data_dir(name)
    mirrors = list(MIRRORS[name] if mirrors is None else mirrors)
    os.makedirs(folder, exist_ok=True)
    fetched = []
    for base, found in _find_files(folder).items():
        if found is not None:
            continue
        filename = base + ".gz"
        path = os.path.join(folder, filename)
        failures = []
        for mirror in mirrors:
            url = mirror + ("" if mirror.endswith("/") else "/") + filename
            try:
                _fetch(url, path, MD5[name][filename], progress, SIZES[name].get(filename), until)
                break
            except _MirrorFailed as exc:
                failures.append((url, exc))
        else:
            lines = "".join(f"\n  {url}: {exc}" for url, exc in failures) or "\n  (no mirrors given)"
            raise _DownloadFailed(f"{TITLES[name]}: {filename} is not in {folder} and could not be "
                                  f"downloaded from any mirror:{lines}",
                                  unreachable=bool(failures) and all(e.network for _, e in failures))
        fetched.append(path)
    return fetched


def verify_uncompressed(data_dir: str) -> Dict[str, bool]:
    """For each MNIST file in data_dir (.gz or not): does its uncompressed content match MNIST_SHA256?"""
    found = _find_files(os.path.expanduser(data_dir))
    result = {}
    for base, expected in MNIST_SHA256.items():
        path = found[base]
        if path is None:
            raise DataError(f"{base}(.gz) is not in {data_dir}")
        digest = hashlib.sha256()
        with _IdxReader(path) as idx:       # reuses the reader's gzip detection and error messages
            digest.update(idx.header)
            chunk = idx._read(_CHUNK)
            while chunk:
                digest.update(chunk)
                chunk = idx._read(_CHUNK)
        result[base] = digest.hexdigest() == expected
    return result


# --- loading and splitting ---------------------------------------------------------------

def _validation_size(n_train: int) -> int:
    # The full set keeps its last 5,000 images for validation; a smaller training file (the
    # bundled 2,000-image subset, or a hand-made one) keeps its last quarter.
    return VALIDATION_SIZE if n_train >= 4 * VALIDATION_SIZE else n_train // 4


def _split(name: str, train_all: ImageSet, test: ImageSet, final: bool, source: str,
           path: Optional[str], downloaded: bool, note: Optional[str]) -> Tuple[ImageSet, ImageSet, dict]:
    """Make the course's (train, evaluation) pair and the info dict describing it."""
    n = len(train_all)
    if final:
        train, evaluation, evaluation_split = train_all, test, "test"
        how = f"train = all {n:,} training images, test = the {len(test):,} test images"
    else:
        cut = n - _validation_size(n)
        train, evaluation, evaluation_split = train_all.split(0, cut), train_all.split(cut, n), "validation"
        how = (f"train = the first {cut:,} training images, "
               f"validation = the last {n - cut:,} training images")
    where = "the bundled subset" if source == "bundled subset" else _pretty(source)
    info = {
        "name": name,
        "title": TITLES[name],
        "source": source,                   # a folder, or "bundled subset"
        "path": path,                       # the folder the files were read from
        "downloaded": downloaded,           # True if some files were downloaded just now
        "train_split": "train",
        "evaluation_split": evaluation_split,
        "train_size": len(train),
        "evaluation_size": len(evaluation),
        "note": note,                       # one line when the bundled subset replaced the real data
        "summary": f"{TITLES[name]} from {where}: {how}",
    }
    return train, evaluation, info


def _load_subset(final: bool, why: Optional[str] = None) -> Tuple[ImageSet, ImageSet, dict]:
    """Load the bundled MNIST subset; `why` says why it replaces the real data, if it does."""
    def path(base: str) -> str:
        # Next to this module, so it is found in a source tree and in an installed wheel alike.
        return os.path.join(SUBSET_DIR, SUBSET_PREFIX + base + ".gz")

    train_all = _read_image_set(path(TRAIN_IMAGES), path(TRAIN_LABELS))
    test = _read_image_set(path(TEST_IMAGES), path(TEST_LABELS))
    note = None
    if why:
        note = f"{why}; using the bundled subset of {len(train_all):,} training + {len(test):,} test images"
    return _split("mnist", train_all, test, final, "bundled subset", SUBSET_DIR, False, note)


def load_mnist(name: str = "mnist", data_dir: Optional[str] = None, download: bool = True,
               subset: bool = False, final: bool = False, progress: bool = True,
               mirrors: Optional[List[str]] = None) -> Tuple[ImageSet, ImageSet, dict]:
    """Load MNIST or FashionMNIST ("fashion") as (train, evaluation, info).

    Without final: train = the first 55,000 training images, evaluation = the last 5,000
    (validation). With final: train = all 60,000, evaluation = the 10,000 test images.
    subset=True uses the MNIST subset bundled with the package (1,500 + 500, or final
    2,000 + 1,000). Files come from data_dir, else default_data_dir(name), and are
    downloaded there when missing. Without a network, and with neither data_dir nor
    $MICROGRADOR_DATA set, MNIST falls back to the bundled subset and info["note"] says so.
    """
    _check_name(name)
    title = TITLES[name]
    if subset:
        if name != "mnist":
            raise DataError(f"there is no bundled subset of {title}, only of MNIST")
        return _load_subset(final)

    # A folder the user chose is a promise: if it has no data, say so instead of substituting.
    explicit = data_dir is not None or bool(os.environ.get("MICROGRADOR_DATA"))
    folder = os.path.expanduser(data_dir) if data_dir is not None else default_data_dir(name)
    if data_dir is not None and not os.path.isdir(folder):
        # Not created: a typo must not become a new folder with 11 MB downloaded into it.
        hint = (" or use the MNIST subset bundled with the package (--subset, or subset=True)"
                if name == "mnist" else "")
        raise DataError(f"the data folder {folder} does not exist; create it to download "
                        f"{title} into it,{hint}")
    found = _find_files(folder)
    missing = [base for base, path in found.items() if path is None]
    downloaded = False
    if missing:
        if download:
            try:
                downloaded = bool(_download(name, folder, mirrors, progress))
            except _DownloadFailed as exc:
                if explicit or not exc.unreachable:
                    raise
                if name != "mnist":
                    raise DataError(f"{exc}\nThere is no bundled subset of {title} to use instead.") from None
                return _load_subset(final, f"{title} not found in {_pretty(folder)} and could not be "
                                           f"downloaded (no network?)")
        else:
            if explicit or name != "mnist":
                raise DataError(f"{title}: {', '.join(missing)} not found (neither .gz nor uncompressed) "
                                f"in {folder}, and downloading is turned off (download=False)")
            return _load_subset(final, f"{title} not found in {_pretty(folder)} and downloading is "
                                       f"turned off (download=False)")
        found = _find_files(folder)

    train_all = _read_image_set(found[TRAIN_IMAGES], found[TRAIN_LABELS])
    test = _read_image_set(found[TEST_IMAGES], found[TEST_LABELS])
    if (train_all.rows, train_all.cols) != (test.rows, test.cols):
        raise DataError(f"{folder}: training images are {train_all.rows}x{train_all.cols} but test "
                        f"images are {test.rows}x{test.cols}")
    return _split(name, train_all, test, final, folder, folder, downloaded, None)


# load_mnist's `download` argument hides the function inside it.
_download = download
