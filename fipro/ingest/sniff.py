"""Finding the raw file and reading its shape: encoding, line ends, header, byte-level facts.

Whole-file problems raise :class:`RawFileError` here, before anything is written.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fipro import config, contract, datasets

HASH_ALGORITHM = "sha256"
CHUNK_BYTES = 16 * 2**20
SNIFF_BYTES = 2**20


class RawFileError(ValueError):
    """The raw file as a whole cannot be ingested (nothing is written).

    Attributes
    ----------
    path : Path
        The file.
    columns : list of str
        Columns involved (missing, unknown or repeated header names), if any.
    """

    def __init__(self, path, message: str, columns=()):
        self.path = Path(path)
        self.columns = list(columns)
        super().__init__(f"{self.path}: {message}")


# --- finding the raw file --------------------------------------------------------

def find_raw_file(raw_dir=None) -> Path:
    """The raw file in ``raw_dir`` (default ``config.RAW_DIR``): :func:`fipro.datasets.raw_file`.

    That is the project's one discovery rule (``edu_data_F.csv`` / ``EDU_DATA_F.dat`` in
    any case; a real file before the synthetic stand-in).

    Raises
    ------
    RawFileError
        When the folder holds no candidate (the message names the folder).
    """
    found = datasets.raw_file(raw_dir)
    if found is None:
        folder = Path(raw_dir) if raw_dir is not None else config.RAW_DIR
        raise RawFileError(folder, "no raw file (edu_data_F.csv or EDU_DATA_F.dat) in this folder; put it "
                                   "there or run `python -m fipro synth`")
    return found


# --- reading the file's shape ------------------------------------------------------

@dataclass
class Shape:
    encoding: str  # "utf-8" | "cp949"
    bom: bool
    line_end: str  # "\r\n" | "\n"
    header: list


def read_shape(path: Path) -> Shape:
    size = path.stat().st_size
    if size == 0:
        raise RawFileError(path, "the file is empty")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    bom = head.startswith(codecs.BOM_UTF8)
    body = head[3:] if bom else head
    if len(head) == SNIFF_BYTES:  # do not judge a character cut at the edge
        body = body[: body.rfind(b"\n") + 1] or body
    encoding = None
    for candidate in ("utf-8", "cp949"):
        try:
            body.decode(candidate)
            encoding = candidate
            break
        except UnicodeDecodeError:
            continue
    if encoding is None or (bom and encoding != "utf-8"):
        raise RawFileError(path, "unreadable text encoding: neither UTF-8 nor CP949 (EUC-KR)")
    first, sep, _ = body.partition(b"\n")
    line_end = "\r\n" if first.endswith(b"\r") else "\n"
    names = [n.strip().upper() for n in first.rstrip(b"\r").decode(encoding).split(",")]
    if names == [""]:
        raise RawFileError(path, "the file is empty (no header line)")
    expected = set(contract.COLUMN_NAMES)
    missing = [c for c in contract.COLUMN_NAMES if c not in names]
    unknown = [n for n in names if n not in expected]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if missing or unknown or repeated:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unknown:
            parts.append(f"unknown columns {unknown}")
        if repeated:
            parts.append(f"repeated columns {repeated}")
        raise RawFileError(path, "header does not match the data contract: " + "; ".join(parts),
                           columns=missing + unknown + repeated)
    return Shape(encoding, bom, line_end, names)


def file_digest(path: Path) -> tuple[str, int, bool]:
    """SHA-256 of the bytes, number of newlines and whether the last byte is one."""
    h = hashlib.sha256()
    newlines, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            h.update(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return h.hexdigest(), newlines, last == b"\n"


def transcode(path: Path, shape: Shape, out: Path) -> Path:
    """Stream a CP949 file into UTF-8 (16 MB at a time); bytes are never all in memory."""
    decoder = codecs.getincrementaldecoder("cp949")(errors="strict")
    done = 0
    with open(path, "rb") as src, open(out, "wb") as dst:
        while chunk := src.read(CHUNK_BYTES):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise RawFileError(path, f"unreadable CP949 text near byte {done + exc.start:,}") from exc
            dst.write(text.encode("utf-8"))
            done += len(chunk)
        try:
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            raise RawFileError(path, "the file ends inside a CP949 character") from exc
    return out


@dataclass
class Flags:
    """Byte-level facts of the DuckDB input that let the main pass skip work safely."""

    space: bool  # some cell may need trimming
    upper_q: bool  # some quarter may be written 2023Q1
    dot: bool  # some amount may have a fractional part


def scan_flags(path: Path) -> Flags:
    """Look for ' ', 'Q' and '.' anywhere in the file (memchr speed; no decoding)."""
    space = upper_q = dot = False
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            space = space or b" " in chunk
            upper_q = upper_q or b"Q" in chunk
            dot = dot or b"." in chunk
            if space and upper_q and dot:
                break
    return Flags(space, upper_q, dot)
