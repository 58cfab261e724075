"""Tests for microgrador.datasets: IDX reading, ImageSet, downloads, the bundled subset.

Everything runs offline on small files made here; a local HTTP server plays the mirror.
The tests that compare with the real MNIST files skip when /work/shared/data/mnist is absent.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import struct
import threading
from pathlib import Path

import pytest

from microgrador import datasets
from microgrador.datasets import DataError, ImageSet, load_mnist, read_idx

SHARED_MNIST = Path("/work/shared/data/mnist")
CLOSED_PORT = "http://127.0.0.1:1/"       # nothing listens there: connection refused at once


# --- helpers -------------------------------------------------------------------------------

def idx(dims, data: bytes, magic=None) -> bytes:
    """An IDX file: header for `dims` (unsigned bytes) followed by `data`."""
    magic = 0x0800 + len(dims) if magic is None else magic
    return struct.pack(f">I{len(dims)}I", magic, *dims) + data


def image_bytes(i: int, size: int = 784) -> bytes:
    return bytes((i * 31 + j) % 256 for j in range(size))


def images_idx(n: int, rows: int = 28, cols: int = 28) -> bytes:
    return idx((n, rows, cols), b"".join(image_bytes(i, rows * cols) for i in range(n)))


def labels_idx(n: int) -> bytes:
    return idx((n,), bytes(i % 10 for i in range(n)))


def write(path: Path, content: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(content, mtime=0) if compress else content)
    return path


def make_folder(folder: Path, n_train: int = 8, n_test: int = 4, compress: bool = True) -> Path:
    """The four MNIST files, small, under their standard names (.gz or uncompressed)."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    write(folder / ("train-images-idx3-ubyte" + ext), images_idx(n_train), compress)
    write(folder / ("train-labels-idx1-ubyte" + ext), labels_idx(n_train), compress)
    write(folder / ("t10k-images-idx3-ubyte" + ext), images_idx(n_test), compress)
    write(folder / ("t10k-labels-idx1-ubyte" + ext), labels_idx(n_test), compress)
    return folder


def md5_table(folder: Path) -> dict:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.glob("*.gz")}


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """A clean environment: no MICROGRADOR_DATA, and the user cache inside tmp_path."""
    monkeypatch.delenv("MICROGRADOR_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def server():
    """A local HTTP mirror: GET /good/<name> serves files[name]; /cut/<name> hangs up halfway."""
    files = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            kind, _, name = self.path.strip("/").partition("/")
            body = files.get(name)
            if body is None or kind not in ("good", "cut"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # "cut" promises the whole body but sends half, then closes the connection.
            self.wfile.write(body if kind == "good" else body[: len(body) // 2])
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- reading IDX files ---------------------------------------------------------------------

def test_read_idx_gzip_and_raw_give_the_same(tmp_path):
    content = images_idx(3, 4, 5)
    raw = write(tmp_path / "a-idx3-ubyte", content)
    gz = write(tmp_path / "a-idx3-ubyte.gz", content, compress=True)
    assert read_idx(raw) == read_idx(gz) == ((3, 4, 5), content[16:])
    # gzip is recognised by its magic bytes, not by the file name
    swapped = write(tmp_path / "gz-without-suffix", content, compress=True)
    assert read_idx(swapped) == ((3, 4, 5), content[16:])
    labels = write(tmp_path / "labels.gz", labels_idx(12))
    assert read_idx(labels) == ((12,), bytes(i % 10 for i in range(12)))


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


@pytest.mark.parametrize("head, expected", [
    (b"\x12\x34\x08\x03", "bad magic number 0x12340803 at byte offset 0"),
    (b"\x00\x00\x0d\x01", "data type 0x0d (float)"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
])
def test_bad_magic_number(tmp_path, head, expected):
    path = write(tmp_path / "bad-idx", head + b"\x00\x00\x00\x01" + b"\x07")
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value).startswith("bad-idx: ")
    assert expected in str(err.value)


@pytest.mark.parametrize("content, expected", [
    (b"", "expected a 4-byte magic number, found 0 bytes (file ends at byte offset 0)"),
    (b"\x00\x00", "expected a 4-byte magic number, found 2 bytes (file ends at byte offset 2)"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00",
     "expected 12 bytes of dimension sizes after the magic number, found 6 (file ends at byte offset 10)"),
])
def test_truncated_header(tmp_path, content, expected):
    path = write(tmp_path / "short-idx3-ubyte", content)
    with pytest.raises(DataError, match="truncated header") as err:
        read_idx(path)
    assert str(err.value) == "short-idx3-ubyte: truncated header: " + expected


def test_truncated_data_names_file_sizes_and_offset(tmp_path):
    content = idx((60000, 28, 28), bytes(1000))
    raw = write(tmp_path / "train-images-idx3-ubyte", content)
    with pytest.raises(DataError) as err:
        read_idx(raw)
    assert str(err.value) == ("train-images-idx3-ubyte: expected 47040000 bytes of pixel data after the "
                              "16-byte header, found 1000 (file ends at byte offset 1016)")
    gz = write(tmp_path / "train-images-idx3-ubyte.gz", content, compress=True)
    with pytest.raises(DataError) as err:
        datasets._read_images(gz)          # the image loader reads image by image: same message
    assert str(err.value) == ("train-images-idx3-ubyte.gz: expected 47040000 bytes of pixel data after "
                              "the 16-byte header, found 1000 (decompressed data ends at byte offset 1016)")


def test_truncated_labels(tmp_path):
    path = write(tmp_path / "t10k-labels-idx1-ubyte", idx((10000,), bytes(10)))
    with pytest.raises(DataError, match=r"expected 10000 bytes of label data after the 8-byte header, "
                                        r"found 10 \(file ends at byte offset 18\)"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_trailing_garbage(tmp_path, compress):
    path = write(tmp_path / "labels-idx1-ubyte", labels_idx(5) + b"junk!!", compress)
    with pytest.raises(DataError, match=r"labels-idx1-ubyte: expected 5 bytes of label data .* found 11: "
                                        r"6 unexpected bytes after byte offset 13"):
        read_idx(path)
    with pytest.raises(DataError, match="6 unexpected bytes"):
        datasets._read_labels(path)


def corrupt_gzips(content: bytes):
    good = gzip.compress(content, mtime=0)
    yield "cut short", good[: len(good) // 2]
    middle = bytearray(good)
    for i in range(20, len(good) - 20, 7):
        middle[i] ^= 0x5A
    yield "bytes flipped", bytes(middle)
    bad_crc = bytearray(good)
    bad_crc[-8] ^= 0xFF                     # the CRC-32 of the uncompressed data
    yield "wrong CRC", bytes(bad_crc)


@pytest.mark.parametrize("case", ["cut short", "bytes flipped", "wrong CRC"])
def test_corrupt_gzip_stream(tmp_path, case):
    content = images_idx(20)
    corrupt = dict(corrupt_gzips(content))[case]
    path = write(tmp_path / "train-images-idx3-ubyte.gz", corrupt)
    for reader in (read_idx, datasets._read_images):
        with pytest.raises(DataError, match=r"^train-images-idx3-ubyte\.gz: corrupt or truncated gzip stream"):
            reader(path)


def test_images_loader_checks_kind_and_dims(tmp_path):
    labels = write(tmp_path / "labels", labels_idx(4))
    with pytest.raises(DataError, match="labels: expected an images file .* found magic number 2049"):
        datasets._read_images(labels)
    images = write(tmp_path / "images", images_idx(4))
    with pytest.raises(DataError, match="images: expected a labels file .* found magic number 2051"):
        datasets._read_labels(images)
    flat = write(tmp_path / "flat", idx((4, 28, 0), b""))
    with pytest.raises(DataError, match="images of 28 x 0 pixels"):
        datasets._read_images(flat)
    bad_label = write(tmp_path / "bad-labels", idx((4,), bytes([1, 2, 12, 3])))
    with pytest.raises(DataError, match=r"label 12 at index 2 \(byte offset 10\) is not a class 0..9"):
        datasets._read_labels(bad_label)


def test_label_count_must_match_image_count(tmp_path, no_env):
    folder = make_folder(tmp_path / "data", n_train=8)
    write(folder / "train-labels-idx1-ubyte.gz", labels_idx(7), compress=True)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz has 7 labels but "
                                        "train-images-idx3-ubyte.gz has 8 images"):
        load_mnist(data_dir=folder, mirrors=[CLOSED_PORT])


def test_train_and_test_image_sizes_must_agree(tmp_path, no_env):
    folder = make_folder(tmp_path / "data")
    write(folder / "t10k-images-idx3-ubyte.gz", images_idx(4, 20, 20), compress=True)
    with pytest.raises(DataError, match="training images are 28x28 but test images are 20x20"):
        load_mnist(data_dir=folder, mirrors=[CLOSED_PORT])


# --- ImageSet ------------------------------------------------------------------------------

def test_pixels_are_scaled_to_unit_interval():
    image = bytes([0, 1, 128, 255])
    s = ImageSet([image, bytes(4)], bytes([7, 3]), 2, 2)
    pixels, label = s[0]
    assert pixels == [0.0, 1 / 255, 128 / 255, 1.0]
    assert pixels[3] == 1.0 and isinstance(pixels[0], float)
    assert label == 7 and type(label) is int
    assert s.pixels(1) == [0.0] * 4 and s.label(1) == 3
    assert s[-1][1] == 3
    with pytest.raises(IndexError):
        s[2]
    with pytest.raises(TypeError, match="split"):
        s[0:1]


def test_split_shares_the_image_bytes():
    images = [image_bytes(i, 16) for i in range(10)]
    s = ImageSet(images, bytes(i % 3 for i in range(10)), 4, 4)
    part = s.split(4, 9)
    assert len(part) == 5 and (part.rows, part.cols) == (4, 4)
    assert all(part.images[k] is s.images[4 + k] for k in range(5))
    assert part.labels == bytes([1, 2, 0, 1, 2])
    assert part.class_counts() == [1, 2, 2] + [0] * 7
    assert s.class_counts() == [4, 3, 3] + [0] * 7
    assert [label for _, label in part] == [1, 2, 0, 1, 2]       # iterable through __getitem__
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ImageSet(images[:3], b"\x00\x01", 4, 4)


# --- the bundled subset --------------------------------------------------------------------

def test_bundled_subset_splits():
    train, evaluation, info = load_mnist(subset=True)
    assert (len(train), len(evaluation)) == (1500, 500)
    assert info["source"] == "bundled subset" and info["evaluation_split"] == "validation"
    assert (info["train_size"], info["evaluation_size"]) == (1500, 500) and info["note"] is None
    train_f, test_f, info_f = load_mnist(subset=True, final=True)
    assert (len(train_f), len(test_f)) == (2000, 1000) and info_f["evaluation_split"] == "test"
    assert train.images == train_f.images[:1500] and evaluation.images == train_f.images[1500:]
    for s in (train_f, test_f):
        assert (s.rows, s.cols) == (28, 28)
        assert all(len(image) == 784 for image in s.images)
        assert set(s.labels) <= set(range(10)) and len(set(s.labels)) == 10
    pixels, label = train_f[0]
    assert len(pixels) == 784 and min(pixels) == 0.0 and max(pixels) == 1.0
    assert 0 <= label <= 9


def test_no_bundled_subset_of_fashion():
    with pytest.raises(DataError, match="no bundled subset of FashionMNIST"):
        load_mnist("fashion", subset=True)


@pytest.mark.skipif(not (SHARED_MNIST / "train-labels-idx1-ubyte.gz").exists(),
                    reason="the real MNIST files are not in /work/shared/data/mnist")
def test_bundled_subset_matches_real_mnist():
    train, test, _ = load_mnist(subset=True, final=True)
    _, train_labels = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")
    _, test_labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert train.labels == train_labels[:2000] and test.labels == test_labels[:1000]
    assert train.class_counts() == [train_labels[:2000].count(c) for c in range(10)]
    assert test.class_counts() == [test_labels[:1000].count(c) for c in range(10)]
    _, pixels = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    assert test.images[999] == pixels[999 * 784:1000 * 784]


@pytest.mark.skipif(not (SHARED_MNIST / "train-images-idx3-ubyte.gz").exists(),
                    reason="the real MNIST files are not in /work/shared/data/mnist")
def test_real_mnist_splits_and_checksums():
    train, validation, info = load_mnist(data_dir=SHARED_MNIST, download=False)
    assert (len(train), len(validation)) == (55000, 5000) and info["evaluation_split"] == "validation"
    assert train.images[0] is not validation.images[0]
    counts = [a + b for a, b in zip(train.class_counts(), validation.class_counts())]
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # published
    assert set(datasets.verify_uncompressed(SHARED_MNIST).values()) == {True}


# --- folders -------------------------------------------------------------------------------

def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MICROGRADOR_DATA", str(tmp_path / "all"))
    assert datasets.default_data_dir("fashion") == str(tmp_path / "all" / "fashion")
    monkeypatch.delenv("MICROGRADOR_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.default_data_dir("mnist") == str(tmp_path / "xdg" / "microgrador" / "mnist")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.default_data_dir() == str(tmp_path / "home" / ".cache" / "microgrador" / "mnist")
    with pytest.raises(ValueError, match="unknown dataset 'kmnist'"):
        datasets.default_data_dir("kmnist")


@pytest.mark.parametrize("compress", [True, False])
def test_files_in_folder_are_used_without_download(tmp_path, no_env, compress):
    folder = make_folder(tmp_path / "data", n_train=8, n_test=4, compress=compress)
    train, validation, info = load_mnist(data_dir=folder, mirrors=[CLOSED_PORT])
    assert (len(train), len(validation)) == (6, 2)   # small files keep their last quarter
    assert train.images[0] == image_bytes(0) and validation.labels == bytes([6, 7])
    assert info["path"] == str(folder) and info["downloaded"] is False and info["note"] is None
    train, test, info = load_mnist(data_dir=folder, final=True, download=False)
    assert (len(train), len(test)) == (8, 4) and info["evaluation_split"] == "test"
    assert info["summary"] == (f"MNIST from {folder}: train = all 8 training images, "
                               f"test = the 4 test images")


def test_mnist_via_environment_variable(tmp_path, no_env, monkeypatch):
    make_folder(tmp_path / "root" / "mnist")
    monkeypatch.setenv("MICROGRADOR_DATA", str(tmp_path / "root"))
    train, _, info = load_mnist(final=True, mirrors=[CLOSED_PORT])
    assert len(train) == 8 and info["path"] == str(tmp_path / "root" / "mnist")
    # a folder chosen through the environment is explicit too: no silent substitute
    with pytest.raises(DataError, match="FashionMNIST: train-images-idx3-ubyte.gz is not in"):
        load_mnist("fashion", mirrors=[CLOSED_PORT], progress=False)


# --- downloads -----------------------------------------------------------------------------

def test_download_through_local_server(tmp_path, no_env, server, monkeypatch):
    base, files = server
    source = make_folder(tmp_path / "source")
    files.update({p.name: p.read_bytes() for p in source.iterdir()})
    monkeypatch.setitem(datasets.MD5, "mnist", md5_table(source))
    target = tmp_path / "target"
    target.mkdir()
    # the first mirror answers 404 for everything, so every file comes from the second one
    train, test, info = load_mnist(data_dir=target, final=True, progress=True,
                                   mirrors=[base + "/missing/", base + "/good"])
    assert info["downloaded"] is True and (len(train), len(test)) == (8, 4)
    assert sorted(os.listdir(target)) == sorted(files)
    assert all((target / name).read_bytes() == body for name, body in files.items())
    # now the files are there: nothing is downloaded, even with no mirror reachable
    _, _, info = load_mnist(data_dir=target, final=True, mirrors=[CLOSED_PORT])
    assert info["downloaded"] is False


class SpyBar:
    """Stands in for the progress bar: lists the target folder while a download is under way."""

    def __init__(self, folder: Path, interrupt: bool = False):
        self.folder, self.interrupt, self.seen = folder, interrupt, []

    def __call__(self, total, description, enabled):
        return self

    def update(self, n):
        self.seen.append(sorted(os.listdir(self.folder)))
        if self.interrupt:
            raise KeyboardInterrupt

    def close(self):
        pass


def test_interrupted_download_leaves_nothing(tmp_path, no_env, server, monkeypatch):
    base, files = server
    source = make_folder(tmp_path / "source", n_train=200)
    files.update({p.name: p.read_bytes() for p in source.iterdir()})
    monkeypatch.setitem(datasets.MD5, "mnist", md5_table(source))
    target = tmp_path / "target"
    target.mkdir()
    spy = SpyBar(target)
    monkeypatch.setattr(datasets, "_progress_bar", spy)
    with pytest.raises(DataError) as err:
        load_mnist(data_dir=target, mirrors=[base + "/cut/"])
    size = len(files["train-images-idx3-ubyte.gz"])
    assert f"/cut/train-images-idx3-ubyte.gz: connection closed after {size // 2} of {size} bytes" \
        in str(err.value)
    assert os.listdir(target) == []               # no final file, no temporary file
    # while the bytes arrived they went to a temporary file, never to the final name
    assert spy.seen and all(len(names) == 1 and names[0].startswith(".train-images-idx3-ubyte.gz.")
                            and names[0].endswith(".part") for names in spy.seen)


def test_keyboard_interrupt_during_download_leaves_nothing(tmp_path, no_env, monkeypatch):
    source = make_folder(tmp_path / "source")
    monkeypatch.setitem(datasets.MD5, "mnist", md5_table(source))
    target = tmp_path / "target"
    target.mkdir()
    monkeypatch.setattr(datasets, "_progress_bar", SpyBar(target, interrupt=True))
    with pytest.raises(KeyboardInterrupt):
        load_mnist(data_dir=target, mirrors=[source.as_uri()])
    assert os.listdir(target) == []


def test_checksum_mismatch_tries_next_mirror(tmp_path, no_env, monkeypatch):
    good = make_folder(tmp_path / "good")
    bad = make_folder(tmp_path / "bad", n_train=9)          # same names, other content
    monkeypatch.setitem(datasets.MD5, "mnist", md5_table(good))
    mirrors = [bad.as_uri() + "/", good.as_uri()]           # file:// mirrors, with and without "/"
    target = tmp_path / "target"
    target.mkdir()
    train, _, info = load_mnist(data_dir=target, final=True, mirrors=mirrors, progress=False)
    assert len(train) == 8 and info["downloaded"] is True
    assert sorted(os.listdir(target)) == sorted(os.listdir(good))


def test_all_mirrors_failing_are_all_listed(tmp_path, no_env, monkeypatch):
    good = make_folder(tmp_path / "good")
    bad = make_folder(tmp_path / "bad", n_train=9)
    monkeypatch.setitem(datasets.MD5, "mnist", md5_table(good))
    mirrors = [bad.as_uri() + "/", CLOSED_PORT, (tmp_path / "nowhere").as_uri() + "/"]
    # a checksum failure is not "no network": even the default folder gives no fallback
    with pytest.raises(DataError) as err:
        load_mnist(mirrors=mirrors, progress=False)
    message = str(err.value)
    assert "MNIST: train-images-idx3-ubyte.gz is not in" in message
    for mirror in mirrors:
        assert mirror + "train-images-idx3-ubyte.gz: " in message
    assert "checksum mismatch: expected MD5 " + datasets.MD5["mnist"]["train-images-idx3-ubyte.gz"] in message
    assert "refused" in message.lower()
    assert [name for name in os.listdir(no_env / "microgrador" / "mnist")] == []


# --- falling back to the subset ------------------------------------------------------------

def test_no_network_falls_back_to_the_subset(no_env):
    train, evaluation, info = load_mnist(mirrors=[CLOSED_PORT], progress=False)
    assert (len(train), len(evaluation)) == (1500, 500) and info["source"] == "bundled subset"
    folder = datasets._pretty(str(no_env / "microgrador" / "mnist"))
    assert info["note"] == (f"MNIST not found in {folder} and could not be downloaded (no network?); "
                            f"using the bundled subset of 2,000 training + 1,000 test images")
    _, test, info = load_mnist(download=False, final=True)
    assert len(test) == 1000 and "downloading is turned off (download=False)" in info["note"]


def test_no_fallback_for_an_explicit_folder_or_fashion(tmp_path, no_env):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match=r"(?s)is not in .*nothing.*127\.0\.0\.1:1/train-images"):
        load_mnist(data_dir=tmp_path / "nothing", mirrors=[CLOSED_PORT], progress=False)
    with pytest.raises(DataError, match="not found .* and downloading is turned off"):
        load_mnist(data_dir=tmp_path / "nothing", download=False)
    with pytest.raises(DataError, match="no bundled subset of FashionMNIST"):
        load_mnist("fashion", mirrors=[CLOSED_PORT], progress=False)
    with pytest.raises(DataError, match="FashionMNIST: .* not found"):
        load_mnist("fashion", download=False)


def test_uncompressed_checksums_are_checked(tmp_path):
    folder = make_folder(tmp_path / "data", compress=False)
    assert datasets.verify_uncompressed(folder) == dict.fromkeys(datasets.MNIST_SHA256, False)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        datasets.verify_uncompressed(folder)
