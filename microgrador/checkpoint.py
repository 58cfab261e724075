"""Checkpoint files: a module's architecture and parameters as JSON (never pickle).

    save_module(net, "net.json")      # what net.save("net.json") does
    load_into(net, "net.json")        # what net.load("net.json") does
    read_checkpoint("net.json")       # the checked contents, as a dict

A file is {"format": "microgrador-checkpoint", "version": 1, "model": config(),
"num_parameters", "meta", "state_dict"}. Reading checks every entry, and the size of
the architecture against the numbers in the file, before anything is built (check_sizes): a
file passed between students cannot make this program allocate a billion-unit layer.

This is the file format only: it reads architectures as JSON data and needs no network
class, so Module (module.py) builds on it. Building a model of the architecture a file
names is rebuild.py's job (load_model).
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Protocol, Union

CHECKPOINT_FORMAT = "microgrador-checkpoint"
CHECKPOINT_VERSION = 1
# The dense modules, whose parameter count a config fixes exactly (_parameters_in_config).
DENSE_TYPES = ("MLP", "Layer", "Neuron")


class CheckpointError(ValueError):
    """A checkpoint or state dict that cannot be loaded; the message says why."""


class Checkpointable(Protocol):
    """What the file format needs of a module; every microgrador Module has it."""

    def config(self) -> Dict[str, Any]: ...

    def state_dict(self) -> Dict[str, Any]: ...

    def num_parameters(self) -> int: ...

    def load_state_dict(self, state: Any, source: str = "state dict") -> None: ...


# --- architectures, read as data ------------------------------------------------------------------
def describe_config(cfg: Any) -> str:
    """A module's architecture (its config()) in one line, e.g. MLP(2 -> 3 -> 2, ...)."""
    if not isinstance(cfg, dict):
        return repr(cfg)
    t = cfg.get("type")
    try:
        if t == "MLP":
            sizes = " -> ".join(str(n) for n in [cfg["nin"], *cfg["sizes"]])
            return (f"MLP({sizes}, activation={cfg['activation']}, "
                    f"output_activation={cfg['output_activation']})")
        if t == "Layer":
            return f"Layer({cfg['nin']} -> {cfg['nout']}, {cfg['activation']})"
        if t == "Neuron":
            return f"Neuron({cfg['nin']} inputs, {cfg['activation']})"
        if t == "Sequential":   # the image layers by their type: their options make a long line
            return "Sequential(" + ", ".join(
                describe_config(layer) if layer.get("type") in DENSE_TYPES else str(layer.get("type"))
                for layer in cfg["layers"]) + ")"
    except (KeyError, TypeError, AttributeError):   # a malformed config from a file
        pass
    return json.dumps(cfg)


# --- writing --------------------------------------------------------------------------------------
def save_module(module: Checkpointable, path: str, meta: Optional[Dict[str, Any]] = None) -> None:
    """Write the architecture and parameters of `module` to `path` as JSON. `meta`
    (JSON-safe) is stored alongside, e.g. training figures. The file is written whole
    or not at all (a temporary file is renamed), so a crash cannot leave half a
    checkpoint."""
    state = module.state_dict()
    for name, entry in state.items():
        for x in (entry if isinstance(entry, list) else [entry]):
            if not math.isfinite(x):
                raise ValueError(f"cannot save: parameter {name} holds {x}")
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
           "model": module.config(), "num_parameters": module.num_parameters(),
           "meta": meta or {}, "state_dict": state}
    text = json.dumps(doc, allow_nan=False)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:          # a full disk, Ctrl-C: leave no half-written file behind
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def load_into(module: Checkpointable, path: str) -> None:
    """Load the parameters saved in `path` into `module`, whose architecture must be the file's."""
    doc = read_checkpoint(path)
    if doc["model"] != module.config():
        raise CheckpointError(
            f"{path} holds {describe_config(doc['model'])}, but this model is "
            f"{describe_config(module.config())}; build a model of the checkpoint's "
            f"architecture, or use microgrador.nn.load_model({path!r})")
    module.load_state_dict(doc["state_dict"], source=str(path))


# --- reading --------------------------------------------------------------------------------------
# JSON integers longer than this are read as floats (1e400 -> inf, refused as not finite)
# rather than as Python ints of thousands of digits.
_MAX_INT_DIGITS = 30


def _json_int(text: str) -> Union[int, float]:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


# About 10 million parameters as JSON text: more than this engine can hold in memory as
# Values, so a larger file (or /dev/zero, or a dataset passed by mistake) is refused unread.
MAX_CHECKPOINT_BYTES = 256 * 2**20


def _read_text(path: str) -> str:
    """The file as text, read up to MAX_CHECKPOINT_BYTES: a CheckpointError for a larger
    file, or one that is not UTF-8 (naming the first bad byte's offset)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size        # 0 for a device or a pipe: read to see
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{path} is {size:,} bytes, larger than any checkpoint this "
                                  f"engine can load ({MAX_CHECKPOINT_BYTES:,} bytes at most)")
        head = f.read(1 << 16)
        first = head.lstrip()[:1]
        if first and first not in _JSON_STARTS:    # e.g. /dev/zero, an image, a pickle
            offset = len(head) - len(head.lstrip())
            raise CheckpointError(f"{path} is not valid JSON, so not a microgrador checkpoint: "
                                  f"byte {offset:,} is {first!r}, which starts no JSON value"
                                  + ("; it is not a text file" if not _is_utf8(head) else ""))
        data = head + f.read(MAX_CHECKPOINT_BYTES + 1 - len(head))
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path} holds more than {MAX_CHECKPOINT_BYTES:,} bytes, more "
                              f"than any checkpoint this engine can load")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path} is not a text file, so not a microgrador checkpoint "
                              f"(JSON): byte {e.start:,} is not UTF-8") from None


_JSON_STARTS = frozenset(bytes([c]) for c in b'{["-0123456789tfn')


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start > len(data) - 4       # only a character cut at the end of the chunk
    return True


def read_checkpoint(path: str) -> Dict[str, Any]:
    """The checked contents of a checkpoint file: format, version, model (architecture),
    num_parameters, meta, state_dict. Raises CheckpointError saying what is wrong."""
    text = _read_text(path)
    if not text.strip():
        raise CheckpointError(f"{path} is empty, not a microgrador checkpoint")
    try:
        doc = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON (truncated or corrupted?): {e.msg} "
                              f"at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise CheckpointError(f"{path}: lists or objects nested too deeply to be a "
                              f"checkpoint") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is JSON but not a microgrador checkpoint (no "
                              f"\"format\": \"{CHECKPOINT_FORMAT}\" entry)")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} is a checkpoint of format version {doc.get('version')!r:.40}; "
                              f"this microgrador reads version {CHECKPOINT_VERSION}")
    for key, kind in (("model", dict), ("state_dict", dict)):
        if not isinstance(doc.get(key), kind):
            raise CheckpointError(f"{path}: the \"{key}\" entry is missing or not an object")
    doc.setdefault("meta", {})
    if not isinstance(doc["meta"], dict):
        raise CheckpointError(f"{path}: the \"meta\" entry should be an object, got "
                              f"{_json_type(doc['meta'])}")
    return doc


def _json_type(x: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null",
            bool: "true/false"}.get(type(x), "a number")


def _count_numbers(state: Dict[str, Any]) -> int:
    """How many numbers a state dict holds (an entry is a number or a list of them)."""
    return sum(len(entry) if isinstance(entry, list) else 1 for entry in state.values())


def _parameters_in_config(kind: str, cfg: Dict[str, Any]) -> Optional[int]:
    """The parameter count an MLP, Layer or Neuron config implies, computed without
    building anything (None if a size is not a positive int: the constructor says why)."""
    def widths(*names: str) -> Optional[List[int]]:
        values = [cfg.get(n) for n in names]
        sizes = cfg.get("sizes") if kind == "MLP" else []
        if not isinstance(sizes, list):
            return None
        values += sizes
        return values if all(type(v) is int and v >= 1 for v in values) else None

    if kind == "Neuron":
        w = widths("nin")
        return None if w is None else w[0] + 1
    if kind == "Layer":
        w = widths("nin", "nout")
        return None if w is None else w[1] * (w[0] + 1)
    if kind == "MLP":
        w = widths("nin")
        return None if w is None else sum(b * (a + 1) for a, b in zip(w, w[1:]))
    return None


MAX_LAYERS = 1000   # a Sequential longer than this in a checkpoint is refused unbuilt
EARLY_REFUSAL = 100_000   # an image model this much larger than its state is refused unbuilt


def _least_numbers_in_config(cfg: Any) -> Optional[int]:
    """How many numbers a state_dict of the architecture `cfg` holds at the least (its
    parameters, and for a Sequential those of its layers), computed without building
    anything; None where a size is not a positive int (the constructor then says why)."""
    if not isinstance(cfg, dict):
        return None
    kind = cfg.get("type")
    if kind in DENSE_TYPES:
        return _parameters_in_config(kind, {k: v for k, v in cfg.items() if k != "type"})
    sizes = [cfg.get(k) for k in ("in_channels", "out_channels", "kernel_size", "num_features")]
    if kind == "Conv2d":
        c_in, c_out, k = sizes[:3]
        ok = all(type(v) is int and v >= 1 for v in (c_in, c_out, k))
        return c_out * (c_in * k * k + 1) if ok else None
    if kind == "BatchNorm1d":
        n = sizes[3]
        return 2 * n if type(n) is int and n >= 1 else None     # gamma and beta
    if kind == "Sequential" and isinstance(cfg.get("layers"), list):
        if len(cfg["layers"]) > MAX_LAYERS:
            raise CheckpointError(f"a Sequential of {len(cfg['layers']):,} layers (at most "
                                  f"{MAX_LAYERS:,} are read from a checkpoint)")
        counts = [_least_numbers_in_config(layer) for layer in cfg["layers"]]
        return None if None in counts else sum(counts)
    return 0 if kind else None


def check_sizes(doc: Dict[str, Any], path: str) -> None:
    """Refuse a checkpoint (read by read_checkpoint) whose architecture needs far more
    numbers than its state_dict holds, before anything of that size is built."""
    cfg = dict(doc["model"]) if isinstance(doc["model"], dict) else {}
    kind = cfg.pop("type", None)
    # The file must hold every parameter the architecture needs, so a 172-byte file
    # cannot ask for a billion-unit layer: check the count before allocating anything.
    # (MLP, Layer and Neuron; layers.py's image models are checked when their state loads.)
    if kind in DENSE_TYPES:
        needed, held = _parameters_in_config(kind, cfg), _count_numbers(doc["state_dict"])
        if needed is not None and needed != held:
            raise CheckpointError(f"{path}: the model {describe_config(doc['model'])} has {needed:,} "
                                  f"parameters, but the state_dict holds {held:,} numbers")
        stated = doc.get("num_parameters")
        if stated is not None and stated != held:
            raise CheckpointError(f"{path}: \"num_parameters\" says {stated!r:.40}, but the "
                                  f"state_dict holds {held:,} numbers")
    else:   # image models also keep running statistics: the file holds at least their parameters
        try:
            needed = _least_numbers_in_config(doc["model"])
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        held = _count_numbers(doc["state_dict"])
        # A small shortfall is left to load_state_dict, which names the key that is short.
        if needed is not None and needed > held and needed > EARLY_REFUSAL:
            raise CheckpointError(f"{path}: the model {describe_config(doc['model'])} has {needed:,} "
                                  f"parameters, but the state_dict holds {held:,} numbers")
