"""Write the small demo corpus that ships with Winnow (``sample.jsonl`` and ``instruct.json``).

Every sentence here was written for this project; nothing is copied from a real corpus. The documents are
deliberately of mixed quality, so every signal has something to find: clean prose, navigation menus and
cookie banners, spam, documents made of one repeated line, short fragments, exact and near duplicates,
fake contact details (PII), a few non-English texts, and Alpaca-style instruction records.
Each web document carries a ``kind`` field saying what it was generated as (ground truth for the demo).

Run ``python -m app.sample.generate`` to rebuild the files (deterministic: same seed, same bytes).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240601

TOPICS = {
    "gardening": [
        "Tomatoes grow best when the soil stays evenly moist rather than soaked and then dry.",
        "A layer of mulch keeps weeds down and slows the loss of water on hot afternoons.",
        "Most herbs prefer a sunny spot and forgive the occasional missed watering.",
        "Compost made from kitchen scraps and fallen leaves feeds the soil for a whole season.",
        "Pruning fruit trees in late winter lets light reach the branches that will carry fruit.",
        "Beans fix nitrogen in their roots, which helps whatever is planted there the next year.",
        "Slugs come out after rain, so evening checks with a torch save many young lettuces.",
        "Raised beds warm up earlier in spring and drain well after heavy storms.",
    ],
    "astronomy": [
        "Jupiter is bright enough to find without a telescope on most clear nights of the year.",
        "The Moon always shows the same face to Earth because its rotation is locked to its orbit.",
        "A small pair of binoculars reveals craters along the line between day and night on the Moon.",
        "Meteor showers happen when Earth crosses the trail of dust left behind by a comet.",
        "Light from the nearest star beyond the Sun takes a little over four years to reach us.",
        "Saturn's rings are made of countless pieces of ice and rock, most smaller than a house.",
        "Observers let their eyes adapt to the dark for twenty minutes before looking for faint galaxies.",
        "The planets drift against the background stars, which is how ancient watchers told them apart.",
    ],
    "cooking": [
        "Salting pasta water generously is the easiest way to season the pasta itself.",
        "Onions cooked slowly over low heat turn sweet and golden after about forty minutes.",
        "Resting meat for a few minutes after roasting lets the juices settle back into it.",
        "A sharp knife is safer than a dull one because it needs less force to cut.",
        "Bread dough is ready to shape when a gentle press leaves a dent that springs back slowly.",
        "Toasting spices in a dry pan for a minute brings out oils and aroma.",
        "Lemon juice added at the end brightens a soup that tastes flat.",
        "Rice keeps its shape when it is rinsed first and left covered to steam off the heat.",
    ],
    "cycling": [
        "Checking tyre pressure once a week prevents most flat tyres on city rides.",
        "A chain that is cleaned and lightly oiled shifts more smoothly and lasts longer.",
        "Riders see better in winter with a bright front light and a steady red light behind.",
        "Climbing in a lower gear at a steady pace tires the legs less than standing early.",
        "Saddle height is right when the knee stays slightly bent at the bottom of the stroke.",
        "Brake pads wear faster in wet weather, so they deserve a look after rainy weeks.",
        "Long rides go better with small snacks every half hour rather than one big meal.",
        "Many cities now paint separate lanes that keep bicycles away from parked car doors.",
    ],
    "history": [
        "The old market hall in the town square was built with stone carried from a nearby quarry.",
        "Canals once carried coal and grain between towns before railways replaced them.",
        "Early printing shops often sold books, pamphlets and almanacs from the same counter.",
        "Windmills ground grain for villages long before steam engines arrived.",
        "Parish records kept births, marriages and deaths for centuries in handwritten ledgers.",
        "Lighthouse keepers lived beside their lamps and wrote the weather in a daily log.",
        "The first public libraries were funded by donations from local merchants and guilds.",
        "Bridges made of timber were replaced by iron ones as trains grew heavier.",
    ],
}

MENU_ITEMS = [
    "Home",
    "About us",
    "Products",
    "Services",
    "Blog",
    "Contact",
    "Careers",
    "Shop",
    "FAQ",
    "Login",
    "Sign up",
    "Privacy policy",
    "Terms of use",
    "Cookie settings",
    "Newsletter",
    "Sitemap",
]
COOKIE = [
    "We use cookies to improve your experience. By continuing you accept our use of cookies.",
    "Accept all cookies | Manage preferences | Reject",
    "This site uses cookies for analytics and personalised content.",
]
SPAM = [
    "BUY NOW!!! Best prices on watches, click here click here click here!!!",
    "Make money fast from home $$$ no experience needed $$$ limited offer",
    "cheap pills cheap pills cheap pills order today free shipping",
    "WIN WIN WIN a free phone just enter your details now!!!",
    "hot deals hot deals hot deals best deals best deals best deals",
]
FOREIGN = [
    ("de", "Der Garten braucht im Sommer jeden Abend etwas Wasser. Die Tomaten sind fast reif."),
    ("de", "Am Wochenende fahren wir mit dem Fahrrad an den See und machen ein Picknick."),
    ("fr", "Le marché ouvre tôt le samedi et les légumes sont très frais."),
    ("fr", "Nous avons regardé les étoiles toute la nuit depuis la colline."),
    ("es", "La sopa necesita un poco más de sal y un chorrito de limón al final."),
    ("es", "El puente antiguo se construyó con piedra del río cercano."),
    ("zh", "今天天气很好，我们去公园散步，看到了很多花。"),
    ("zh", "这家小店的面条很好吃，价格也不贵。"),
    ("nl", "De molen aan de rand van het dorp maalt nog steeds graan."),
    ("it", "Il pane fatto in casa ha un profumo meraviglioso appena sfornato."),
]
INSTRUCT = [
    (
        "Give three tips for keeping basil healthy indoors.",
        "",
        "Place it in a sunny window, water when the top of the soil feels dry, and pinch off flower buds.",
    ),
    ("Convert the temperature to Fahrenheit.", "25 degrees Celsius", "77 degrees Fahrenheit."),
    ("Rewrite the sentence in the past tense.", "The train leaves at noon.", "The train left at noon."),
    ("Name two planets that have rings.", "", "Saturn and Jupiter both have rings; Saturn's are far brighter."),
    ("Classify the food as a fruit or a vegetable.", "Carrot", "Vegetable."),
    (
        "Summarise the text in one sentence.",
        "Canals once carried coal and grain between towns. Railways later replaced them because they were faster.",
        "Railways replaced canals for carrying goods because they were faster.",
    ),
    ("Suggest a name for a neighbourhood cycling club.", "", "The Spoke and Chain Society."),
    ("Translate to French.", "The market opens early.", "Le marché ouvre tôt."),
    (
        "List the steps to fix a flat bicycle tyre.",
        "",
        "Remove the wheel, take out the tube, find and patch the hole, refit the tube and tyre, then inflate.",
    ),
    (
        "Explain why resting roast meat matters.",
        "",
        "Resting lets the juices settle so they stay in the meat instead of running onto the board.",
    ),
    (
        "Write a haiku about the Moon.",
        "",
        "Pale lamp over fields\none face turned toward us always\nquiet silver light",
    ),
    ("Correct the spelling.", "The libary was bilt by merchents.", "The library was built by merchants."),
]


def _prose(rng: random.Random, topic: str) -> str:
    other = rng.choice([t for t in TOPICS if t != topic])
    sents = rng.sample(TOPICS[topic], rng.randint(2, 4)) + rng.sample(TOPICS[other], rng.randint(1, 3))
    k = len(sents)
    paras = []
    while k > 0:
        n = min(k, rng.randint(2, 3))
        paras.append(" ".join(sents[:n]))
        sents = sents[n:] + sents[:n]
        k -= n
    return "\n\n".join(paras)


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    docs: list[dict] = []

    def add(kind: str, text: str, url: str, lang: str = "en") -> None:
        docs.append({"text": text, "url": url, "kind": kind, "lang_hint": lang})

    topics = list(TOPICS)
    for i in range(150):
        t = topics[i % len(topics)]
        add("clean", _prose(rng, t), f"https://{t}.example.org/articles/{i}")
    for i in range(40):
        items = rng.sample(MENU_ITEMS, rng.randint(6, 12))
        text = "\n".join(items)
        if rng.random() < 0.6:
            text += "\n" + rng.choice(COOKIE)
        add("boilerplate", text, f"https://shop{i % 7}.example.com/")
    for i in range(30):
        add("spam", " ".join(rng.choice(SPAM) for _ in range(rng.randint(2, 6))), f"http://deals{i}.example.net/")
    for i in range(15):
        line = rng.choice([s for v in TOPICS.values() for s in v])
        add("repeated_lines", "\n".join([line] * rng.randint(8, 20)), f"https://mirror.example.com/{i}")
    for i in range(15):
        add(
            "short",
            rng.choice(["Read more", "Page 2 of 9", "Loading...", "Click to expand", "Share this"]),
            f"https://fragments.example.com/{i}",
        )
    for i, (lang, text) in enumerate(FOREIGN):
        add("non_english", text, f"https://intl.example.org/{lang}/{i}", lang)
    for i in range(10):
        base = docs[i]["text"]
        add("exact_duplicate", base, f"https://copy.example.org/{i}")
    for i in range(10):
        sents = docs[20 + i]["text"].split(". ")
        sents[0] = sents[0].replace("the", "a", 1)
        add("near_duplicate", ". ".join(sents) + " Updated.", f"https://near.example.org/{i}")
    for i in range(15):
        name = rng.choice(["Alex", "Sam", "Robin", "Kim", "Jo"])
        add(
            "pii",
            f"Contact {name} at {name.lower()}{i}@example.com or call 555-01{i:02d}. "
            + _prose(rng, rng.choice(topics)).split("\n\n")[0],
            f"https://people.example.org/{i}",
        )
    rng.shuffle(docs)
    instruct = [{"instruction": a, "input": b, "output": c} for a, b, c in INSTRUCT]
    return docs, instruct


def main() -> None:
    docs, instruct = build()
    with open(HERE / "sample.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    (HERE / "instruct.json").write_text(json.dumps(instruct, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(docs)} web documents and {len(instruct)} instruction records to {HERE}")


if __name__ == "__main__":
    main()
