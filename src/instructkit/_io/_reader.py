"""The public reading verbs: :func:`read` and :func:`read_raw` (writing is in ``_writer``).

One set of keywords for every format. The format comes from the file name (``.jsonl``,
``.jsonl.gz``, ``.jsonl.zst``, ``.json``, ``.json.gz``, ``.json.zst``, ``.parquet``; ``.ndjson``
counts as ``.jsonl``; the table is :mod:`instructkit._io._paths`) or from ``format=``. JSON and
JSON Lines are handled here (with :mod:`instructkit._io._jsonl` and
:mod:`instructkit._io._json`); Parquet is handed to :mod:`instructkit._io._parquet`, and so
are the batches of rows another library holds in Arrow (a ``datasets.Dataset``, a table; see
:mod:`instructkit._sources`), which read like a Parquet file of the same columns.

One module although it is over 600 lines: :class:`Reader` is one state machine (the files,
the position, the sample for ``dialect="auto"``, the report and the rejects), and its
pipeline stages share that state; the module-level functions only check keywords and build it.

Reading streams: :func:`read` returns a :class:`Reader`, an iterator of records that is also a
context manager, and whose :attr:`Reader.report` accounts for every line (or row):
``valid + rejected + blank == seen``. Bad lines raise, or are counted and, with ``rejects=``,
copied byte for byte into a rejects file (format described on :func:`read`). A list of files
(the shards of a sharded :func:`write`, say) reads as one stream, file after file.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Generic, NamedTuple, TypeVar

import orjson

from instructkit._dialects import (
    DialectGuess,
    detect_dialect,
    parse_row,
    parse_row_within_limits,
)
from instructkit._errors import (
    ConfigurationError,
    DataError,
    DialectDetectionError,
    DialectError,
    MalformedJSONError,
    describe_type,
)
from instructkit._io._atomic import atomic_open, watch_shard_sets
from instructkit._io._compression import open_source
from instructkit._io._json import iter_json_array, sniff_layout, spread_object
from instructkit._io._jsonl import (
    CHUNK_SIZE,
    MAX_LINE_BYTES,
    LineChunk,
    check_max_line_bytes,
    duplicate_key_error,
    failed_line,
    has_duplicate_keys,
    iter_line_chunks,
    limit_error,
    locate_duplicate_key,
    read_start,
    record_limit_error,
    skip_to,
    truncation_error,
)
from instructkit._io._keywords import (
    NATIVE,
    RecordType,
    check_dialect,
    convert_record,
    record_type,
)
from instructkit._io._native_rows import build_native, native_duplicate_free
from instructkit._io._parquet import (
    batch_records,
    batch_row_items,
    decoded_metadata,
    own_record_type,
    parquet_info,
    parquet_records,
    parquet_row_items,
)
from instructkit._io._paths import (
    FORMATS,
    Compression,
    PathArg,
    Sources,
    describe_sources,
    resolve_format,
    source_paths,
)
from instructkit._limits import limit_in_bytes
from instructkit._progress import Meter, Progress, check_progress, describe_file
from instructkit._records import Record
from instructkit._reports import ItemReport, LossReport, OnError, check_on_error
from instructkit._sources import ArrowRows, ArrowSource, arrow_source

__all__ = ["ReadPosition", "Reader", "read", "read_raw"]

ARROW: Final = "arrow"
"""The format of rows another library holds in Arrow (a ``datasets.Dataset``, a table)."""

SAMPLE_SIZE: Final = 100
"""How many rows ``dialect="auto"`` looks at before deciding."""

_SAMPLE_ITEMS: Final = 10_000
# Bad or blank lines held back while the sample is gathered, at most; bounds the memory a
# file of junk can take before the dialect is known.

R = TypeVar("R")


# -- rejects -------------------------------------------------------------------------------


class _Rejects:
    """The rejects file: one JSON object per rejected line or row (see :func:`read`)."""

    def __init__(self, stack: ExitStack, path: str | os.PathLike[str]) -> None:
        self._out: BinaryIO = stack.enter_context(atomic_open(path))

    def add(self, error: DataError, raw: bytes | None, row: Any, *, file: str) -> None:
        if raw is None:
            text = orjson.dumps(row, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
            encoding = "json"
        else:
            try:
                text = raw.decode("utf-8")
                encoding = "utf-8"
            except UnicodeDecodeError:
                text = base64.b64encode(raw).decode("ascii")
                encoding = "base64"
        entry = {
            "file": file,
            "line": error.line,
            "row": error.row,
            "loc": error.loc,
            "error": type(error).__name__,
            "reason": error.reason,
            "raw": text,
            "raw_encoding": encoding,
        }
        self._out.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))


# -- reading -------------------------------------------------------------------------------

Item = tuple[int, "bytes | None", Any]

_COUNT: Final = "a count (an int >= 0)"
_POSITION_FIELDS: Final[dict[str, str]] = {
    "file": "a string",
    "index": _COUNT,
    "line": _COUNT,
    "offset": _COUNT,
    "item": _COUNT,
    "finished": "a boolean",
    "dialect": "a string or null",
    "seen": _COUNT,
    "valid": _COUNT,
    "rejected": _COUNT,
    "blank": _COUNT,
}


def _fits(value: object, expected: str) -> bool:
    if expected == _COUNT:
        return type(value) is int and value >= 0
    if expected == "a boolean":
        return type(value) is bool
    return isinstance(value, str) or (value is None and expected.endswith("null"))


@dataclass(frozen=True)
class ReadPosition:
    """Where a read stands, to resume it later: ``read(path, resume=reader.position)``.

    Everything up to the position has been accounted for in the reader's report (given to
    the caller, rejected or counted blank); resuming reads exactly what an uninterrupted read
    would have read after it. :meth:`to_dict` gives plain JSON values to store, and
    :meth:`from_dict` takes them back.

    Attributes:
        file: The file being read, as given to the reader.
        index: Its place in the list of files (0 for a single file).
        line: JSON Lines: lines of ``file`` read so far (the next line is ``line + 1``).
        offset: JSON Lines: the byte offset of the next line in the (decompressed) file.
        item: JSON arrays: elements read so far; Parquet: rows read so far (the next row's
            0-based index).
        finished: ``file`` has been read to its end.
        dialect: The dialect rows are read with (so an ``"auto"`` read resumes with the
            same one), or ``None`` if not decided yet (or for :func:`read_raw`).
        seen: The report's ``seen`` at this position (``valid``, ``rejected`` and ``blank``
            likewise); a resumed reader without ``report=`` starts counting from them.
    """

    file: str
    index: int = 0
    line: int = 0
    offset: int = 0
    item: int = 0
    finished: bool = False
    dialect: str | None = None
    seen: int = 0
    valid: int = 0
    rejected: int = 0
    blank: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The position as a dict of JSON values (``json.dumps`` writes it as it is)."""
        return {name: getattr(self, name) for name in _POSITION_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReadPosition:
        """The position :meth:`to_dict` gave.

        Raises:
            ConfigurationError: ``data`` is not such a dict.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                f"expected a read position as a dict, got {describe_type(data)}"
            )
        unknown = sorted(set(data) - set(_POSITION_FIELDS))
        if unknown or "file" not in data:
            raise ConfigurationError(
                f"expected a read position's keys among {list(_POSITION_FIELDS)} with 'file', "
                f"got {sorted(data)}"
            )
        for name, value in data.items():
            expected = _POSITION_FIELDS[name]
            if not _fits(value, expected):
                raise ConfigurationError(
                    f"expected {name!r} of a read position to be {expected}, got {value!r}"
                )
        return cls(**data)


def _file_of(source: Path | ArrowSource) -> Path | None:
    return None if isinstance(source, ArrowSource) else source


class _BadRow(NamedTuple):
    """A Parquet row that could not be read as a row (its error), with its stored values."""

    error: DataError
    row: dict[str, Any]


class Reader(Generic[R]):
    """A streaming reader: iterate it for records (or dicts), close it when done.

    Use it in a ``with`` block, or iterate it to the end (which closes it too). The file is
    opened at the first ``next()``; the rejects file, if any, is written when the reader
    closes. Given several files, the reader goes through them in order, one open at a time,
    as one stream with one report, one dialect and one rejects file.

    Attributes:
        paths: The files to read, in order (none for rows held in Arrow, such as a
            ``datasets.Dataset``).
        path: The file being read (the first, before reading starts), or ``None`` for rows
            held in Arrow.
        file: ``path`` as a string, the name errors carry; for rows held in Arrow, a name
            in angle brackets such as ``<datasets.Dataset>``.
        format: ``path``'s format (a key of :data:`FORMATS`), or ``"arrow"``.
        report: The running :class:`~instructkit.ItemReport`; once the reader is exhausted,
            ``valid + rejected + blank == seen``.
        dialect: The dialect rows are read with; for ``dialect="auto"``, set once the sample
            has been looked at (``None`` before, and while every file so far was empty).
        guess: The :class:`~instructkit.dialects.DialectGuess` behind an ``"auto"`` dialect, if any.
        losses: The :class:`~instructkit.LossReport` conversions count into, if given.
    """

    # What `position` is computed from, kept up to date at file and chunk boundaries only:
    # within a file, the report's `seen` count says how far the read got (every line,
    # element or row is counted once, when it is taken up), so the loop pays nothing per line.
    _index: int  # the file being read
    _mode: str | None  # "lines", "items" (JSON array elements, Parquet rows), "typed", None
    _seen0: int  # report.seen when the file started
    _line0: int  # lines (or items) before the stream's start, for a resumed file
    _offset0: int
    _chunk: LineChunk | None  # the chunk being read ("lines")
    _finished: bool
    _typed: list[int]  # "typed": records taken, of them rejected by conversion
    _rejections0: int
    _counts0: tuple[int, int, int]  # valid, rejected, blank when the file started

    def __init__(
        self,
        paths: Sequence[PathArg | ArrowSource],
        *,
        formats: Sequence[str],
        on_error: OnError,
        rejects: str | os.PathLike[str] | None,
        report: ItemReport | None,
        dialect: str | None,
        record: RecordType | None,
        column_map: Mapping[str, str] | None,
        role_map: Mapping[str, str] | None,
        strict: bool,
        losses: LossReport | None,
        raw: bool,
        check_shards: Callable[[], None] | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        resume: ReadPosition | None = None,
        progress: Progress = False,
    ) -> None:
        self._sources = tuple(
            path if isinstance(path, ArrowSource) else Path(path) for path in paths
        )
        self.paths = tuple(path for path in self._sources if isinstance(path, Path))
        self._formats = tuple(formats)
        self.path = _file_of(self._sources[0])
        self.format = self._formats[0]
        self._files = tuple(
            path.name if isinstance(path, ArrowSource) else os.fspath(path) for path in paths
        )
        self.file = self._files[0]
        if report is None:
            report = ItemReport()
            if resume is not None:
                report.seen, report.valid = resume.seen, resume.valid
                report.rejected, report.blank = resume.rejected, resume.blank
        self.report = report
        if self.report.source is None:
            self.report.source = describe_sources(self._files)
        self.dialect: str | None = None if dialect == "auto" or raw else (dialect or NATIVE)
        self.guess: DialectGuess | None = None
        self.losses = losses
        self._requested = dialect
        self._on_error = on_error
        self._rejects_path = rejects
        self._record = record
        self._column_map = column_map
        self._role_map = role_map
        self._strict = strict
        self._raw = raw
        self._max_line_bytes = max_line_bytes
        self._stack = ExitStack()
        self._rejects: _Rejects | None = None
        self._closed = False
        # Raises if a shard set among the files was replaced since the call.
        self._check_shards = check_shards or (lambda: None)
        self._resume = resume
        if resume is not None and resume.dialect is not None and dialect == "auto" and not raw:
            # The rows after the position may look different: keep the dialect decided before.
            self.dialect = resume.dialect
        self._start_file(resume.index if resume else 0, resume)
        if resume is not None:
            self._finished = resume.finished
        self._gen: Generator[R, None, None] = self._loop()
        if progress is not False:
            self._gen = self._progress(self._gen, progress)

    # -- position --------------------------------------------------------------------------

    def _start_file(self, index: int, at: ReadPosition | None) -> None:
        report = self.report
        self._index = index
        self._mode = None
        self._seen0 = report.seen
        self._line0 = 0 if at is None else (at.item or at.line)
        self._offset0 = 0 if at is None else at.offset
        self._chunk = None
        self._finished = False
        self._typed = [0, 0]
        self._rejections0 = len(report.rejections)
        self._counts0 = (report.valid, report.rejected, report.blank)

    @property
    def position(self) -> ReadPosition:
        """Where the read stands: resume from here with ``read(..., resume=position)``.

        Everything before the position has been given to the caller, rejected or counted
        blank, and the position's counts are the report's at that point; resuming reads
        exactly the rest. After an error under ``on_error="raise"`` the position is past the
        bad item, which the report counts as rejected. Cheap to ask for at any time, and a
        plain value (:meth:`ReadPosition.to_dict` gives JSON).
        """
        report = self.report
        index = self._index
        common: dict[str, Any] = {
            "file": self._files[index],
            "index": index,
            "dialect": None if self._raw else self.dialect,
        }
        counts: dict[str, Any] = {
            "seen": report.seen,
            "valid": report.valid,
            "rejected": report.rejected,
            "blank": report.blank,
        }
        if self._finished:
            return ReadPosition(**common, finished=True, **counts)
        if self._mode == "typed":
            return self._typed_position(common)
        done = report.seen - self._seen0
        if self._mode == "items":
            return ReadPosition(**common, item=self._line0 + done, **counts)
        line = self._line0 + done
        chunk = self._chunk
        if chunk is None or line < chunk.first_line:
            offset = self._offset0
        else:
            raw = chunk.lines[line - chunk.first_line]
            offset = chunk.offset_of(line) + len(raw) + 1
        return ReadPosition(**common, line=line, offset=offset, **counts)

    def _typed_position(self, common: dict[str, Any]) -> ReadPosition:
        # Parquet's typed path validates a batch at a time and counts it in the report before
        # its records are taken; the position is after the last record taken (and the bad
        # rows right after it), so it and its counts come from the rows rejected so far:
        # each one up to the next row shifts it by one.
        taken, converted_bad = self._typed
        bad_rows = sorted(
            rejection.row
            for rejection in self.report.rejections[self._rejections0 :]
            if rejection.row is not None
        )
        row = self._line0 + taken
        shift = 0
        for bad in bad_rows:
            if bad > row:
                break
            row += 1
            shift += 1
        valid0, rejected0, blank0 = self._counts0
        return ReadPosition(
            **common,
            item=row,
            seen=self._seen0 + row - self._line0,
            valid=valid0 + taken - converted_bad,
            rejected=rejected0 + shift + converted_bad,
            blank=blank0,
        )

    # -- progress --------------------------------------------------------------------------

    def _progress(
        self, records: Generator[R, None, None], progress: Progress
    ) -> Generator[R, None, None]:
        """``records``, counting the rows taken up (the report's ``seen``) into a meter.

        Counting ``seen`` rather than the records given makes the count end at the number of
        rows, rejected and blank ones included, which is the total a Parquet footer knows.
        """
        report = self.report
        resumed = self._resume.seen if self._resume is not None else 0
        offset = report.seen - resumed  # a report= given may count other reads too
        total = None
        if all(kind == "parquet" for kind in self._formats):
            total = sum(parquet_info(path).num_rows for path in self.paths)
        name = describe_file(self.file)
        if len(self._files) > 1:
            name += f" (+{len(self._files) - 1} files)"
        meter = Meter(
            progress,
            desc=f"read {name}",
            unit="rows",
            total=total,
            done=resumed,
            detail=self._bytes_read() if all(k == "jsonl" for k in self._formats) else None,
        )
        finished = False
        try:
            for record in records:
                meter.update(report.seen - offset)
                yield record
            finished = True
        finally:
            records.close()  # closing the reader closes this generator: the files close too
            meter.done = report.seen - offset
            meter.close(finished=finished)

    def _bytes_read(self) -> Callable[[], str]:
        """Bytes read of plain JSON Lines files, whose sizes are the bytes parsed."""
        sizes = [os.path.getsize(path) for path in self.paths]
        total = sum(sizes)

        def detail() -> str:
            at = self.position
            done = sum(sizes[: at.index]) + (sizes[at.index] if at.finished else at.offset)
            return f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB"

        return detail

    # -- iterator and context manager ------------------------------------------------------

    def __iter__(self) -> Iterator[R]:
        # The generator itself, so a for loop skips this class's __next__ on every record.
        return self._gen

    def __next__(self) -> R:
        return next(self._gen)

    def __enter__(self) -> Reader[R]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading, close the file and write the rejects file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._gen.close()
        finally:
            self._stack.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<instructkit.Reader {self.file!r} format={self.format!r} {state}>"

    # -- the pipeline ----------------------------------------------------------------------

    def _path(self) -> Path:
        """The file being read (the formats that have one)."""
        assert self.path is not None
        return self.path

    def _typed_wanted(self) -> bool:
        """Rows of instructkit's own schema take the typed path (if the keywords allow)."""
        return not (
            self._raw
            or self._requested not in (None, "auto", NATIVE)
            or self.dialect not in (None, NATIVE)  # an earlier file set another dialect
            or self._column_map
        )

    def _rejected_row(self) -> Callable[[DataError, dict[str, Any]], None]:
        rejects = self._rejects
        file = self.file

        def rejected(error: DataError, row: dict[str, Any]) -> None:
            if rejects is not None:
                rejects.add(error, None, row, file=file)

        return rejected

    def _parquet_typed(self, path: Path, start: int) -> Iterator[Any] | None:
        """The Parquet module's typed batch path, for files with instructkit's own schema.

        The only path for such files, whatever the other keywords (``rejects=``,
        ``on_error=``, ``losses=``, ``record=``), so a file gives the same records and the
        same rejections with any of them.
        """
        if not self._typed_wanted() or parquet_info(path).record_type is None:  # not ours
            return None
        self.dialect = NATIVE
        self._mode = "typed"
        return self._convert_typed(
            parquet_records(
                path,
                on_error=self._on_error,
                report=self.report,
                rejected=self._rejected_row(),
                start=start,
            )
        )

    def _arrow_rows(self, source: ArrowSource, start: int) -> Iterator[Any]:
        """Rows held in Arrow, read as a Parquet file of the same columns would be.

        The typed path for instructkit's own schema, else rows through a dialect (detected
        as for files).
        """
        schema, batches = source.open(start)
        metadata = decoded_metadata(schema.metadata)
        kind = own_record_type(schema, metadata)
        if kind is not None and self._typed_wanted():
            self.dialect = NATIVE
            self._mode = "typed"
            return self._convert_typed(
                batch_records(
                    batches,
                    kind,
                    file=self.file,
                    on_error=self._on_error,
                    report=self.report,
                    rejected=self._rejected_row(),
                    start=start,
                )
            )
        self._mode = "items"
        items: Iterator[Item] = (
            (index, None, row if error is None else _BadRow(error, row))
            for index, row, error in batch_row_items(
                batches, schema, metadata, file=self.file, start=start
            )
        )
        auto = not self._raw and self._requested == "auto" and self.dialect is None
        return self._item_loop(self._detect_items(items) if auto else items, True)

    def _convert_typed(self, records: Iterator[tuple[int, Record]]) -> Iterator[Any]:
        target = self._record
        report = self.report
        taken = self._typed  # [records taken, of them rejected here], for `position`
        for index, record in records:
            taken[0] += 1
            if target is None or type(record) is target:
                yield record
                continue
            try:
                converted = convert_record(record, target, strict=self._strict, losses=self.losses)
            except DataError as err:
                # The Parquet reader counted the row valid; it is rejected after all.
                report.valid -= 1
                taken[1] += 1
                self._reject(err.located(file=self.file, row=index), None, record.to_dict())
                continue
            yield converted

    def _parquet_items(self, path: Path, start: int) -> Iterator[Item]:
        for index, row, error in parquet_row_items(path, start=start):
            yield index, None, row if error is None else _BadRow(error, row)

    def _reject(self, error: DataError, raw: bytes | None, value: Any = None) -> None:
        if self._rejects is not None:
            self._rejects.add(error, raw, value, file=self.file)
        self.report.reject(error, on_error=self._on_error)

    def _not_an_object(self, value: Any, index: int, by_row: bool) -> DialectError:
        return DialectError(
            f"expected a JSON object, got {describe_type(value)}",
            loc="$",
            file=self.file,
            line=None if by_row else index,
            row=index if by_row else None,
        )

    def _duplicate(self, raw: bytes, line: int, chunk: LineChunk) -> MalformedJSONError:
        offset = chunk.offset_of(line)
        return duplicate_key_error(raw, file=self.file, line=line, offset=offset)

    def _convert(self, row: dict[str, Any], *, within_limits: bool = True) -> Record:
        """Turn a row into the requested record (full validation; may raise DataError).

        ``within_limits``: the row's bytes were held to the limits already (JSON text).
        """
        parse = parse_row_within_limits if within_limits else parse_row
        record = parse(
            row,
            dialect=self.dialect or NATIVE,
            column_map=self._column_map,
            role_map=self._role_map,
            strict=self._strict,
            losses=self.losses,
        )
        target = self._record
        if target is not None and type(record) is not target:
            record = convert_record(record, target, strict=self._strict, losses=self.losses)
        return record

    def _sample(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            self.guess = detect_dialect(rows, sample_size=SAMPLE_SIZE, column_map=self._column_map)
        except DialectDetectionError as err:
            raise err.located(file=self.file) from err
        self.dialect = self.guess.dialect

    def _detect_items(self, items: Iterator[Item]) -> Iterator[Item]:
        """Look at the first rows to choose the dialect; return all items, none lost."""
        held: list[Item] = []
        rows: list[dict[str, Any]] = []
        for item in items:
            held.append(item)
            if type(item[2]) is dict:
                rows.append(item[2])
                if len(rows) >= SAMPLE_SIZE:
                    break
            if len(held) >= _SAMPLE_ITEMS and rows:
                break
        self._sample(rows)
        return chain(held, items)

    def _detect_chunks(self, chunks: Iterator[LineChunk]) -> Iterator[LineChunk]:
        """Like :meth:`_detect_items` for JSON Lines; sampled lines are parsed twice, read once."""
        held: list[LineChunk] = []
        rows: list[dict[str, Any]] = []
        looked = 0
        for chunk in chunks:
            held.append(chunk)
            if chunk.truncated is not None:
                break
            for raw in chunk.lines:
                looked += 1
                try:
                    value = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                # A row beyond the limits is a bad line, not a sample to decide by.
                if type(value) is dict and limit_in_bytes(raw) is None:
                    rows.append(value)
                    if len(rows) >= SAMPLE_SIZE:
                        break
            if len(rows) >= SAMPLE_SIZE or (looked >= _SAMPLE_ITEMS and rows):
                break
        self._sample(rows)
        return chain(held, chunks)

    def _open_text(
        self, compression: Compression | None, stack: ExitStack
    ) -> tuple[Any, bytes, bool, bytes]:
        """Open the file; return the source, its first bytes, and how its text starts.

        Returns:
            The source, its first bytes, whether it is a JSON array, and the bytes that held
            its first character that is not whitespace (the first bytes when those do).
        """
        path = self._path()
        source = open_source(path, compression)
        stack.callback(source.close)
        first = read_start(source)
        if FORMATS[self.format][0] != "json":
            return source, first, False, first
        # A .json file may hold JSON Lines; the first byte that is not whitespace decides.
        layout = sniff_layout(first)
        if layout != "empty":
            return source, first, layout == "array", first
        # Only whitespace so far. Each further read is sniffed alone and dropped (holding
        # them all and sniffing from the top each time took quadratic time, and memory for
        # all the whitespace); then the file is read again from its start.
        sniffed = first
        while layout == "empty":
            sniffed = source.read(CHUNK_SIZE)
            if not sniffed:
                break
            layout = sniff_layout(sniffed, at_start=False)
        source.close()
        source = open_source(path, compression)
        stack.callback(source.close)
        first = read_start(source)
        return source, first, layout == "array", sniffed or first

    def _open_file(
        self, at: ReadPosition | None, opened: ExitStack
    ) -> tuple[Iterator[Any] | None, Iterator[LineChunk] | None]:
        """Open the current file and choose how it is read, from its format and first bytes.

        Returns:
            ``(items, None)`` for Parquet and JSON arrays, read through their own loops;
            ``(None, chunks)`` for JSON Lines, which :meth:`_loop` reads itself; and
            ``(None, None)`` for a file already dealt with (one object spread over lines).
        """
        if self.format == ARROW:
            source = self._sources[self._index]
            assert isinstance(source, ArrowSource)
            return self._arrow_rows(source, self._line0), None
        kind, compression = FORMATS[self.format]
        # Of several files, the first that has rows decides an "auto" dialect for all.
        auto = not self._raw and self._requested == "auto" and self.dialect is None
        if kind == "parquet":
            typed = self._parquet_typed(self._path(), self._line0)
            if typed is not None:
                return typed, None
            self._mode = "items"
            items = self._parquet_items(self._path(), self._line0)
            return self._item_loop(self._detect_items(items) if auto else items, True), None
        source, first, is_array, sniffed = self._open_text(compression, opened)
        self._check_shards()  # before any of its rows is read
        if is_array:
            self._mode = "items"
            items = iter_json_array(
                source,
                file=self.file,
                first_chunk=first,
                max_line_bytes=self._max_line_bytes,
            )
            if self._line0:
                # Elements have no fixed place in the bytes to seek to: the array is
                # scanned and parsed again up to the position, without validation.
                items = islice(items, self._line0, None)
            return self._item_loop(self._detect_items(items) if auto else items, False), None
        if at is not None and at.offset:
            first = skip_to(source, first, at.offset)
        elif kind == "json":
            spread = spread_object(
                sniffed,
                partial(open_source, self._path(), compression),
                file=self.file,
                max_line_bytes=self._max_line_bytes,
            )
            if spread is not None:
                # The whole file is one item, not a truncated first line of many.
                self.report.seen += 1
                self._finished = True
                self._reject(spread[1], spread[0])
                return None, None
        self._mode = "lines"
        chunks = iter_line_chunks(
            source,
            first_chunk=first,
            file=self.file,
            max_line_bytes=self._max_line_bytes,
            first_line=self._line0 + 1,
            start=self._offset0,
        )
        return None, self._detect_chunks(chunks) if auto else chunks

    def _loop(self) -> Generator[Any, None, None]:
        # The only generator between the parser and the caller for JSON Lines (each layer of
        # generators costs time on every record), so the loop over the files is here too. It
        # owns the open files and closes them however it ends: each input file once it is
        # read (`opened`), the rejects file at the end.
        opened = ExitStack()
        try:
            if self._rejects_path is not None:
                self._rejects = _Rejects(self._stack, self._rejects_path)
            resume = self._resume
            for index, (path, file, format) in enumerate(
                zip(self._sources, self._files, self._formats, strict=True)
            ):
                at = None
                if resume is not None:
                    if index < resume.index or (index == resume.index and resume.finished):
                        continue  # read before the position
                    if index == resume.index:
                        at = resume
                opened.close()  # the file before
                self._check_shards()  # the file before belonged to the set checked at the call
                self._start_file(index, at)
                self.path, self.file, self.format = _file_of(path), file, format
                items, chunks = self._open_file(at, opened)
                if chunks is None:
                    if items is not None:
                        yield from items
                    self._finished = True
                    continue
                # The hot loop: parse, check for repeated keys, build, count. The rare cases (bad
                # lines, full validation) call out to helpers.
                report = self.report
                file = self.file
                raw_rows = self._raw
                target = self._record
                loads = orjson.loads
                dumps = orjson.dumps
                decode_error = orjson.JSONDecodeError
                dialect = self.dialect or NATIVE
                fast = dialect == NATIVE and not self._column_map and not self._role_map
                build = build_native
                for chunk in chunks:
                    self._chunk = chunk
                    if chunk.truncated is not None:
                        report.seen += 1
                        self._finished = True
                        self._reject(truncation_error(chunk, file=file), chunk.lines[0])
                        break  # the stream ended early: nothing follows
                    line = chunk.first_line - 1
                    for raw in chunk.lines:
                        line += 1
                        report.seen += 1
                        try:
                            value = loads(raw)
                        except decode_error as err:
                            bad = failed_line(raw, err, file=file, line=line, chunk=chunk)
                            if isinstance(bad, DataError):
                                self._reject(bad, raw)
                            else:
                                report.blank += 1
                            continue
                        if type(value) is not dict:
                            self._reject(self._not_an_object(value, line, False), raw)
                            continue
                        if raw_rows:
                            beyond = limit_error(raw, file=file, line=line)
                            if beyond is not None:
                                self._reject(beyond, raw)
                                continue
                            if has_duplicate_keys(raw, value):
                                self._reject(self._duplicate(raw, line, chunk), raw)
                                continue
                            report.valid += 1
                            yield value
                            continue
                        # A line that is byte for byte orjson's rendering of what it parsed to
                        # (every line instructkit writes) cannot have lost a repeated key; that
                        # one comparison is cheaper than any scan, so it comes first (and before
                        # building, which may take over the parsed values).
                        try:
                            canonical = raw == dumps(value)
                        except TypeError:  # too deep for orjson to write: the limits refuse it
                            canonical = False
                        record = build(value) if fast else None
                        beyond = (
                            limit_error(raw, file=file, line=line, canonical=canonical)
                            if record is None
                            else record_limit_error(
                                raw, record, file=file, line=line, canonical=canonical
                            )
                        )
                        if beyond is not None:
                            self._reject(beyond, raw)
                            continue
                        if not canonical and (
                            has_duplicate_keys(raw, value, canonical_known=True)
                            if record is None
                            else not native_duplicate_free(raw, record)
                            and locate_duplicate_key(raw) is not None
                        ):
                            self._reject(self._duplicate(raw, line, chunk), raw)
                            continue
                        if record is None or (target is not None and type(record) is not target):
                            try:
                                record = (
                                    self._convert(value)
                                    if record is None
                                    else convert_record(
                                        record, target, strict=self._strict, losses=self.losses
                                    )
                                )
                            except DataError as err:
                                self._reject(err.located(file=file, line=line), raw)
                                continue
                        report.valid += 1
                        yield record
                self._finished = True
            self._check_shards()  # the last file
        except DataError as err:
            if err.loc is not None:
                raise
            # An error about a whole file (not Parquet, no dialect fits): located at its root.
            raise err.located(loc="$", file=self.file) from err
        finally:
            self._closed = True
            opened.close()
            self._stack.close()

    def _item_loop(self, items: Iterator[Item], by_row: bool) -> Iterator[Any]:
        report = self.report
        file = self.file
        raw_rows = self._raw
        target = self._record
        # JSON array elements come from orjson too, so they may take the fast path.
        fast = (
            not by_row
            and (self.dialect or NATIVE) == NATIVE
            and not self._column_map
            and not self._role_map
        )
        for index, raw, value in items:
            report.seen += 1
            if type(value) is dict:
                if raw_rows:
                    report.valid += 1
                    yield value
                    continue
                record = build_native(value) if fast else None
                try:
                    if record is None:
                        # JSON text was held to the limits by the parser; Parquet rows not.
                        record = self._convert(value, within_limits=not by_row)
                    elif target is not None and type(record) is not target:
                        record = convert_record(
                            record, target, strict=self._strict, losses=self.losses
                        )
                except DataError as err:
                    located = (
                        err.located(file=file, row=index)
                        if by_row
                        else err.located(file=file, line=index)
                    )
                    self._reject(located, raw, value)
                    continue
                report.valid += 1
                yield record
            elif isinstance(value, DataError):
                self._reject(value, raw)
            elif type(value) is _BadRow:
                self._reject(value.error, raw, value.row)
            else:
                self._reject(self._not_an_object(value, index, by_row), raw, value)


def read(
    path: Sources | ArrowRows,
    *,
    format: str | None = None,
    dialect: str | None = "auto",
    record: RecordType | str | None = None,
    on_error: OnError = "raise",
    rejects: str | os.PathLike[str] | None = None,
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    strict: bool = False,
    report: ItemReport | None = None,
    losses: LossReport | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    resume: ReadPosition | None = None,
    progress: Progress = False,
) -> Reader[Record]:
    r"""Read records from a JSON Lines, JSON or Parquet file (or several), streaming.

    Args:
        path: The file, or a list of files to read one after another as one stream, such
            as :attr:`WriteResult.paths` of a sharded :func:`write`. Each file's name gives
            its format unless ``format`` is set. Errors, rejects entries and
            :class:`~instructkit.Rejection` objects name the file they come from; line and
            row numbers count within that file. A path that does not exist and holds ``*``,
            ``?`` or ``[`` is a glob pattern (``**`` for any depth of folders), and a folder
            means the files directly in it with a suffix the readers accept; both give their
            files in sorted order, without hidden names (a pattern or folder without files
            raises ``FileNotFoundError``; one holding some shards of a set but not all, a
            :class:`~instructkit.ShardSetError`). Or rows that another library holds: a
            ``datasets.Dataset`` or ``IterableDataset`` (streamed), a
            :class:`pyarrow.Table`, :class:`pyarrow.RecordBatch`,
            :class:`pyarrow.RecordBatchReader`, or a list or iterator of record batches. They
            are read a batch at a time, as a Parquet file of the same columns would be
            (instructkit's own schema through the typed path, other rows through their
            dialect); errors name the source (``<datasets.Dataset>``) and the 0-based
            ``row``, and ``resume=`` goes by row (give the same rows again).
        format: One of :data:`FORMATS`' keys: ``"jsonl"``, ``"jsonl.gz"``, ``"jsonl.zst"``,
            ``"json"``, ``"json.gz"``, ``"json.zst"``, ``"parquet"``.
        dialect: ``"auto"`` (default) detects the layout from the first 100 rows (see
            :func:`~instructkit.detect_dialect`; of several files, the first that has rows
            decides for all); ``None`` means instructkit's own layout
            (``"instructkit"``, what :func:`write` writes by default); or any name from
            :func:`~instructkit.dialects.dialect_names`.
        record: Which record type to produce: ``Instruction``, ``Conversation``,
            ``Preference`` (class or name), or ``None`` for whatever each row is. Rows are
            converted with the records' own methods; a row that cannot be converted is a bad
            row (handled by ``on_error``).
        on_error: ``"raise"`` stops at the first bad line or row with a located
            :class:`~instructkit.DataError`; ``"skip"`` and ``"collect"`` go on and count it
            in :attr:`Reader.report` (``"collect"`` also keeps each error object).
        rejects: A path that receives every rejected line, as JSON Lines, one object per
            rejected line: ``file``, ``line`` (1-based, JSON/JSONL) or ``row`` (0-based,
            Parquet), ``loc`` (field path or null), ``error`` (the error class name),
            ``reason``, ``raw`` and ``raw_encoding``. With ``raw_encoding`` ``"utf-8"``,
            ``raw.encode("utf-8")`` is the line's exact bytes (without its ``\n``); with
            ``"base64"`` (lines that are not valid UTF-8) ``base64.b64decode(raw)`` is; with
            ``"json"`` (Parquet rows, which have no bytes of their own) ``raw`` is the row as
            JSON. The file is written atomically when the reader closes (also after an
            error); once reading has started it always exists, empty if nothing was rejected.
        column_map: The dialect's column name -> your column name (see
            :func:`~instructkit.parse_row`).
        role_map: Extra role words -> instructkit roles (see :func:`~instructkit.parse_row`).
        strict: Reject rows whose conversion would lose information instead of counting the
            loss in ``losses``.
        report: An :class:`~instructkit.ItemReport` to count into (one is made if omitted);
            it is also :attr:`Reader.report`.
        losses: A :class:`~instructkit.LossReport` counting what dialect and record
            conversions lost.
        max_line_bytes: The longest line (JSON Lines) or array element (JSON) read, in
            bytes after decompression: 256 MiB by default. A longer one is never held
            whole; it raises a :class:`~instructkit.DataError` naming the limit and the line,
            whatever ``on_error`` is (the file cannot be framed past it). It bounds the
            memory a file can take, a small file that decompresses into one endless line
            included.
        resume: A :class:`ReadPosition` (:attr:`Reader.position` of an earlier read of the
            same files, with the same keywords): read only what comes after it. Without
            ``report=``, the new report starts from the position's counts. A ``.jsonl`` file
            resumes by seeking to the position's byte offset; a compressed one is
            decompressed again from its start up to it; a JSON array is parsed again up to
            the position's element; a Parquet file skips whole row groups.
        progress: ``True`` shows the rows read (valid, rejected and blank) on stderr, out of
            the total for Parquet files, with the megabytes read for plain ``.jsonl`` files:
            a tqdm bar when tqdm is installed, else a plain line a few times a second. A
            callable is called with ``(rows read so far, total rows or None)`` (see
            ``docs/io.md``). Nothing is shown before the first record is asked for.

    Returns:
        A :class:`Reader`: iterate it for records; use it as a context manager to close the
        file early.

    Raises:
        ConfigurationError: a bad keyword, or an empty list of files (at the call).
        FileNotFoundError: a file does not exist, or a pattern or folder gives none (at the
            call).
        DataError: (while iterating, with ``on_error="raise"``) a bad line or row, located
            by file, line or row, and field path. :class:`~instructkit.MalformedJSONError`
            adds the column and byte offset. A dialect that cannot be detected raises
            :class:`~instructkit.DialectDetectionError` whatever ``on_error`` is.

    Example:
        >>> import pathlib, tempfile
        >>> from instructkit import Instruction, read, write
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
        >>> _ = write([Instruction(instruction="Add 2 and 2.", response="4")], path)
        >>> with read(path) as reader:
        ...     [r.response for r in reader]
        ['4']
    """
    return _open_reader(
        path,
        format=format,
        dialect=check_dialect(dialect, allow_auto=True),
        record=record_type(record),
        on_error=on_error,
        rejects=rejects,
        column_map=column_map,
        role_map=role_map,
        strict=strict,
        report=report,
        losses=losses,
        raw=False,
        max_line_bytes=max_line_bytes,
        resume=resume,
        progress=progress,
    )


def read_raw(
    path: Sources | ArrowRows,
    *,
    format: str | None = None,
    on_error: OnError = "raise",
    rejects: str | os.PathLike[str] | None = None,
    report: ItemReport | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    resume: ReadPosition | None = None,
    progress: Progress = False,
) -> Reader[dict[str, Any]]:
    r"""Read the rows of a JSON Lines, JSON or Parquet file as plain dicts, without validation.

    Lines are still parsed with the same care as :func:`read`: malformed JSON, repeated keys
    and values that are not JSON objects are bad lines, handled by ``on_error``; blank lines
    are counted.

    Args:
        path: The file, a list of files, a pattern or folder, or rows held in Arrow, as for
            :func:`read`.
        format: As for :func:`read`.
        on_error: As for :func:`read`.
        rejects: As for :func:`read`.
        report: As for :func:`read`.
        max_line_bytes: As for :func:`read`.
        resume: As for :func:`read`.
        progress: As for :func:`read`.

    Returns:
        A :class:`Reader` of dicts.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> _ = path.write_bytes(b'{"q": "hi"}\n\n{"q": "bye"}\n')
        >>> with read_raw(path) as rows:
        ...     print(list(rows), rows.report.summary())
        [{'q': 'hi'}, {'q': 'bye'}] ...rows.jsonl: 3 seen, 2 valid, 0 rejected, 1 blank
    """
    return _open_reader(
        path,
        format=format,
        on_error=on_error,
        rejects=rejects,
        report=report,
        raw=True,
        max_line_bytes=max_line_bytes,
        resume=resume,
        progress=progress,
    )


def _open_reader(
    path: Sources | ArrowRows,
    *,
    format: str | None,
    on_error: OnError,
    rejects: str | os.PathLike[str] | None,
    report: ItemReport | None,
    raw: bool,
    dialect: str | None = None,
    record: RecordType | None = None,
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    strict: bool = False,
    losses: LossReport | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    resume: ReadPosition | None = None,
    progress: Progress = False,
) -> Reader[Any]:
    progress = check_progress(progress)
    source = arrow_source(path)  # a datasets.Dataset, an Arrow table, record batches
    paths: tuple[PathArg | ArrowSource, ...]
    if source is not None:
        if format is not None:
            raise ConfigurationError(
                f"expected format=None for rows held in Arrow (they have no file format), got "
                f"{format!r} with {source.name}"
            )
        paths, formats = (source,), [ARROW]
    else:
        paths = source_paths(path)
        formats = [resolve_format(each, format) for each in paths]
    files = [each.name if isinstance(each, ArrowSource) else os.fspath(each) for each in paths]
    policy = check_on_error(on_error)
    check_max_line_bytes(max_line_bytes)
    if report is not None and not isinstance(report, ItemReport):
        raise ConfigurationError(f"expected report to be an ItemReport, got {report!r}")
    if losses is not None and not isinstance(losses, LossReport):
        raise ConfigurationError(f"expected losses to be a LossReport, got {losses!r}")
    if rejects is not None and os.fspath(rejects) in files:
        raise ConfigurationError("expected rejects to be a different file from the ones read")
    on_disk = [each for each in paths if not isinstance(each, ArrowSource)]
    for each in on_disk:
        os.stat(each)  # a missing file fails here, at the call, not at a later next()
    check_shards = watch_shard_sets(on_disk)
    if resume is not None:
        _check_resume(resume, files)
    return Reader(
        paths,
        formats=formats,
        on_error=policy,
        rejects=rejects,
        report=report,
        dialect=dialect,
        record=record,
        column_map=column_map,
        role_map=role_map,
        strict=strict,
        losses=losses,
        raw=raw,
        check_shards=check_shards,
        max_line_bytes=max_line_bytes,
        resume=resume,
        progress=progress,
    )


def _check_resume(resume: object, files: Sequence[str]) -> None:
    """Check that ``resume`` is a position in one of ``files`` (their names).

    Raises:
        ConfigurationError: not a :class:`ReadPosition`, or one in another file.
    """
    if not isinstance(resume, ReadPosition):
        raise ConfigurationError(
            "expected resume to be a ReadPosition (reader.position, or "
            f"ReadPosition.from_dict of its to_dict()), got {describe_type(resume)}"
        )
    if resume.index >= len(files) or files[resume.index] != resume.file:
        raise ConfigurationError(
            f"expected a position in one of the files read, got one in {resume.file!r} "
            f"(file {resume.index}), which is not file {resume.index} of {files}"
        )
