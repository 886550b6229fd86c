"""The regular expressions our pattern recognizers use, and the keep patterns.

- ``NAME_PATTERNS``: names introduced by a cue ("my name is", "Regards,", "account holder:");
- ``PHONE_PATTERNS`` / ``PHONE_CONTEXT``: numbers laid out like a phone number;
- ``ADDRESS_PATTERNS``: street addresses; ``DOB_PATTERNS``: dates after a birth cue;
- ``KEEP_PATTERNS``: what routing needs (ids, versions, amounts), shielded from heuristic types.

Each spec is ``(name, pattern, score)``, for Presidio's ``Pattern``. Chosen with
``bench/redaction.py``: the recall figures in README depend on them.
"""

from __future__ import annotations

from typing import Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

# For the ``regex`` module (Presidio compiles with it too): variable-width look-behind lets a
# cue ("my name is") select a name without being part of the redacted span. Patterns are
# case-sensitive (a name is capitalised); cue words carry their own (?i:...).

# "Grace", "O'Neill", "Al-Sayed", "McDonald", "José"; the look-ahead stops a name mid-word.
_NAME_WORD = (
    r"(?:\p{Lu}\p{Ll}*['’]\p{Lu}\p{Ll}+|\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?(?:-\p{Lu}\p{Ll}+)?)"
    r"(?![\p{L}\d])"
)
_PARTICLE = r"(?:de|del|della|da|di|dos|du|van|von|der|den|le|la|bin|al|el|ter)"
_FULL_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_NAME_WORD}){{0,3}}"
# A title stays readable ("Dr. <PERSON>"): it belongs to the cue, not to the name.
_TITLE = r"(?:(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Mme|Mlle|Herr|Frau)\.?[ \t]+)"
_SELF_CUE = (
    r"(?i:my\s+name\s+is|name\s+is|full\s+name\s*:|name\s*:|i\s+am|i'm|i’m|this\s+is"
    r"|name\s+on\s+(?:the|my|our)\s+(?:account|card|order|booking|reservation|policy)\s*:?"
    r"|it's|it’s|it\s+is)"
)
_SIGNOFF_CUE = (
    r"(?i:regards|kind\s+regards|best\s+regards|best\s+wishes|best|thanks|many\s+thanks"
    r"|thank\s+you|thx|cheers|sincerely|yours\s+(?:truly|sincerely)|warmly|br)"
)
_ROLE_CUE = (
    r"(?i:customer|client|employee|colleague|co-?worker|agent|manager|developer|engineer|admin"
    r"|administrator|technician|husband|wife|partner|spouse|son|daughter|mother|father|mom|mum"
    r"|dad|brother|sister|friend|boss|holder|beneficiary|recipient|payee|attention|attn\.?"
    r"|contact|cfo|ceo|cto|coo|officer|director|assistant|representative|rep|owner|tenant"
    r"|raised\s+by|submitted\s+by|reported\s+by|opened\s+by|sent\s+by|signed\s+by|written\s+by"
    r"|ticket\s+from|message\s+from|email\s+from|note\s+from)(?:'s\s+name)?"
)
NAME_PATTERNS: Final = (
    # "my name is Grace Liu", "I'm Olu Adeyemi", "Full name: Kenji Watanabe"
    ("name after self-introduction", rf"(?<=\b{_SELF_CUE}[ \t]+{_TITLE}?){_FULL_NAME}", 0.7),
    # "Regards, Ingrid Svensson", "Thanks,\nEmma"
    ("name after sign-off", rf"(?<=\b{_SIGNOFF_CUE}[ \t]*[,!.]?\s+{_TITLE}?){_FULL_NAME}", 0.7),
    # "account holder: Priya Raghunathan", "my husband, Daniel Cohen", "agent Kevin"
    ("name after role word", rf"(?<=\b{_ROLE_CUE}[ \t]*[:,]?[ \t]+{_TITLE}?){_FULL_NAME}", 0.65),
    # "Mr. Smith", "Dr Okafor"
    ("name after title", rf"(?<=\b{_TITLE}){_FULL_NAME}", 0.65),
    # "Maria Jose Garcia here"
    ("name before 'here'", rf"\b{_FULL_NAME}(?=[ \t]+here\b)", 0.65),
    # lower-case name closing the text after a sign-off that opens its sentence or line:
    # "cheers,\nbob", "Please advise. thanks - sam"
    (
        "lower-case name closing the text",
        rf"(?<=(?:^|[.!?\n])\s*{_SIGNOFF_CUE}[ \t]*(?:[,\n]|[ \t][-–—])\s*)"
        r"\p{Ll}{2,15}(?=[ \t.!]*$)",
        0.65,
    ),
    # signature line: "- Brian O'Neill, Dublin"
    ("signature after dash", rf"(?<=(?:^|[.!?]\s+|\n)\s*(?:--?|—|–)[ \t]*){_FULL_NAME}", 0.7),
)
AFTER_SELF_CUE: Final = regex.compile(rf"\b{_SELF_CUE}[ \t]+{_TITLE}?$")

# Phone numbers libphonenumber rejects (unassigned ranges, fictional 555 numbers) but that are
# laid out like one. Weak alone (0.4, under the default threshold); a phone word in the five
# words before lifts them by 0.35 (Presidio's context enhancer).
_PHONE_WORDS = (
    "phone call cell mobile tel telephone number reach contact text sms whatsapp fax ring"
)
PHONE_CONTEXT: Final = _PHONE_WORDS.split()
PHONE_PATTERNS: Final = (
    (
        "NANP layout",
        r"(?<![\w.+-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|[.,]\d)",
        0.4,
    ),
    ("trunk-0 layout", r"(?<![\w.+-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\w-]|[.,]\d)", 0.4),
    (
        "international layout",
        r"(?<![\w.+-])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-]|[.,]\d)",
        0.4,
    ),
)

# Street addresses (Presidio has no recognizer for them): a house number and a street word,
# then as much of ", city, region postcode" as is there.
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl"
    r"|Square|Sq|Terrace|Ter|Parkway|Pkwy|Way|Highway|Hwy|Circle|Cir|Close|Crescent|Cres"
    r"|Gardens|Row|Mews|Plaza|Alley|Grove|Esplanade|Quay|Loop|Pike|Path|Landing|Crossing"
    r"|Ridge)\.?"
)
_STREET_WORD = r"(?:[A-Z][A-Za-z]*(?:['’][a-z]+)?|\d+(?:st|nd|rd|th))"
# a city is capitalised words, not an all-caps code: "London", not the "NW" of "NW1 6XE"
_CITY = r"\p{Lu}\p{Ll}[\p{L}.'’-]*(?:[ \t]\p{Lu}\p{Ll}[\p{L}.'’-]*){0,2}"
_US_STATE_ZIP = r"[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CA_POSTCODE = r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
# "IL 62704", "NW1 6XE", "BC V6B 1A1", or a state or province code alone ("Vancouver, BC")
_REGION_CODE = rf"(?:{_US_STATE_ZIP}|{_UK_POSTCODE}|[A-Z]{{2}}(?:[ \t]+{_CA_POSTCODE})?(?![\w-]))"
_EU_POSTCODE = r"(?:\d{5}|\d{4}(?:[ \t]?[A-Z]{2})?|\d{3}[ \t]\d{2}|[A-Z]{1,2}-\d{4,5})"
_UNIT = r"(?i:flat|apt\.?|apartment|unit|suite|ste\.?|floor|fl\.?|room)[ \t]*#?[ \t]*\w{1,5}"
_ADDRESS_TAIL = (
    rf"(?:,?[ \t]+{_UNIT})?"
    rf"(?:,[ \t]*{_CITY}(?:,?[ \t]+{_REGION_CODE})?"
    rf"|,?[ \t]+(?:{_US_STATE_ZIP}|{_UK_POSTCODE}))?"
)
_EU_TAIL = rf"(?:,?[ \t]+{_EU_POSTCODE}[ \t]+{_CITY})?"
_CAP_WORD_EU = r"[A-ZÀ-Ý][\w'’-]+"
ADDRESS_PATTERNS: Final = (
    # "42 Elm Street, Springfield, IL 62704", "Flat 3, 15 Queen's Road, Manchester M1 2AB"
    (
        "number + street + suffix",
        rf"(?:{_UNIT},?[ \t]+)?\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+"
        rf"(?:[NSEW]\.?[ \t]+)?(?:{_STREET_WORD}[ \t]+){{1,3}}{_STREET_SUFFIX}(?![A-Za-z])"
        # a directional after the suffix: "1600 Pennsylvania Avenue NW"
        r"(?:[ \t]+(?:[NS][EW]?|[EW])\.?(?![\w-]))?"
        rf"{_ADDRESS_TAIL}",
        0.75,
    ),
    # "PO Box 1234, Austin, TX 78701"
    ("post office box", rf"\b(?i:p\.?[ \t]?o\.?[ \t]?box)[ \t]+\d{{1,6}}{_ADDRESS_TAIL}", 0.75),
    # "12 rue de Rivoli, 75001 Paris"
    (
        "number + romance street word",
        r"\b\d{1,4}[a-z]?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|place|quai|chemin|allée"
        r"|impasse|route|calle|avenida|rua|via|viale|piazza|corso|carrer)[ \t]+"
        rf"(?:(?:de|du|des|la|le|l'|d'|del|della|di|da|dos|das)[ \t]+)?{_CAP_WORD_EU}"
        rf"(?:[ \t]+{_CAP_WORD_EU}){{0,2}}{_EU_TAIL}",
        0.75,
    ),
    # "Hauptstrasse 5, 10115 Berlin", "Storgatan 12, 114 51 Stockholm", "Via Roma 15"
    (
        "street word + number",
        r"\b(?:[A-ZÀ-Ý][\wäöüßåéè-]*(?i:strasse|straße|str\.|gasse|weg|platz|allee|ring|damm"
        r"|gatan|gata|vägen|vagen|väg|straat|laan|gracht|plein|vej|gade|veien|gate|katu|tie)"
        rf"|(?i:via|calle|rua|piazza|carrer|ulica|ul\.)[ \t]+{_CAP_WORD_EU}"
        rf"(?:[ \t]+{_CAP_WORD_EU})?)"
        rf"[ \t]+\d{{1,4}}[a-zA-Z]?(?:[/-]\d{{1,4}})?\b{_EU_TAIL}",
        0.75,
    ),
)

_MONTH = (
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH},?[ \t]+\d{{4}}"
    rf"|{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}})"
)
_DOB_CUE = r"(?i:born(?:[ \t]+on)?|d\.?o\.?b\.?|date[ \t]+of[ \t]+birth|birth[ \t]*date|birthday)"
# Only a date after a birth cue: other dates (orders, deliveries) are what routing needs.
DOB_PATTERNS: Final = (
    ("date after birth cue", rf"(?<=\b{_DOB_CUE}[ \t]*(?:is|was|:|-)?[ \t]*){_DATE}\b", 0.85),
)

# Things routing needs. A heuristic finding entirely inside one of these is not personal data.
KEEP_PATTERNS: Final = tuple(
    regex.compile(p)
    for p in (
        # ids with a capital letter and a digit: ORD-2024-118734, SKU-44-BLK-XL, 2024/INV/5531
        r"\b(?=[\w/-]*\d)(?=[\w/-]*[A-Z])[A-Z0-9]+(?:[-/_][A-Z0-9]+)+\b",
        # hash ids: #A1029384, #58213
        r"#[A-Za-z0-9][A-Za-z0-9-]{2,}\b",
        # serials and tracking numbers: 1Z999AA10123456784, C02XK1ZJJGH5, B7734120
        r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{7,}\b",
        # numbers introduced as a reference: "Order 4482019", "case number 00482917"
        r"(?<=\b(?i:order|invoice|inv|ticket|case|reference|ref|tracking|serial|sku|account"
        r"|acct|transaction|txn|incident|rma|po|confirmation|booking|claim|policy|member"
        r"|shipment|parcel|package|item|model|repair|return)"
        r"(?:[ \t]+(?i:no\.?|nr\.?|number|num|id|#))?[ \t]*[:#]?[ \t]*)"
        # ... unless laid out as a phone number or an SSN ("account 415-555-0132")
        r"(?!\d{3}[ .-]\d{3}[ .-]\d{4}\b|\d{3}-\d{2}-\d{4}\b)"
        r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*(?:[ \t]\d{3,})?",
        # versions: "firmware update to 4.12.0.3", "rolling back to 1.9.8.7", "Build 7.3.0.1122"
        r"(?<=\b(?i:firmware|fw|version|ver\.?|build|release|patch|update|upgrade|updated"
        r"|upgraded|downgrade|downgraded|revert|reverted|rolled[ \t]+back|rolling[ \t]+back"
        r"|roll[ \t]+back|os|ios|android|app)"
        r"(?:[ \t]+(?i:to|is|was|now|of|from|version|v))*[ \t]*v?)"
        r"\d+(?:\.\d+){1,3}\b",
        r"\b[vV]\d+(?:\.\d+)+\b",
        # amounts and percentages: $129.99, EUR 89.00, 49.99 USD, 30%
        r"(?:[$€£¥]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)[ \t]?)\d[\d,]*(?:\.\d+)?",
        r"\b\d[\d,]*(?:\.\d+)?[ \t]?(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR|%)",
    )
)
