"""Decontamination signals: how much of which registered benchmark each document contains.

Corpus scope: it needs the workspace's registered benchmarks (``winnow decontam add``), indexes their word
n-grams once (:class:`app.decontam.index.BenchIndex`) and streams every document past the index in
batches. Besides the per-document columns it writes ``_decon_matches`` (document id, benchmark, item id,
overlap, near_jaccard) for every document-item pair at ``decon_hits`` overlap or more -- what a per-benchmark
count or a side-by-side view reads. With no benchmark registered every document gets 0 / 0.0 / ''.

Near matches (option ``near``, a Jaccard threshold, else the workspace's ``winnow decontam ... --near``
setting; :mod:`app.decontam.near`): ``decon_near_jaccard`` is each document's best MinHash Jaccard estimate
with a benchmark text among its LSH candidates (0 without a candidate; NULL when near matching is off), and
an item at the threshold counts in ``decon_hits`` / ``decon_benchmarks`` like an overlap hit; its
``_decon_matches`` row has ``near_jaccard`` set (and, when only the near match found it, the estimate as
``overlap``).

The engine's fingerprint does not see the benchmarks, so ``winnow decontam add|remove|run`` recompute this
family (force); ``winnow score`` recomputes it when the documents change.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.decontam.index import DEFAULT_N, HIT_OVERLAP
from app.decontam.near import DEFAULT_NEAR
from app.signals.base import Scorer, register
from app.sql import qi

MATCHES = "_decon_matches"
BATCH = 2048


@register
class Decontam(Scorer):
    name = "decontam"
    version = 2
    scope = "corpus"
    description = "benchmark contamination: normalised word n-gram overlap with registered benchmarks"
    columns: ClassVar[dict[str, str]] = {
        "decon_hits": "BIGINT",
        "decon_max_overlap": "DOUBLE",
        "decon_benchmarks": "VARCHAR",
        "decon_near_jaccard": "DOUBLE",
    }
    docs: ClassVar[dict[str, str]] = {
        "decon_hits": f"benchmark items matched (count; an item matches when at least {HIT_OVERLAP:g} of its word {DEFAULT_N}-grams, after folding case, punctuation, whitespace and NFKC, occur in the document; items under {DEFAULT_N} words only as the whole document)",
        "decon_max_overlap": "largest fraction (0-1) of one benchmark item's normalised word n-grams found in the document",
        "decon_benchmarks": "comma-separated names of the benchmarks with a matched item ('' = none)",
        "decon_near_jaccard": f"with `winnow decontam run --near [J]`: best estimated Jaccard (MinHash, word 5-gram shingles of the normalised text) with one benchmark text; at J (default {DEFAULT_NEAR:g}) or more the item counts in decon_hits (NULL when near matching is off)",
    }

    def fingerprint(self) -> str:
        near = self.options.get("near")
        return f"{self.version}:n{self.options.get('n', DEFAULT_N)}:h{self.options.get('hit', HIT_OVERLAP)}:near{near}"

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        import pyarrow as pa

        from app.decontam.near import check_near, workspace_near
        from app.decontam.parallel import match_batches
        from app.decontam.store import ensure_tables, load_index

        ensure_tables(con)
        near = self.options.get("near")
        near = workspace_near(con) if near is None else check_near(near)
        index, items = load_index(
            con, n=int(self.options.get("n", DEFAULT_N)), hit=float(self.options.get("hit", HIT_OVERLAP)), near=near
        )
        cols = ", ".join(f"{qi(c)} {t}" for c, t in self.columns.items())
        con.execute(f"CREATE OR REPLACE TABLE {qi(dest)} (id VARCHAR, {cols})")
        con.execute(
            f"CREATE OR REPLACE TABLE {MATCHES} (id VARCHAR, benchmark VARCHAR, item_id VARCHAR, overlap DOUBLE, near_jaccard DOUBLE)"
        )
        total = con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
        if not items:  # nothing to match: every document is clean
            con.execute(
                f"INSERT INTO {qi(dest)} SELECT id, 0, 0.0, '', {'0.0' if near is not None else 'NULL'} FROM docs"
            )
            return int(total)
        stage = "decontamination"
        if progress:
            progress(0, total, stage)
        reader = con.cursor().sql("SELECT id, coalesce(text, '') FROM docs").to_arrow_reader(BATCH)
        writer = con.cursor()
        done = 0
        try:
            batches = ((rb.column(0).to_pylist(), rb.column(1).to_pylist()) for rb in reader)
            # the index is small next to the corpus: worker processes get a copy each and match batches
            for ids, m in match_batches(index, batches, workers=max(1, int(workers or 1))):
                nj = pa.nulls(len(ids), pa.float64()) if m.near_jaccard is None else pa.array(m.near_jaccard)
                writer.register("_dc_batch", pa.table({"id": ids, "decon_hits": m.hits, "decon_max_overlap": m.max_overlap,
                                                        "decon_benchmarks": m.benchmarks, "decon_near_jaccard": nj}))  # fmt: skip
                writer.execute(f"INSERT INTO {qi(dest)} SELECT * FROM _dc_batch")
                writer.unregister("_dc_batch")
                if m.pairs:
                    pt = pa.table({"id": [ids[d] for d, _, _ in m.pairs], "benchmark": [items[i][0] for _, i, _ in m.pairs],
                                   "item_id": [items[i][1] for _, i, _ in m.pairs], "overlap": [o for _, _, o in m.pairs],
                                   "near_jaccard": pa.array([m.near.get((d, i)) for d, i, _ in m.pairs], pa.float64())})  # fmt: skip
                    writer.register("_dc_pairs", pt)
                    writer.execute(f"INSERT INTO {MATCHES} SELECT * FROM _dc_pairs")
                    writer.unregister("_dc_pairs")
                done += len(ids)
                if progress:
                    progress(done, total, stage)
        finally:
            writer.close()
        return done
