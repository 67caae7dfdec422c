"""Ray Data: convert, mix and write sharded Parquet on a cluster, with one process's records.

Needs the ``ray`` extra (``pip install 'instructkit[ray]'``). Every function takes and
returns :class:`ray.data.Dataset` objects and runs its work in Ray's workers, on Arrow
batches. The records do not depend on how the data is partitioned: template picks and
mixture selection are seeded per example. See docs/scale.md.

Example:
    >>> import instructkit.ray
    >>> instructkit.ray.__all__
    ['convert', 'mix', 'write_parquet']
"""

from __future__ import annotations

try:
    import ray.data  # noqa: F401  (the check that the extra is installed)
except ImportError as _missing:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        "instructkit.ray needs Ray Data, which is not installed: pip install 'instructkit[ray]'"
    ) from _missing

from instructkit._public import expose as _expose
from instructkit._ray import convert, mix, write_parquet

__all__ = ["convert", "mix", "write_parquet"]

_expose(__name__, convert, mix, write_parquet)
