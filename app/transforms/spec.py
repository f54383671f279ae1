"""The recipe's ``transforms:`` section: cleaning steps applied to every exported document, in order.

::

    transforms:
      steps:
        - normalize                                  # a name, default options
        - {c4_lines: {min_words: 3}}                 # a name with options
        - {pii_redact: {kinds: [email, ip]}}
      score: cleaned                                 # or raw (default)
      segmentation: datatrove                        # or aware (default); needs score: cleaned

A bare list is read as ``steps`` with ``score: raw``. ``score: raw`` selects documents on the signals of the
text as ingested and only rewrites the exported text; ``score: cleaned`` computes the signals the recipe
reads on the cleaned text, so a chained pipeline (C4 line removal, then FineWeb rules) selects as the real
pipeline does. :class:`Pipeline` runs the steps; :class:`Stats` counts, per step, the documents it changed and
the characters it removed (net: a redaction placeholder can be longer than what it replaces), and keeps a few
before/after examples (the smallest ids, so every export path keeps the same ones).

``segmentation`` picks how words and sentences are segmented wherever the section recomputes something: the
signals computed on the cleaned text (every family that takes the option: ``c4``, ``fineweb``, ``gopher_*``,
``quality``) and the steps that take a ``segmentation`` option of their own (``c4_lines``, ``line_filter``; a
step's own option wins). ``aware`` (default) counts letters of scripts written without spaces as words and ends sentences at
``。！？``; ``datatrove`` is DataTrove's English tokenisation everywhere, so a chain such as C4 line removal then
FineWeb rules keeps what DataTrove's chain keeps on every document, Chinese prose included. It lives here rather
than as a recipe-wide option because it only takes effect where the section recomputes the signals: with
``score: raw`` a workspace export reads the signals as stored, so ``datatrove`` there is refused (one line) rather
than applied by headless apply alone.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field
from typing import Any

from app.errors import RecipeError
from app.signals._text import MODES
from app.transforms.base import OptionError, Transform, get_transform, load_all

SCORE = ("raw", "cleaned")
#: the default segmentation (the signals' own default), written down only when another is chosen
AWARE = "aware"
_KEYS = {"steps", "score", "segmentation"}
#: most steps a recipe may chain (a recipe is a small document)
MAX_STEPS = 32
#: before/after examples kept for the manifest and the report, and the characters kept of each side
EXAMPLES = 3
EXAMPLE_CHARS = 600


@dataclass(frozen=True)
class Step:
    """One step: a registered transform's name and the options the recipe gave (defaults left out)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_item(self) -> str | dict[str, Any]:
        return {self.name: dict(self.options)} if self.options else self.name


@dataclass
class Transforms:
    """The parsed section: the steps in order, which text the signals are computed on, and the segmentation
    of what the section recomputes."""

    steps: list[Step]
    score: str = "raw"
    segmentation: str = AWARE

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_item() for s in self.steps], "score": self.score}
        if self.segmentation != AWARE:  # the default is left out (recipes written before it read the same)
            out["segmentation"] = self.segmentation
        return out

    @property
    def cleaned_scoring(self) -> bool:
        return self.score == "cleaned"

    def pipeline(self) -> Pipeline:
        """The steps as transform objects (options already checked when the recipe was parsed); a step that
        takes a ``segmentation`` option and was not given one gets the section's."""
        return Pipeline([get_transform(s.name)(**self._options(s)) for s in self.steps])

    def _options(self, step: Step) -> dict[str, Any]:
        if self.segmentation == AWARE or "segmentation" in step.options:
            return dict(step.options)
        if "segmentation" not in get_transform(step.name).defaults:
            return dict(step.options)
        return {**step.options, "segmentation": self.segmentation}

    def signal_options(self, families: list[str]) -> dict[str, dict[str, Any]] | None:
        """``score_texts``'s ``options`` for the signals computed on the cleaned text: the section's
        segmentation for each of ``families`` that takes one (None: the families' defaults)."""
        if self.segmentation == AWARE or not self.cleaned_scoring:
            return None
        return {f: {"segmentation": self.segmentation} for f in families if takes_segmentation(f)} or None

    def digest(self) -> str:
        """A short hash of the steps, their versions and every option (what the cleaned text depends on), and
        of the segmentation the signals are computed with."""
        desc = self.pipeline().describe()
        key: list[Any] = [desc, self.score]
        if self.segmentation != AWARE:  # digests of recipes written before the option stay as they were
            key.append(self.segmentation)
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


_TAKES: dict[str, bool] = {}


def takes_segmentation(family: str) -> bool:
    """Whether signal family ``family`` has a ``segmentation`` option: its fingerprint (what its values depend
    on besides the text) changes with it. Asked of the scorer itself, so a family that gains the option is
    covered without a list here."""
    if family not in _TAKES:
        from app.signals.base import get_scorer

        cls = get_scorer(family)
        try:
            _TAKES[family] = cls(segmentation="datatrove").fingerprint() != cls().fingerprint()
        except Exception:  # a scorer that refuses the option (or cannot start) does not take it
            _TAKES[family] = False
    return _TAKES[family]


class Pipeline:
    """Transforms applied one after the other; :meth:`apply` is pure, :meth:`run` also counts."""

    def __init__(self, transforms: list[Transform]):
        self.transforms = transforms

    def apply(self, text: str | None) -> str | None:
        """The cleaned text (None stays None: a document without text has nothing to clean)."""
        if text is None:
            return None
        for t in self.transforms:
            text = t.apply(text)
        return text

    def run(self, texts: list[Any], *, ids: list[Any] | None = None, stats: Stats | None = None) -> list[Any]:
        """:meth:`apply` to each text, adding each step's effect to ``stats`` (with ``ids`` for examples)."""
        out = []
        for i, text in enumerate(texts):
            if text is None or stats is None:
                out.append(self.apply(text))
                continue
            cur = text
            for k, t in enumerate(self.transforms):
                new = t.apply(cur)
                stats.step(k, cur, new)
                cur = new
            stats.doc(ids[i] if ids is not None else i, text, cur)
            out.append(cur)
        return out

    def describe(self) -> list[dict[str, Any]]:
        return [t.describe() for t in self.transforms]


class Stats:
    """Counts of what the transforms did to the exported documents (order-independent, so every path that
    exports the same documents reports the same numbers)."""

    def __init__(self, n_steps: int):
        self.docs = 0
        self.changed = 0
        self.chars_before = 0
        self.chars_after = 0
        self.step_changed = [0] * n_steps
        self.step_removed = [0] * n_steps
        self._examples: list[tuple[Any, str, str]] = []  # a max-heap on id (negated) of the smallest ids

    def step(self, k: int, before: str, after: str) -> None:
        if after != before:
            self.step_changed[k] += 1
            self.step_removed[k] += len(before) - len(after)

    def doc(self, doc_id: Any, before: str, after: str) -> None:
        self.docs += 1
        self.chars_before += len(before)
        self.chars_after += len(after)
        if after == before:
            return
        self.changed += 1
        key = str(doc_id)
        item = (_Neg(key), before[:EXAMPLE_CHARS], after[:EXAMPLE_CHARS])
        if len(self._examples) < EXAMPLES:
            heapq.heappush(self._examples, item)
        elif key < self._examples[0][0].key:
            heapq.heapreplace(self._examples, item)

    def examples(self) -> list[dict[str, Any]]:
        """Up to :data:`EXAMPLES` changed documents (smallest ids), each side cut to :data:`EXAMPLE_CHARS`."""
        rows = sorted(self._examples, key=lambda e: e[0].key)
        return [{"id": e[0].key, "before": e[1], "after": e[2]} for e in rows]


class _Neg:
    """A string ordered backwards (a heap of the smallest ids keeps the largest on top)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __lt__(self, other: _Neg) -> bool:
        return self.key > other.key


def manifest_entry(spec: Transforms, stats: Stats, *, rescored: list[str] | None = None) -> dict[str, Any]:
    """The export manifest's ``transforms`` block: every step with its version and options, the counts over the
    exported documents, and (``score: cleaned``) the signal families computed on the cleaned text."""
    desc = spec.pipeline().describe()
    return {
        "score": spec.score,
        "segmentation": spec.segmentation,
        **({"rescored_families": sorted(rescored)} if spec.cleaned_scoring and rescored is not None else {}),
        "steps": [
            {**d, "docs_changed": stats.step_changed[k], "chars_removed": stats.step_removed[k]}
            for k, d in enumerate(desc)
        ],
        "docs": stats.docs,
        "docs_changed": stats.changed,
        "chars_before": stats.chars_before,
        "chars_after": stats.chars_after,
        "chars_removed": stats.chars_before - stats.chars_after,
        "examples": stats.examples(),
    }


# ---------------------------------------------------------------------- parsing (the recipe's validator ``v``)
def parse(d: Any, v: Any, path: tuple) -> Transforms:
    """Validate the section (``v``: the recipe builder, whose errors name the YAML line and field)."""
    if isinstance(d, list):
        d = {"steps": d}
    if not isinstance(d, dict):
        raise v.fail(path, "expected a mapping like {steps: [normalize, c4_lines], score: cleaned}")
    v._keys(d, _KEYS, path)
    score = d.get("score", "raw")
    if score not in SCORE:
        raise v.fail((*path, "score"), f"expected one of {', '.join(SCORE)}, got {score!r}")
    seg = d.get("segmentation", AWARE)
    if seg not in MODES:
        raise v.fail((*path, "segmentation"), f"expected one of {', '.join(MODES)}, got {seg!r}")
    if seg != AWARE and score != "cleaned":
        raise v.fail(
            (*path, "segmentation"),
            f"{seg} needs score: cleaned (with score: raw the rules read the signals as stored); "
            "or set it on the step, e.g. {c4_lines: {segmentation: datatrove}}",
        )
    items = d.get("steps")
    if not isinstance(items, list) or not items:
        raise v.fail((*path, "steps"), "expected a non-empty list of transforms, e.g. [normalize, c4_lines]")
    if len(items) > MAX_STEPS:
        raise v.fail((*path, "steps"), f"{len(items)} steps; at most {MAX_STEPS}")
    known = load_all()
    steps = []
    for i, item in enumerate(items):
        where = (*path, "steps", i)
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, options = next(iter(item.items()))
            options = {} if options is None else options
            if not isinstance(options, dict):
                raise v.fail((*where, name), f"expected a mapping of options, got {options!r}")
        else:
            raise v.fail(where, "a step is a transform name or {name: {options}}, e.g. {c4_lines: {min_words: 3}}")
        if name not in known:
            import difflib

            near = difflib.get_close_matches(str(name), sorted(known), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(sorted(known))})"
            raise v.fail(where, f"unknown transform {name!r}{hint}")
        try:
            t = known[name](**options)
        except OptionError as e:
            raise v.fail((*where, name, e.option), e.detail) from e
        except RecipeError as e:
            raise v.fail((*where, name), str(e)) from e
        given = t.given_options()
        if "segmentation" in options:  # written down even when it is the default: it wins over the section's
            given["segmentation"] = t.options["segmentation"]
        steps.append(Step(name, given))
    return Transforms(steps, score, seg)
