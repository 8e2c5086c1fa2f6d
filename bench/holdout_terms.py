"""Term families of the second evaluation set (see `bench/make_holdout.py`): disguised terms, and
words that are innocent alone but insults when aimed at someone; each with innocent look-alikes.

The category of a term (vulgar, sexual, insult) is this file's reading; `bench.policy_quality` counts
a term row as caught when any term is reported, whatever category the lexicon gives it.
"""

from __future__ import annotations

import random

from bench.holdout_pii import Row, row

FR_WORDS = {"merdique": "vulgar", "enfoirés": "insult", "connards": "insult", "salopard": "insult",
            "branleur": "insult", "couillon": "vulgar", "emmerdeur": "vulgar", "pouffiasse": "insult",
            "putain": "vulgar", "chiottes": "vulgar", "niquer": "vulgar", "enculer": "insult",
            "trouduc": "vulgar", "nichons": "sexual", "merde": "vulgar", "pute": "insult",
            "bite": "sexual", "chier": "vulgar"}  # fmt: skip
EN_WORDS = {"shitty": "vulgar", "dickhead": "insult", "wanker": "insult", "twat": "vulgar",
            "cunt": "vulgar", "slut": "insult", "whore": "insult", "bollocks": "vulgar", "arse": "vulgar",
            "piss": "vulgar", "bullshit": "vulgar", "dumbass": "insult", "fucking": "vulgar",
            "shit": "vulgar", "fuck": "vulgar", "bitch": "insult", "asshole": "insult", "tits": "sexual"}  # fmt: skip
# Letters that look Latin in common fonts though Unicode's confusables table may not say so.
CYRILLIC = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "u": "ц", "x": "х", "y": "у", "i": "і",
            "s": "ѕ", "k": "к", "h": "һ", "d": "ԁ", "j": "ј", "b": "ь", "n": "п", "t": "т"}  # fmt: skip
DIGITS = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "b": "8", "g": "9", "l": "1"}
MASKS = ["*", "#", "@", "%", "$", "!", "_"]
SEPARATORS = [".", " ", "-", "_", "·", "..", " . "]

FR_CARRY = ["@{h} franchement {x}, pardon pour l'attente", "Le client nous a écrit : {x}",
            "{x}, le colis est encore reparti au dépôt…", "Désolée, c'est {x} ce retard ^{s}",
            "@{h} {x} de livreur, on le signale", "Il a répondu « {x} » au conseiller"]  # fmt: skip
EN_CARRY = ["@{h} honestly {x}, sorry for the wait", "The customer wrote: {x}",
            "{x}, the parcel went back to the depot again…", "Sorry, this delay is {x} ^{s}",
            "@{h} {x} courier, we're reporting it", "He replied '{x}' to the agent"]  # fmt: skip


def _cyrillic(rng: random.Random, word: str) -> str:
    spots = [i for i, c in enumerate(word) if c in CYRILLIC]
    chosen = rng.sample(spots, k=rng.randrange(1, len(spots) + 1)) if spots else []
    return "".join(CYRILLIC[c] if i in chosen else c for i, c in enumerate(word))


def _digits(rng: random.Random, word: str) -> str:
    spots = [i for i, c in enumerate(word) if c in DIGITS]
    chosen = rng.sample(spots, k=rng.randrange(1, len(spots) + 1)) if spots else []
    return "".join(DIGITS[c] if i in chosen else c for i, c in enumerate(word))


def _spread(rng: random.Random, word: str) -> str:
    return rng.choice(SEPARATORS).join(word)


def _mask(rng: random.Random, word: str) -> str:
    middle = list(range(1, len(word) - 1))
    chosen = rng.sample(middle, k=1 if len(word) <= 5 else rng.choice([1, 1, 2]))  # still readable
    mask = rng.choice(MASKS)
    return "".join(mask if i in chosen else c for i, c in enumerate(word))


DISGUISES = {"cyrillic": _cyrillic, "digits": _digits, "spread": _spread, "mask": _mask}
COMBINATIONS = [("cyrillic", "spread"), ("digits", "spread"), ("cyrillic", "digits"), ("mask", "cyrillic")]


def disguise(rng: random.Random, word: str) -> tuple[str, str]:
    """`word` hidden one way or two (the spreading last, so it spreads the other disguise)."""
    ways: list[str]
    if rng.random() < 0.3:
        ways = sorted(rng.choice(COMBINATIONS), key=lambda w: w == "spread")
    else:
        ways = [rng.choice(list(DISGUISES))]
    for way in ways:
        word = DISGUISES[way](rng, word)
    if "cyrillic" not in ways and rng.random() < 0.2:
        word = word.upper()
    return word, "+".join(ways)


def _carry(rng: random.Random, lang: str, x: str) -> str:
    handle = rng.choice(["lea_m", "tom.b", "Kenza93", "jdoe_uk", "MrsPatel", "nico_bzh"]).replace(".", "_")
    initials = rng.choice(["AL", "JM", "SK", "RB"])
    return rng.choice(FR_CARRY if lang == "fr" else EN_CARRY).format(h=handle, s=initials, x=x)


def disguise_rows(rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for lang, words in (("fr", FR_WORDS), ("en", EN_WORDS)):
        names = sorted(words)
        for i in range(140):
            word = names[i % len(names)]
            hidden, how = disguise(rng, word)
            rows.append(row(_carry(rng, lang, hidden), [words[word]], f"{lang} {how}"))
    for lang, innocents in (("fr", INNOCENT_FR), ("en", INNOCENT_EN)):
        for _ in range(110):
            rows.append(row(_innocent_disguised(rng, lang, innocents), [], f"{lang} innocent look-alike"))
    return rows


# Innocent words that share letters, places or shapes with listed terms.
INNOCENT_FR = ["consigne", "salopette", "connaissance", "pétanque", "Puteaux", "Condom", "Montcuq",
               "Sexey-les-Bois", "bitume", "déconseillé", "bassine", "compteur", "chiffon", "Niort",
               "merci", "commande", "colis", "retour", "facture", "conseiller", "cuisine", "Conches"]  # fmt: skip
INNOCENT_EN = ["peacock", "Hitchcock", "assignment", "passion", "bass", "Dickson", "analytics",
               "Cumbernauld", "Titan", "grass", "cockpit", "button", "shiitake", "scrap", "Arsenal",
               "thanks", "order", "refund", "parcel", "account", "cheers", "sorted"]  # fmt: skip
ACRONYMS = ["S.N.C.F.", "R.A.T.P.", "T.G.V.", "U.S.A.", "B.N.P.", "S.A.V.", "F.A.Q.", "O K",
            "S O S", "A-B-C", "Q&A"]  # fmt: skip
CODES = ["b2b", "4G", "5G", "A380", "B52", "T3", "k8s", "i18n", "w3c", "e30", "M3", "Ce1", "R2D2", "b12"]


def _innocent_disguised(rng: random.Random, lang: str, innocents: list[str]) -> str:
    word = rng.choice(innocents)
    choice = rng.randrange(5)
    if choice == 0:
        x = _cyrillic(rng, word)
    elif choice == 1:
        x = rng.choice(ACRONYMS)
    elif choice == 2:
        x = rng.choice(CODES)
    elif choice == 3:
        x = word if rng.random() < 0.5 else word.upper()
    else:
        x = "Спасибо" if lang == "en" else rng.choice(["Дмитрий", "Ольга", "спасибо"])
    frame = {
        "fr": ["@{h} pour « {x} », voyez la page d'aide ^{s}", "Le mot {x} apparaît sur l'étiquette, c'est normal.",
               "{x} : c'est noté, on revient vers vous.", "Votre message mentionnait {x}, merci pour la précision."],
        "en": ["@{h} for '{x}', see the help page ^{s}", "The word {x} is on the label, that's expected.",
               "{x}: noted, we'll be back to you.", "Your message mentioned {x}, thanks for clarifying."],
    }[lang]  # fmt: skip
    return rng.choice(frame).format(h="client_" + str(rng.randrange(100, 999)), s="AL", x=x)


# --- insults that depend on context ------------------------------------------------------------

FR_NOUNS = ["blaireau", "dinde", "thon", "courge", "gland", "buse", "veau", "porc", "cochon", "rat",
            "chien", "mouton", "larve", "vipère", "cornichon", "nouille", "âne", "patate", "clown",
            "poireau", "charlot", "chameau"]  # fmt: skip
EN_NOUNS = ["donkey", "clown", "lemon", "pig", "rat", "snake", "cow", "melon", "walnut", "plank", "potato",
            "turkey", "weasel", "toad", "worm", "sheep", "dog", "baboon", "parasite", "rodent", "goose", "ferret"]  # fmt: skip
FEMININE = {"dinde", "courge", "buse", "larve", "vipère", "nouille", "patate"}
FR_AIMED = ["espèce {de}{w}", "sale {w}", "bande {de}{p}", "espèce de {gros} {w}", "sale {petit} {w}"]
FR_SURNAMES = ["Poireau", "Mouton", "Cochon", "Charlot", "Lapin", "Poulet"]  # real family names
EN_AIMED = ["you {w}", "you absolute {w}", "you {p}", "shut it, you {w}", "you stupid {w}"]
EN_WTF = ["what the fork", "what the duck", "what the frick", "what the shirt", "what the fudge"]
EN_PLURALS = {"sheep": "sheep", "goose": "geese"}


def _aimed_phrase(rng: random.Random, lang: str) -> str:
    if lang == "en":
        if rng.random() < 0.2:
            return rng.choice(EN_WTF)
        word = rng.choice(EN_NOUNS)
        return rng.choice(EN_AIMED).format(w=word, p=EN_PLURALS.get(word, word + "s"))
    word = rng.choice(FR_NOUNS)
    feminine = word in FEMININE
    return rng.choice(FR_AIMED).format(
        w=word,
        p=word + ("x" if word.endswith("eau") else "s"),
        de="d'" if word[0] in "aâeéèiou" else "de ",
        gros="grosse" if feminine else "gros",
        petit="petite" if feminine else "petit",
    )


def _aimed(rng: random.Random, lang: str) -> str:
    frames = {
        "fr": ["{x} !", "Non mais {x}, on vous a dit mardi.", "@{h} {x}, lisez le mail.",
               "Il a écrit « {x} » et on lui a répondu poliment.", "{x}… c'est pas possible"],
        "en": ["{x}!", "Listen, {x}, we told you Tuesday.", "@{h} {x}, read the email.",
               "He wrote '{x}' and we answered politely.", "{x}... unbelievable"],
    }[lang]  # fmt: skip
    phrase = _aimed_phrase(rng, lang)
    if phrase.startswith("what the"):
        frames = [frames[0], frames[3], frames[4]]  # an exclamation, not a way to address someone
    return rng.choice(frames).format(x=phrase, h="k_" + str(rng.randrange(10, 99)))


INNOCENT_CONTEXT_FR = [
    "L'article « {w} » n'est pas livré, la photo montrait un {w} en peluche.",
    "C'est une espèce de boîte en carton, vous pouvez la recycler.",
    "Nous acceptons les paiements en espèces en magasin.",
    "Le blaireau est une espèce protégée, nous avons retiré l'article.",
    "Votre bande dessinée arrive demain avec le tome {n}.",
    "La bande-annonce du film est en ligne, bonne séance !",
    "Une bande de copains a commandé {n} places, on les a bien regroupées.",
    "Mettez le linge sale dans le filet avant le lavage.",
    "Quel sale temps pour les livraisons, merci de votre patience !",
    "M. {S} de notre agence de {c} vous rappelle.",
    "Le dessin animé « {W} et ses amis » est sorti en DVD.",
    "Le restaurant Au {W} Doré, à {c}, accepte nos chèques cadeaux.",
    "La bande passante est limitée entre {n} h et {m} h.",
    "Le {w} en chocolat fait partie de l'offre de Pâques, {n} € le lot.",
    "Notre recette du jour : {w} rôti, en vente à {c} jusqu'à {m} h.",
    "Vous êtes sur la liste d'attente pour le jeu « {W} Party », {n}e position.",
    "Le rayon sale/sucré du magasin de {c} a été réaménagé.",
    "Espèce, carte ou chèque : les {n} moyens de paiement sont acceptés à {c}.",
    "La bande de roulement du pneu mesure {n} mm, c'est conforme.",
    "Le livre « Une espèce de {w} » est en rupture, retour prévu sous {n} semaines.",
    "Vous pouvez laver la housse sale à {m} degrés maximum.",
    "Mme {S} vous a envoyé le devis à {m} h.",
    "Le parc animalier de {c} accueille un {w} et {n} chèvres, billets en ligne.",
    "Toute la bande du service client vous souhaite une belle journée !",
    "La photo du {w} sur la boîte est non contractuelle, désolés.",
]  # fmt: skip
INNOCENT_CONTEXT_EN = [
    "The {w} plush is out of stock; the catalogue photo showed a {w} toy.",
    "Thank you for the {w} photo, we're glad it arrived.",
    "You rock, thanks for the kind words!",
    "You legend, that photo really helped us.",
    "You star! The refund is on its way.",
    "Everything is on sale until Sunday, {n}% off.",
    "The house is for sale through our partner agency.",
    "What the courier told you is right: it's at the depot.",
    "What the app shows is the latest scan.",
    "The {W} & Whistle pub in {c} takes our vouchers.",
    "You can collect it from our {c} store after {n} pm.",
    "The film '{W} Island' is back in our catalogue.",
    "You will get a text when the driver is {n} stops away.",
    "The {w} costume is back in stock in sizes {n} to {m}.",
    "Our {c} farm shop sells {w}-shaped cookies, {n} for the price of {m}.",
    "You're on the waitlist for the '{W} Party' game, position {n}.",
    "Yard sale season: the {c} store has {n} racks on sale.",
    "You deserve better, and we'll make it right by {m}:00.",
    "What the driver wrote is in the app, timestamp {m}:0{n}.",
    "The book 'Diary of a {W}' ships in {n} weeks.",
    "Meet our {c} team mascot, a {w} called {S}!",
    "You did nothing wrong; the {w} print on the mug was a factory error.",
    "What the warranty covers is listed on page {n}.",
    "You guys are great, thanks for the patience in {c}.",
    "The petting zoo in {c} has a {w} and {n} goats; tickets online.",
]  # fmt: skip


def context_rows(rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for i in range(200):
        lang = "fr" if i % 2 else "en"
        rows.append(row(_aimed(rng, lang), ["insult"], f"{lang} aimed"))
    cities = ["Lyon", "Nantes", "Bristol", "Leeds", "Cork", "Lille", "Rennes", "Dundee", "Genève", "Galway"]
    for i in range(330):
        lang = "fr" if i % 2 else "en"
        nouns = FR_NOUNS if lang == "fr" else EN_NOUNS
        word = rng.choice(nouns)
        template = rng.choice(INNOCENT_CONTEXT_FR if lang == "fr" else INNOCENT_CONTEXT_EN)
        text = template.format(w=word, W=word.capitalize(), S=rng.choice(FR_SURNAMES), c=rng.choice(cities),
                               n=rng.randrange(2, 9), m=rng.randrange(10, 23))  # fmt: skip
        rows.append(row(text, [], f"{lang} innocent use"))
    return rows
