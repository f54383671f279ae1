"""``str.translate`` of a whole batch of texts at once, with numpy, for a table that maps each character on its own
(the token counter's normalised, pre-tokenised form of a character, :class:`app.signals.size._Chars`).

Why: ``str.translate`` with a dict looks each character up in the dict and appends its form one at a time; on
realmix's short documents that was about a third of the ``size`` family's time. Here each distinct code point of
a batch is looked up once (a dense array of 0x110000 form ids remembers it), and the mapped batch is assembled
from the forms' code points with array operations. The result is the same string as translating each text
(the form of a character does not depend on its neighbours: the table is per character).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_CODES = 0x110000
#: Forms remembered before the arrays are reset (bounded memory: one string per distinct code point at most).
_MAX_FORMS = 200_000


class CharArrays:
    """The forms of ``table`` (``{code point: str}``, filling itself on a miss like :class:`dict` with
    ``__missing__``) as arrays: each code point's form id, and each form's code points, start and length."""

    def __init__(self, table: Mapping[int, str], reserved: list[str], marker: str) -> None:
        self.table = table
        self.reserved = list(reserved)  # forms with fixed ids 0, 1, ... (not code points' forms)
        self.marker = marker  # ``marked[id]``: the form holds this character
        self._reset()

    def _reset(self) -> None:
        self.ids = np.full(_CODES, -1, dtype=np.int32)
        self.forms: list[str] = []
        self.flat = np.zeros(0, dtype=np.uint32)
        self.start = np.zeros(0, dtype=np.int64)
        self.length = np.zeros(0, dtype=np.int64)
        self.marked = np.zeros(0, dtype=bool)
        self._add_forms(self.reserved)

    def _add_forms(self, forms: list[str]) -> np.ndarray:
        first = len(self.forms)
        self.forms.extend(forms)
        cps = [np.frombuffer(f.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) for f in forms]
        lens = np.fromiter(map(len, cps), dtype=np.int64, count=len(cps))
        self.start = np.concatenate([self.start, len(self.flat) + np.cumsum(lens) - lens])
        self.length = np.concatenate([self.length, lens])
        self.marked = np.concatenate([self.marked, np.array([self.marker in f for f in forms], dtype=bool)])
        self.flat = np.concatenate([self.flat, *cps]) if cps else self.flat
        return np.arange(first, first + len(forms), dtype=np.int32)

    def lookup(self, cp: np.ndarray) -> np.ndarray:
        """The form id of every code point of ``cp`` (uint32), looking up the ones not seen before."""
        ids = self.ids[cp]
        missing = ids < 0
        if missing.any():
            new = np.unique(cp[missing])
            if len(self.forms) + len(new) > _MAX_FORMS:
                self._reset()
                new = np.unique(cp)
            self.ids[new] = self._add_forms([self.table[c] for c in new.tolist()])
            ids = self.ids[cp]
        return ids

    def assemble(self, ids: np.ndarray) -> str:
        """The concatenated forms of ``ids``, as one string."""
        lens = self.length[ids]
        total = int(lens.sum())
        if not total:
            return ""
        nonzero = lens > 0
        ids, lens = ids[nonzero], lens[nonzero]
        # output character k of the form at position j comes from start[id_j] + (k - where that form begins)
        ends = np.cumsum(lens)
        src = np.arange(total, dtype=np.int64) + np.repeat(self.start[ids] - (ends - lens), lens)
        return self.flat[src].tobytes().decode("utf-32-le", "surrogatepass")
