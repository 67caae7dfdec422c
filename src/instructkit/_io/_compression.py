"""Compressed files: reading gzip and Zstandard in bounded steps, checked, and writing them.

:func:`open_source` gives the decompressed bytes of a file, :func:`open_compressed_writer`
compresses what is written. Decompression produces at most about 1 MiB per step whatever
the ratio (a small bomb cannot take all memory), holds a member's output back until its
checksum is verified (details on ``_Decompressing``), and never raises for a stream that
ends early or is damaged: reads return ``b""`` from there on and
:func:`truncated_reason` says what went wrong, so a reader reports it located at the last
line it read. Which compression a file has follows its name (:mod:`instructkit._io._paths`).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable
from typing import Any, BinaryIO, Final

from instructkit._errors import ConfigurationError
from instructkit._io._paths import Compression

__all__ = ["open_compressed_writer", "open_source", "truncated_reason"]


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ConfigurationError(
            "expected the optional 'zstandard' package for .zst files, got it missing "
            "(pip install 'instructkit[zstd]')"
        ) from None
    return zstandard


_OUTPUT_STEP: Final = 1 << 20
# The most decompressed bytes one decompression call may produce. Compressed data can expand
# a thousandfold (gzip) or far more (zstd), so feeding a decompressor a whole read of input at
# once lets 16 KB of input become gigabytes in one call; bounded steps keep memory at the
# caller's read size plus this, whatever the ratio.

_VERIFY_HOLD: Final = 1 << 22
# Decompressed bytes of a gzip member or zstd frame held back until its checksum (gzip's
# CRC-32, zstd's content checksum) is verified: 4 MiB. Damaged data often still decompresses,
# into different valid-looking rows, and the checksum at the member's end is the only thing
# that tells; holding the member's output back means such rows are never given out. A
# member larger than this is released unverified as it goes, so that memory stays bounded
# (the checksum still fails at its end, with an error).

_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_MAGIC_BYTES: Final = _ZSTD_MAGIC.to_bytes(4, "little")
_ZSTD_SKIPPABLE: Final = 0x184D2A50  # the 16 magic numbers 0x184D2A50 to 0x184D2A5F
_ZSTD_BLOCK_MAX: Final = 1 << 17  # no block decompresses to more than 128 KiB


class _ZstdFrames:
    """Cuts a Zstandard stream into pieces whose decompressed size is bounded.

    ``zstandard``'s decompression object has no output limit (unlike ``zlib``'s
    ``max_length``), so the bound comes from the format itself: a frame is a header, blocks
    that each decompress to at most 128 KiB and whose 3-byte headers give their compressed
    size, then an optional checksum. Walking those headers (never the block contents) gives
    pieces of input of at most about :data:`_OUTPUT_STEP` bytes of output, each within one
    frame, and tells exactly whether the input ended between frames. Skippable frames are
    dropped here. Anything that is not a frame goes to the decompressor, which names the
    problem.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._state = "magic"  # magic | block | body | checksum | skip
        self._left = 0  # bytes still to pass of the current block body, checksum or skip
        self._last = False  # the current block is its frame's last
        self._checksum = False  # the current frame ends with a checksum

    def add(self, data: bytes) -> None:
        """Append compressed input."""
        self._data += data

    @property
    def checksummed(self) -> bool:
        """Whether the frame read last (or being read) ends with a content checksum."""
        return self._checksum

    @property
    def in_frame(self) -> bool:
        """Whether the input so far stops inside a frame (or holds bytes not yet taken)."""
        return self._state != "magic" or bool(self._data)

    def take(self) -> tuple[bytes, bool] | None:
        """The next piece of input, and whether it ends a frame; ``None`` to ask for more."""
        data = self._data
        at = 0
        budget = _OUTPUT_STEP
        ends_frame = False
        while True:
            state = self._state
            if state == "skip":
                count = min(self._left, len(data))
                del data[:count]
                self._left -= count
                if self._left:
                    break
                self._state = "magic"
            elif state == "magic":
                if at or len(data) < 4:
                    break  # a piece never spans two frames
                magic = int.from_bytes(data[:4], "little")
                if magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
                    if len(data) < 8:
                        break
                    self._left = int.from_bytes(data[4:8], "little")
                    del data[:8]
                    self._state = "skip"
                    continue
                if magic != _ZSTD_MAGIC:
                    at = len(data)  # not a frame: the decompressor says what is wrong
                    break
                if len(data) < 5:
                    break
                descriptor = data[4]
                single = descriptor & 0x20
                size = (
                    6
                    - (1 if single else 0)
                    + (0, 1, 2, 4)[descriptor & 3]
                    + ((1 if single else 0), 2, 4, 8)[descriptor >> 6]
                )
                if len(data) < size:
                    break
                at = size
                self._checksum = bool(descriptor & 4)
                self._state = "block"
            elif state == "block":
                if len(data) < at + 3:
                    break
                header = int.from_bytes(data[at : at + 3], "little")
                kind = (header >> 1) & 3
                size = header >> 3
                bound = size if kind < 2 else _ZSTD_BLOCK_MAX  # raw and RLE: size is the output
                if bound > budget and budget < _OUTPUT_STEP:
                    break  # the next piece starts with this block
                budget -= bound
                at += 3
                self._last = bool(header & 1)
                self._left = 1 if kind == 1 else size  # an RLE block holds its one byte
                self._state = "body"
            else:  # body or checksum: pass bytes through
                count = min(self._left, len(data) - at)
                at += count
                self._left -= count
                if self._left:
                    break
                if state == "body" and not self._last:
                    self._state = "block"
                elif state == "body" and self._checksum:
                    self._left = 4
                    self._state = "checksum"
                else:
                    self._state = "magic"
                    ends_frame = True
                    break
        if not at:
            return None
        piece = bytes(data[:at])
        del data[:at]
        return piece, ends_frame


class _Decompressing:
    """A decompressing reader that notices a stream that ends early or is damaged.

    Both ``gzip`` and ``zstandard``'s own readers fall short here: ``gzip`` raises at the
    end and drops what it had decompressed in the same call, and ``zstandard``'s stream
    reader returns a short read without any error. Decompressing member by member (frame by
    frame) keeps every byte that decompressed and tells an early end from a normal one.
    Each decompression call makes at most about :data:`_OUTPUT_STEP` bytes, so a small file
    that expands enormously (a decompression bomb) costs time, never memory. A member's output
    is given out only once its checksum is verified (gzip's CRC-32; zstd's content checksum,
    which :func:`open_compressed_writer` writes), up to :data:`_VERIFY_HOLD` bytes; the output
    of a member that ends early or fails its check is dropped, never given out. A zstd frame
    without a checksum is given out once the next frame or the end of the file shows that it
    was written that way.
    """

    def __init__(self, raw: BinaryIO, codec: Compression) -> None:
        self._raw = raw
        self._codec = codec
        self._frames: _ZstdFrames | None = None
        if codec == "zstd":
            self._zstd = _zstandard()
            self._errors: tuple[type[Exception], ...] = (self._zstd.ZstdError,)
            self._frames = _ZstdFrames()
        else:
            self._errors = (zlib.error,)
        self._obj = self._new()
        self._in_member = False
        self._input = b""  # gzip input read but not yet decompressed
        self._buffer = bytearray()  # verified output, to give out
        self._held = bytearray()  # output of the current member, not yet verified
        self._done = False
        self.truncated: str | None = None

    def _new(self) -> Any:
        if self._codec == "zstd":
            return self._zstd.ZstdDecompressor().decompressobj()
        return zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._done:
            try:
                if self._step():
                    continue
                data = self._raw.read(1 << 16)
                if not data:
                    self._done = True
                    in_member = self._in_member if self._frames is None else self._frames.in_frame
                    if in_member:
                        self.truncated = f"the {self._codec} stream ends early{self._dropped()}"
                    else:  # a frame without a checksum, and nothing after it
                        self._release(verified=True)
                    break
                if self._frames is None:
                    self._input = data
                else:
                    self._frames.add(data)
            except self._errors as err:
                self._done = True
                self.truncated = f"corrupt {self._codec} data ({err}){self._dropped()}"
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def _dropped(self) -> str:
        """Drop the unverified output of the member that failed; say so, if there was any."""
        count = len(self._held)
        self._held.clear()
        if not count:
            return ""
        return (
            f"; {count} decompressed bytes of its last part, which no checksum vouched for, "
            "were left out"
        )

    def _release(self, *, verified: bool) -> None:
        """Give out the held output: once verified, or when there is too much to hold."""
        if verified or len(self._held) > _VERIFY_HOLD:
            self._buffer += self._held
            self._held.clear()

    def _step(self) -> bool:
        """Decompress one bounded step of the input at hand; ``False`` if it needs more."""
        if self._frames is not None:
            taken = self._frames.take()
            if taken is None:
                return False
            piece, ends_frame = taken
            if self._held and piece.startswith(_ZSTD_MAGIC_BYTES):
                # Held output of a whole frame without a checksum, now followed by another
                # frame: the frame was meant to have none. Had a damaged bit cleared its
                # checksum flag, its checksum would follow instead, and fail as a frame.
                self._release(verified=True)
            self._held += self._obj.decompress(piece)
            if ends_frame:
                if not self._obj.eof:
                    raise self._zstd.ZstdError("a frame ends before its last block")
                self._obj = self._new()
            self._release(verified=ends_frame and self._frames.checksummed)
            return True
        data = self._input
        if not self._in_member:
            # Zero bytes may pad a gzip file after (or between) members.
            data = data.lstrip(b"\0")
        if not data:
            self._input = b""
            return False
        self._in_member = True
        self._held += self._obj.decompress(data, _OUTPUT_STEP)
        ended = self._obj.eof  # its CRC-32 and length checked
        if ended:
            # One member done; whatever follows starts the next one.
            self._input = self._obj.unused_data
            self._obj = self._new()
            self._in_member = False
        else:
            self._input = self._obj.unconsumed_tail
        self._release(verified=ended)
        return True

    def close(self) -> None:
        self._raw.close()


def open_source(path: str | os.PathLike[str], compression: Compression | None) -> Any:
    """Open ``path`` for reading decompressed bytes (an object with ``read`` and ``close``).

    A compressed stream that ends early or is damaged does not raise: reads return ``b""``
    from there on and the reader's ``truncated`` attribute says what went wrong (see
    :func:`truncated_reason`).
    """
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if compression is None:
        return raw
    try:
        return _Decompressing(raw, compression)
    except BaseException:
        raw.close()
        raise


class _ZstdWriter:
    def __init__(self, raw: BinaryIO, level: int | None) -> None:
        zstd = _zstandard()
        # A content checksum per frame: without one, a damaged byte in a block often still
        # decompresses, into different valid-looking rows.
        compressor = zstd.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
        self._raw = raw
        self._stream = compressor.stream_writer(raw, closefd=False)

    def write(self, data: bytes) -> int:
        written: int = self._stream.write(data)
        return written

    def writelines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self._stream.write(line)

    def close(self) -> None:
        # Ends the frame; the raw file stays open for the atomic writer to fsync.
        self._stream.close()


def open_compressed_writer(
    raw: BinaryIO, compression: Compression | None, level: int | None = None
) -> Any:
    """Wrap ``raw`` in a deterministic compressor (no time stamp or name in gzip headers).

    The returned object has ``write``, ``writelines`` and ``close``; closing it finishes the
    compressed stream but leaves ``raw`` open.
    """
    if compression is None:
        return _Uncompressed(raw)
    if compression == "gzip":
        # mtime=0 and an empty name keep the bytes identical from run to run.
        return gzip.GzipFile(
            filename="",
            fileobj=raw,
            mode="wb",
            compresslevel=6 if level is None else level,
            mtime=0,
        )
    return _ZstdWriter(raw, level)


class _Uncompressed:
    def __init__(self, raw: BinaryIO) -> None:
        self.write = raw.write
        self.writelines = raw.writelines

    def close(self) -> None:
        pass


def truncated_reason(source: Any) -> str | None:
    """Why a source from :func:`open_source` stopped early, or ``None`` if it did not."""
    reason: str | None = getattr(source, "truncated", None)
    return reason
