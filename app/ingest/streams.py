"""Byte streams of input files that never end early in silence.

A compressed file cut short must not read as a shorter file. gzip reports a missing end-of-stream marker
itself; zstandard's stream reader does not (it returns what it could decode and then end-of-file), so
every zstd file is first walked frame by frame (headers and block sizes only, no decompression): a frame
whose blocks run past the end of the file, or that has no last block or checksum, is a one-line
:class:`~app.errors.IngestError` naming the file. Decoder errors met while reading (corrupt data, a
truncated gzip member) become the same kind of error through :class:`_Guarded`.

Also here: the UTF-8 repair used by ``--invalid-utf8 replace`` (lone surrogates -> U+FFFD).
"""

from __future__ import annotations

import io
import os
import struct
from typing import Any, BinaryIO

from app.errors import IngestError

_ZSTD_MAGIC = 0xFD2FB528
_SKIPPABLE = 0x184D2A50  # 0x184D2A50..0x184D2A5F
_FCS_SIZES = (0, 2, 4, 8)
_DICT_SIZES = (0, 1, 2, 4)
_checked: dict[tuple[str, int, int], None] = {}


def check_zstd_frames(path: str) -> None:
    """Raise :class:`IngestError` unless every zstd frame of ``path`` is complete.

    Reads only frame and block headers (3 bytes per block, the block bodies are skipped with seeks), so a
    1 GB file is checked in a fraction of a second. A file is checked once per (path, size, mtime)."""
    try:
        stat = os.stat(path)
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key in _checked:
        return
    size = stat.st_size
    cut = f"truncated zstd file {path}: the compressed stream ends in the middle of a frame (the file is cut off)"
    with open(path, "rb", buffering=1 << 16) as f:
        pos = 0
        frames = 0
        while pos < size:
            head = f.read(4)
            if len(head) < 4:
                raise IngestError(cut)
            (magic,) = struct.unpack("<I", head)
            if magic & 0xFFFFFFF0 == _SKIPPABLE:
                n = f.read(4)
                if len(n) < 4:
                    raise IngestError(cut)
                pos += 8 + struct.unpack("<I", n)[0]
                if pos > size:
                    raise IngestError(cut)
                f.seek(pos)
                continue
            if magic != _ZSTD_MAGIC:
                where = "" if not frames else f" after {frames} frame{'s' if frames > 1 else ''} (trailing data)"
                raise IngestError(f"cannot read {path}: not a zstd stream{where}")
            desc = f.read(1)
            if not desc:
                raise IngestError(cut)
            d = desc[0]
            single = (d >> 5) & 1
            fcs = _FCS_SIZES[d >> 6] or (1 if single else 0)
            header = (0 if single else 1) + _DICT_SIZES[d & 3] + fcs
            pos += 5 + header
            checksum = 4 if d & 4 else 0
            while True:
                f.seek(pos)
                bh = f.read(3)
                if len(bh) < 3:
                    raise IngestError(cut)
                v = bh[0] | bh[1] << 8 | bh[2] << 16
                last, btype, bsize = v & 1, (v >> 1) & 3, v >> 3
                if btype == 3:
                    raise IngestError(f"cannot read {path}: corrupt zstd block at byte {pos}")
                pos += 3 + (1 if btype == 1 else bsize)
                if pos > size:
                    raise IngestError(cut)
                if last:
                    break
            pos += checksum
            if pos > size:
                raise IngestError(cut)
            f.seek(pos)
            frames += 1
    _checked[key] = None


class _Guarded(io.RawIOBase):
    """A decompressing stream whose decoder errors (truncation, corruption) are one-line IngestErrors."""

    def __init__(self, inner: Any, path: str, kind: str):
        self._inner, self._path, self._kind = inner, path, kind

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            return self._inner.readinto(b)
        except EOFError as e:
            raise IngestError(f"truncated {self._kind} file {self._path}: {e}") from e
        except IngestError:
            raise
        except Exception as e:  # zlib.error, gzip.BadGzipFile, zstandard.ZstdError: corrupt data
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise IngestError(f"cannot read {self._kind} file {self._path}: {msg}") from e

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def zlib_module() -> Any:
    """The zlib-compatible module gzip data is decompressed with: ISA-L's ``isal_zlib`` (see :func:`gzip_reader`),
    or the standard library's ``zlib`` where isal is not installed."""
    try:
        from isal import isal_zlib

        return isal_zlib
    except ImportError:
        import zlib

        return zlib


def gzip_reader(raw: BinaryIO) -> Any:
    """A ``GzipFile`` reading the gzip stream ``raw``: ISA-L's (the ``isal`` package: one 1.25M-line realmix
    shard, 345 MB decompressed, in 0.50 CPU-s against 1.49 for the standard library's ``gzip``; the same
    multi-member, padding, CRC and truncation rules), or the standard library's where isal is not installed."""
    try:
        from isal import igzip

        return igzip.IGzipFile(fileobj=raw, mode="rb")
    except ImportError:
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")


def open_binary(path: str, compression: str | None) -> BinaryIO:
    """The decompressed byte stream of a file (.gz and .zst handled, both verified to end where they
    should: a truncated file raises IngestError instead of reading as a shorter one)."""
    if compression == "zstd":
        check_zstd_frames(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    if compression == "gzip":
        inner: Any = gzip_reader(raw)
        inner.myfileobj = raw  # so that closing the GzipFile closes the file too
        return io.BufferedReader(_Guarded(inner, path, "gzip"), buffer_size=1 << 20)  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(_Guarded(inner, path, "zstd"), buffer_size=1 << 20)  # type: ignore[return-value]
    return raw


# ------------------------------------------------------------------ UTF-8 repair
def has_surrogates(s: str) -> bool:
    """True when ``s`` holds a lone surrogate (from a JSON ``\\ud800`` escape or undecodable bytes read
    with ``surrogateescape``): text that cannot be written as UTF-8."""
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def fix_surrogates(s: str) -> str:
    """``s`` with every lone surrogate replaced by U+FFFD (valid pairs are joined)."""
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def fix_value(v: Any) -> Any:
    """A decoded JSON value with every string (keys too) repaired by :func:`fix_surrogates`."""
    if isinstance(v, str):
        return fix_surrogates(v) if has_surrogates(v) else v
    if isinstance(v, dict):
        return {fix_value(k): fix_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [fix_value(x) for x in v]
    return v
