"""Settings we recommend from the host's RAM and swap, each with the numbers behind it.

mailcow's own generator uses the same thresholds (ClamAV off at <= 2.5 GiB; Solr off at <= 2 GiB, which
it forces, and suggested at <= 3.5 GiB). A host without swap has less room for a memory peak, so the
recommended thresholds are compared with RAM minus NO_SWAP_PENALTY there, and the reason says so.
Nothing is applied silently: a forced value carries `forced=True` and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcow_wizard.probes.resources import MemInfo

GIB = 1024 ** 3
MIB = 1024 ** 2
CLAMD_MAX = int(2.5 * GIB)
SOLR_FORCED_MAX = 2 * GIB
SOLR_RECOMMENDED_MAX = int(3.5 * GIB)
FTS_MAX = int(2.5 * GIB)
NO_SWAP_PENALTY = 512 * MIB
"""Without swap a short memory peak kills a container instead of slowing it down."""


@dataclass(frozen=True)
class Recommendation:
    """A value we suggest (or force) for one key, and why."""

    key: str
    value: str
    reason: str
    forced: bool = False


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def recommend(mem: MemInfo | None, generation: str) -> list[Recommendation]:
    """Recommendations for `generation` ("current"/"2020") on a host with `mem` (None: RAM unknown)."""
    if mem is None:
        return []
    total = mem.total_bytes
    no_swap = mem.swap_total_bytes == 0
    budget = max(0, total - NO_SWAP_PENALTY) if no_swap else total
    swap_note = (f"; no swap, so we count {_gib(budget)} ({NO_SWAP_PENALTY // MIB} MiB less, our rule) "
                 "because a memory peak would kill a container" if no_swap
                 else f"; swap {_gib(mem.swap_total_bytes)}")
    ram = f"RAM {_gib(total)}{swap_note}"
    recs: list[Recommendation] = []
    if budget <= CLAMD_MAX:
        recs.append(Recommendation(
            "SKIP_CLAMD", "y", f"{ram}; mailcow's own rule: at or below {_gib(CLAMD_MAX)} ClamAV "
            "(about 1 GiB by itself) leaves too little for the rest"))
    if generation == "2020":
        if total <= SOLR_FORCED_MAX:
            recs.append(Recommendation(
                "SKIP_SOLR", "y", f"forced (mailcow's rule): RAM {_gib(total)} is at or below "
                f"{_gib(SOLR_FORCED_MAX)}, where Solr refuses to start", forced=True))
        elif budget <= SOLR_RECOMMENDED_MAX:
            recs.append(Recommendation(
                "SKIP_SOLR", "y", f"{ram}; mailcow's own rule: at or below {_gib(SOLR_RECOMMENDED_MAX)} "
                "Solr's Java heap crowds out the other containers"))
    elif budget <= FTS_MAX:
        recs.append(Recommendation(
            "SKIP_FTS", "y", f"{ram}; our rule (mailcow's generator asks nothing here): at or below "
            f"{_gib(FTS_MAX)} the full-text indexer competes with the mail services for memory"))
    return recs
