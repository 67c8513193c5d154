"""``gemmtune bench``: the tuned kernel against the default configuration, numpy's BLAS and the machine's peak.

``run`` measures and builds the document, ``report`` draws the table, ``files`` writes the
JSON and CSV, ``plot`` the figure. The timing protocol is ``gemmtune.measure``'s, the peak
``gemmtune.peak``'s.
"""

from __future__ import annotations

from .run import Workload, bench, compare, workloads_from_sizes

__all__ = ["Workload", "bench", "compare", "workloads_from_sizes"]
