"""Personal-data families of the second evaluation set (see `bench/make_holdout.py`).

Numbers are built with phonenumbers and python-stdnum so that a positive is what the checksum or the
numbering plan says it is, and each family carries innocent look-alikes that share its digits.
"""

from __future__ import annotations

import itertools
import random
import string
from typing import Any

import phonenumbers
from faker import Faker
from stdnum import iban, luhn
from stdnum.fr import nir

Row = dict[str, Any]

# Replies as care agents write them on X: a handle, a signature, sometimes a line break.
FR_SAY = [
    "@{h} Bonsoir, on a bien {x} dans la fiche, je transmets. ^{s}",
    "@{h} c'est noté : {x}. Un conseiller revient vers vous d'ici ce soir.",
    "Re-bonjour @{h}, vous nous indiquez {x}, est-ce bien cela ?",
    "@{h} Merci ! Je récapitule : {x}\nOn s'en occupe. {s}",
    "On reprend : {x} (c'est bien ce que vous avez envoyé ?) ^{s}",
]
EN_SAY = [
    "@{h} Evening! We've got {x} on the ticket now, passing it on. ^{s}",
    "@{h} noted: {x}. Someone from the team will be in touch later today.",
    "Hey again @{h}, you mentioned {x}, is that right?",
    "@{h} Cheers! Just to recap: {x}\nWe're on it. {s}",
    "Recapping: {x} (is that what you sent over?) ^{s}",
]
_NAMES = Faker(["fr_CH", "fr_CA", "en_IE", "en_AU"])
_NAMES.seed_instance(90_113)


def say(rng: random.Random, lang: str, x: str) -> str:
    """`x` inside a reply in `lang`, with a made-up handle and agent initials."""
    handle = _NAMES.user_name().replace(".", "_")[:15]
    initials = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    return rng.choice(FR_SAY if lang == "fr" else EN_SAY).format(h=handle, s=initials, x=x)


def row(text: str, expect: list[str], note: str, audience: str = "public") -> Row:
    return {
        "text": text,
        "audience": audience,
        "expect": expect,
        "kind": "positive" if expect else "negative",
        "note": note,
    }


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


# --- phone numbers -----------------------------------------------------------------------------

_FR_STARTS = ["1", "2", "3", "4", "5", "6", "7", "9"]
_DOM = ["262", "590", "594", "596", "692", "690", "694", "696", "639"]  # overseas, mainland-dialled
_US_AREAS = ["212", "305", "312", "415", "514", "604", "617", "713", "416", "206"]


def _valid(number: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(number, region)))
    except phonenumbers.NumberParseException:
        return False


def _fr_national(rng: random.Random) -> str:
    while True:
        number = "0" + rng.choice(_FR_STARTS) + digits(rng, 8)
        if _valid(number, "FR"):
            return number


def _pairs(number: str, sep: str) -> str:
    return sep.join(number[i : i + 2] for i in range(0, len(number), 2))


def _fr_written(rng: random.Random, number: str) -> tuple[str, str]:
    """A valid French number (0XXXXXXXXX) the way someone typed it, and how."""
    rest = number[1:]
    style = rng.choice(["bare", "pairs", "dots", "plus33", "00-33", "33", "plus33-0", "dash"])
    written = {
        "bare": number,
        "pairs": _pairs(number, " "),
        "dots": _pairs(number, "."),
        "dash": _pairs(number, "-"),
        "plus33": "+33 " + rest[0] + " " + _pairs(rest[1:], " "),
        "00-33": "0033" + rest if rng.random() < 0.5 else "00 33 " + rest[0] + " " + _pairs(rest[1:], " "),
        "33": "33" + rest,
        "plus33-0": "+33 (0)" + rest[0] + " " + _pairs(rest[1:], " "),
    }[style]
    return written, style


def phone_rows(rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for i in range(110):
        written, style = _fr_written(rng, _fr_national(rng))
        lang = "fr" if i % 3 else "en"
        lead = rng.choice(
            ["{}", "tél. {}", "le {}", "au {}"] if lang == "fr" else ["{}", "phone {}", "mobile: {}"]
        )
        rows.append(row(say(rng, lang, lead.format(written)), ["phone"], f"FR {style}"))
    for _ in range(30):  # North American numbers with the area code in parentheses
        while not _valid(number := rng.choice(_US_AREAS) + rng.choice("2345689") + digits(rng, 6), "US"):
            pass
        area, mid, end = number[:3], number[3:6], number[6:]
        written = rng.choice([f"({area}) {mid}-{end}", f"+1 ({area}) {mid} {end}", f"1-{area}-{mid}-{end}"])
        rows.append(row(say(rng, "en", f"call back on {written}"), ["phone"], "NANP parentheses"))
    for _ in range(20):  # UK numbers, national and +44
        number = rng.choice(["020 7946 0", "0161 496 0", "0117 496 0", "07700 900"]) + digits(rng, 3)
        written = number if rng.random() < 0.5 else "+44 " + number[1:]
        rows.append(row(say(rng, "en", f"ring {written}"), ["phone"], "UK drama range"))
    for _ in range(30):  # possible, not valid: overseas numbers dialled with +33, reserved ranges
        body = _possible_not_valid(rng)
        written = rng.choice(["+33 ", "0", "0033 "]) + body[0] + " " + _pairs(body[1:], " ")
        rows.append(row(say(rng, "fr", f"joignable au {written}"), ["phone"], "possible, not valid"))
    for _ in range(30):  # split across a line break
        written, style = _fr_written(rng, _fr_national(rng))
        cut = rng.choice([i for i, c in enumerate(written) if c == " "] or [len(written) // 2])
        written = written[:cut] + "\n" + written[cut:].lstrip()
        rows.append(row(say(rng, rng.choice(["fr", "en"]), written), ["phone"], f"line break {style}"))
    for i in range(170):
        rows.append(row(_number_look_alike(rng, "fr" if i % 2 else "en"), [], "numbers, not a phone"))
    return rows


def _possible_not_valid(rng: random.Random) -> str:
    """Nine digits after the French 0 that libphonenumber calls possible but not valid."""
    while True:
        body = rng.choice(_DOM) + digits(rng, 6) if rng.random() < 0.7 else "7" + digits(rng, 8)
        parsed = phonenumbers.parse("0" + body, "FR")
        if phonenumbers.is_possible_number(parsed) and not phonenumbers.is_valid_number(parsed):
            return body


def _number_look_alike(rng: random.Random, lang: str) -> str:
    day, month, year = rng.randrange(1, 29), rng.randrange(1, 13), rng.randrange(2019, 2028)
    hour, minute = rng.randrange(7, 22), rng.choice(["00", "15", "30", "45", "05"])
    euros = f"{rng.randrange(1, 5000)},{rng.randrange(100):02d} €"
    dollars = f"${rng.randrange(1, 3000):,}.{rng.randrange(100):02d}"
    if lang == "fr":
        choices = [
            f"Livraison prévue le {day:02d}/{month:02d}/{year} entre {hour}h{minute} et {hour + 2}h{minute}.",
            f"Le remboursement de {euros} part le {day:02d}.{month:02d}.{year}.",
            f"Notre agence du {rng.randrange(1, 20)}, rue {_NAMES.last_name()}, {rng.choice(['75011', '69003', '13008', '33000', '59800'])} est ouverte de 9 h à 18 h.",
            f"La mise à jour {rng.randrange(2, 19)}.{rng.randrange(10)}.{rng.randrange(30)} corrige le bug depuis le {year}-{month:02d}-{day:02d}.",
            f"Lot de {rng.randrange(2, 12)} x {rng.choice([250, 500, 750])} ml à {euros}, soit {rng.randrange(1, 60)} % de remise.",
            f"Horaires : lun.-ven. {hour}:{minute}-{hour + 8}:{minute}, sam. 9:00-12:30.",
            f"Entre {year - 3} et {year}, {rng.randrange(10_000, 9_999_999):,} clients ont utilisé ce service.".replace(",", " "),
        ]  # fmt: skip
    else:
        choices = [
            f"Your delivery is booked for {month:02d}/{day:02d}/{year} between {hour}:{minute} and {hour + 2}:{minute}.",
            f"The refund of {dollars} goes out on {year}-{month:02d}-{day:02d}.",
            f"Our store at {rng.randrange(1, 999)} {_NAMES.street_name()} is open {hour}:{minute}-{hour + 8}:{minute}.",
            f"Version {rng.randrange(2, 19)}.{rng.randrange(10)}.{rng.randrange(30)} fixed it on {day} {rng.choice(['Jan', 'Mar', 'Jun', 'Oct'])} {year}.",
            f"Pack of {rng.randrange(2, 12)} x {rng.choice([250, 500, 750])} ml for {dollars}, {rng.randrange(1, 60)}% off.",
            f"From {year - 3} to {year} we shipped {rng.randrange(10_000, 9_999_999):,} parcels.",
            f"Flight BA{rng.randrange(100, 999)} lands at {hour}:{minute}, gate {rng.randrange(1, 60)}.",
        ]  # fmt: skip
    return rng.choice(choices)


# --- references after a context word ----------------------------------------------------------

_FR_CONTEXT = ["commande n° {}", "commande {}", "numéro client : {}", "n° client {}", "dossier {}",
               "dossier n°{}", "contrat n° {}", "numéro de contrat {}", "suivi : {}", "numéro de suivi {}"]  # fmt: skip
_EN_CONTEXT = ["order #{}", "order number {}", "account {}", "account no. {}", "tracking {}",
               "tracking number {}", "your order {}", "customer account {}"]  # fmt: skip


def _reference(rng: random.Random) -> tuple[str, str]:
    letters = string.ascii_uppercase
    shapes = {
        "digits": lambda: digits(rng, rng.randrange(6, 11)),
        "prefixed": lambda: rng.choice(["C", "CL", "FR", "W", "AC", "SAV"]) + rng.choice(["", "-"]) + digits(rng, rng.randrange(5, 10)),
        "year": lambda: f"{rng.randrange(2020, 2027)}-{digits(rng, 6)}",
        "marketplace": lambda: f"{digits(rng, 3)}-{digits(rng, 7)}-{digits(rng, 7)}",
        "s10": lambda: rng.choice(letters) + rng.choice(letters) + digits(rng, 9) + rng.choice(["FR", "GB", "DE"]),
        "ups": lambda: "1Z" + "".join(rng.choice(letters + string.digits) for _ in range(16)),
        "colis": lambda: rng.choice(["6A", "8R", "5V"]) + digits(rng, 11),
        "grouped": lambda: " ".join(digits(rng, 4) for _ in range(rng.randrange(2, 4))),
    }  # fmt: skip
    shape = rng.choice(list(shapes))
    return shapes[shape](), shape


def reference_rows(rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for i in range(210):
        lang = "fr" if i % 2 else "en"
        value, shape = _reference(rng)
        phrase = rng.choice(_FR_CONTEXT if lang == "fr" else _EN_CONTEXT).format(value)
        rows.append(row(say(rng, lang, phrase), ["reference"], f"{lang} {shape}"))
    for i in range(30):  # the same references in a DM are not a finding
        value, shape = _reference(rng)
        phrase = rng.choice(_FR_CONTEXT if i % 2 else _EN_CONTEXT).format(value)
        rows.append(row(say(rng, "fr" if i % 2 else "en", phrase), [], f"reference in DM {shape}", "dm"))
    for i in range(180):
        rows.append(row(_reference_look_alike(rng, "fr" if i % 2 else "en"), [], "no reference"))
    return rows


def _siren(rng: random.Random) -> str:
    body = rng.choice("3456789") + digits(rng, 7)
    return body + luhn.calc_check_digit(body)


def _reference_look_alike(rng: random.Random, lang: str) -> str:
    siren = _siren(rng)
    siret_body = siren + digits(rng, 4)
    siret = siret_body + luhn.calc_check_digit(siret_body)
    vat = f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
    day, month, hour = rng.randrange(1, 29), rng.randrange(1, 13), rng.randrange(8, 20)
    price = f"{rng.randrange(5, 900)},{rng.randrange(100):02d} €"
    if lang == "fr":
        choices = [
            f"Votre commande du {day:02d}/{month:02d} est partie à {hour}h{rng.randrange(60):02d}.",
            f"La commande de {price} est remboursée sous 5 jours.",
            f"Le dossier est complet depuis le {day} {rng.choice(['mars', 'juin', 'octobre'])}, merci.",
            f"Facture émise par {_NAMES.company()} — SIRET {siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}.",
            f"Mentions légales : SIREN {siren}, TVA intracommunautaire {vat}.",
            f"Le suivi est mis à jour toutes les {rng.randrange(2, 6)} heures, dernier passage à {hour}:{rng.randrange(60):02d}.",
            f"Votre contrat démarre le {day:02d}.{month:02d}.{rng.randrange(2025, 2028)} pour {price} par mois.",
        ]  # fmt: skip
    else:
        choices = [
            f"Your order from {month:02d}/{day:02d} left the warehouse at {hour}:{rng.randrange(60):02d}.",
            f"The order total of ${rng.randrange(5, 900)}.{rng.randrange(100):02d} will be refunded within 5 days.",
            f"Your account has been active since {rng.choice(['March', 'June', 'October'])} {day}, {rng.randrange(2015, 2026)}.",
            f"Invoices come from our French entity, VAT number {vat}, company number {siren}.",
            f"Tracking updates every {rng.randrange(2, 6)} hours; the last scan was at {hour}:{rng.randrange(60):02d}.",
            f"Registered office: SIRET {siret}, {_NAMES.city()}.",
            f"Your contract renews on {rng.randrange(2025, 2028)}-{month:02d}-{day:02d} at ${rng.randrange(5, 90)}.99 a month.",
        ]  # fmt: skip
    return rng.choice(choices)


# --- bank details, in public and in DM ---------------------------------------------------------

_CARD_TYPES = ["visa16", "mastercard", "amex", "discover", "jcb16", "diners"]
_IBAN_LOCALES = ["fr_FR", "fr_FR", "fr_CH", "en_IE", "nl_BE", "fi_FI", "sk_SK", "cs_CZ"]


def _card(rng: random.Random, fake: Faker) -> str:
    number = fake.credit_card_number(rng.choice(_CARD_TYPES))
    sep = rng.choice([" ", " ", "-", "", "\u00a0"])
    cuts = {15: (0, 4, 10, 15), 14: (0, 4, 10, 14)}.get(len(number), (0, 4, 8, 12, 16))
    return sep.join(number[a:b] for a, b in itertools.pairwise(cuts))


def _iban(rng: random.Random) -> str:
    fake = Faker(rng.choice(_IBAN_LOCALES))
    fake.seed_instance(rng.randrange(1 << 30))
    number = fake.iban()
    return iban.format(number) if rng.random() < 0.6 else number


def bank_rows(rng: random.Random) -> list[Row]:
    fake = Faker("en_CA")
    fake.seed_instance(rng.randrange(1 << 30))
    rows: list[Row] = []
    for i in range(140):
        audience = "dm" if i % 10 < 7 else "public"
        lang = "fr" if i % 2 else "en"
        if i % 2 == 0:
            card = _card(rng, fake)
            x = f"la carte {card}" if lang == "fr" else f"the card {card}"
            rows.append(row(say(rng, lang, x), ["card"], f"card {audience}", audience))
        value = _iban(rng)
        x = f"l'IBAN {value}" if lang == "fr" else f"IBAN {value}"
        rows.append(row(say(rng, lang, x), ["iban"], f"iban {audience}", audience))
    for i in range(150):
        audience = "dm" if i % 3 else "public"
        rows.append(row(_bank_look_alike(rng, "fr" if i % 2 else "en"), [], "no full card or IBAN", audience))
    return rows


def _bank_look_alike(rng: random.Random, lang: str) -> str:
    last4 = digits(rng, 4)
    number = rng.choice("45") + digits(rng, 5)  # the first six digits, shown with the last four (PCI DSS)
    good = _iban(rng).replace(" ", "")
    broken = good[:2] + f"{(int(good[2:4]) + 1) % 100:02d}" + good[4:]
    if iban.is_valid(broken):
        broken = good[:-1] + str((int(good[-1]) + 3) % 10) if good[-1].isdigit() else good[:-2]
    ean = "3" + digits(rng, 12)
    if lang == "fr":
        choices = [
            f"La carte se terminant par {last4} a bien été débitée.",
            f"Carte **** **** **** {last4} : paiement refusé, essayez une autre carte.",
            f"Paiement accepté avec la carte {number[:4]} {number[4:6]}•• •••• {last4}, merci.",
            f"IBAN {good[:4]} **** **** {good[-4:]} enregistré, merci.",
            f"Le code-barres {ean} figure sous le produit.",
            f"Code BIC {rng.choice(['BNPAFRPP', 'CRLYFRPP', 'SOGEFRPP', 'AGRIFRPP'])}, le RIB complet est dans votre espace.",
            f"Ce RIB ({broken}) est refusé : la clé ne correspond pas.",
        ]  # fmt: skip
    else:
        choices = [
            f"The card ending in {last4} was charged.",
            f"Card XXXX-XXXX-XXXX-{last4} was declined, please try another one.",
            f"Paid with card {number[:4]} {number[4:6]}** **** {last4}, thanks.",
            f"IBAN ending {good[-4:]} saved on your profile.",
            f"The barcode {ean} is printed under the box.",
            f"Sort code {digits(rng, 2)}-{digits(rng, 2)}-{digits(rng, 2)} is shown in the app, never here.",
            f"That IBAN ({broken}) fails its check digits, could you re-check it?",
        ]  # fmt: skip
    return rng.choice(choices)


# --- e-mail addresses and NIR ------------------------------------------------------------------


def other_pii_rows(rng: random.Random) -> list[Row]:
    fake = Faker(["fr_BE", "en_NZ", "fr_CH"])
    fake.seed_instance(rng.randrange(1 << 30))
    rows: list[Row] = []
    for i in range(60):
        first, last = fake.first_name(), fake.last_name()
        local = rng.choice([f"{first}.{last}", f"{first[0]}{last}{rng.randrange(99)}", f"{last}-{first}"])
        local = "".join(c for c in local if c.isalnum() or c in ".-").lower()
        domain = rng.choice(
            [
                fake.free_email_domain(),
                "orange.fr",
                "mairie-" + fake.city().lower().replace(" ", "") + ".fr",
                "proton.me",
            ]
        )
        address = f"{local}@{domain}".upper() if i % 7 == 0 else f"{local}@{domain}"
        rows.append(row(say(rng, "fr" if i % 2 else "en", address), ["email"], "email"))  # fmt: skip
    for i in range(60):
        department = rng.choice(["75", "13", "69", "2A", "33", "59", "44", "971", "974"])
        body = f"{rng.choice('12')}{rng.randrange(40, 100):02d}{rng.randrange(1, 13):02d}{department}"
        body += f"{rng.randrange(1, 10 ** (5 - len(department))):0{5 - len(department)}d}{rng.randrange(1, 1000):03d}"
        number = body + nir.calc_check_digits(body)
        if i % 2:
            number = " ".join(
                [number[0], number[1:3], number[3:5], number[5:7], number[7:10], number[10:13], number[13:]]
            )
        rows.append(row(say(rng, "fr", f"n° de sécu {number}"), ["nir"], "nir"))  # fmt: skip
    for _ in range(90):
        handle = fake.user_name()
        rows.append(row(rng.choice([
            f"Suivez @{handle} pour les annonces, et écrivez-nous en DM.",
            f"Thanks @{handle}! Our address is on the website's contact page.",
            "Le formulaire (rubrique « Nous écrire ») remplace l'ancienne adresse e-mail.",
            f"N° de sécurité sociale : ne nous l'envoyez jamais ici, {fake.first_name()}.",
            f"Email us from the address on your account; we'll reply within {rng.randrange(2, 48)} hours.",
            f"Le dossier de {fake.first_name()} {fake.last_name()} est suivi par l'équipe de {fake.city()}.",
            f"{fake.first_name()}, the form at example.com/contact is the safest way to send documents.",
            f"Ne partagez pas votre n° de sécurité sociale ; {fake.first_name()} vous appelle à {rng.randrange(9, 18)} h.",
        ]), [], "no address or NIR"))  # fmt: skip
    return rows
