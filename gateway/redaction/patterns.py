"""The regular expressions our pattern recognizers use, and the keep patterns.

- ``NAME_PATTERNS``: names introduced by a cue ("my name is", "Regards,", "account holder:");
- ``PHONE_PATTERNS`` / ``PHONE_CONTEXT``: numbers laid out like a phone number;
- ``ADDRESS_PATTERNS``: street addresses; ``DOB_PATTERNS``: dates after a birth cue;
- ``SPELLED_EMAIL_PATTERNS`` / ``EMAIL_CONTEXT``: "jane dot doe at gmail dot com", "a [at] b.org";
- ``SSN_PATTERNS``: nine digits after an SSN cue, with or without separators;
- ``KEEP_PATTERNS``: what routing needs (ids, versions, amounts), shielded from heuristic types.

Each spec is ``(name, pattern, score)``, for Presidio's ``Pattern``. Chosen with
``bench/redaction.py``: the recall figures in README depend on them.

Every repetition that can fail after a long scan is bounded (``{0,6}``, not ``*``): the engine
retries a pattern at each position and re-runs a look-behind there, so one unbounded ``[ \t]*``
in a look-behind makes a run of 20,000 spaces cost quadratic time (``bench/redaction_hostile.py``).
"""

from __future__ import annotations

from typing import Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

# For the ``regex`` module (Presidio compiles with it too): variable-width look-behind lets a
# cue ("my name is") select a name without being part of the redacted span. Patterns are
# case-sensitive (a name is capitalised); cue words carry their own (?i:...).

# Bounded whitespace for look-behinds (see the module docstring): between words of a cue, and
# between a cue and its value (a sign-off may be followed by blank lines and an indent).
_W = r"\s{1,4}"
_H = r"[ \t]{1,6}"
_H0 = r"[ \t]{0,6}"
_GAP = r"\s{1,12}"

# "Grace", "O'Neill", "Al-Sayed", "McDonald", "José"; the look-ahead stops a name mid-word.
_NAME_WORD = (
    r"(?:\p{Lu}\p{Ll}*['’]\p{Lu}\p{Ll}+|\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?(?:-\p{Lu}\p{Ll}+)?)"
    r"(?![\p{L}\d])"
)
_PARTICLE = r"(?:de|del|della|da|di|dos|du|van|von|der|den|le|la|bin|al|el|ter)"
_FULL_NAME = rf"{_NAME_WORD}(?:{_H}(?:{_PARTICLE}{_H})?{_NAME_WORD}){{0,3}}"
# A title stays readable ("Dr. <PERSON>"): it belongs to the cue, not to the name.
_TITLE = rf"(?:(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Mme|Mlle|Herr|Frau)\.?{_H})"
SELF_CUE: Final = (
    rf"(?i:my{_W}name{_W}is|name{_W}is|full{_W}name\s{{0,4}}:|name\s{{0,4}}:|i{_W}am|i'm|i’m"
    rf"|this{_W}is|name{_W}on{_W}(?:the|my|our){_W}"
    r"(?:account|card|order|booking|reservation|policy)\s{0,4}:?"
    rf"|it's|it’s|it{_W}is)"
)
SIGNOFF_CUE: Final = (
    rf"(?i:regards|kind{_W}regards|best{_W}regards|best{_W}wishes|best|thanks|many{_W}thanks"
    rf"|thank{_W}you|thx|cheers|sincerely|yours{_W}(?:truly|sincerely)|warmly|br)"
)
_ROLE_CUE = (
    r"(?i:customer|client|employee|colleague|co-?worker|agent|manager|developer|engineer|admin"
    r"|administrator|technician|husband|wife|partner|spouse|son|daughter|mother|father|mom|mum"
    r"|dad|brother|sister|friend|boss|holder|beneficiary|recipient|payee|attention|attn\.?"
    r"|contact|cfo|ceo|cto|coo|officer|director|assistant|representative|rep|owner|tenant"
    rf"|raised{_W}by|submitted{_W}by|reported{_W}by|opened{_W}by|sent{_W}by|signed{_W}by"
    rf"|written{_W}by|ticket{_W}from|message{_W}from|email{_W}from|note{_W}from)(?:'s{_W}name)?"
)
NAME_PATTERNS: Final = (
    # "my name is Grace Liu", "I'm Olu Adeyemi", "Full name: Kenji Watanabe"
    ("name after self-introduction", rf"(?<=\b{SELF_CUE}{_H}{_TITLE}?){_FULL_NAME}", 0.7),
    # "Regards, Ingrid Svensson", "Thanks,\nEmma"
    (
        "name after sign-off",
        rf"(?<=\b{SIGNOFF_CUE}(?:{_H0}[,!.])?{_GAP}{_TITLE}?){_FULL_NAME}",
        0.7,
    ),
    # "account holder: Priya Raghunathan", "my husband, Daniel Cohen", "agent Kevin"
    ("name after role word", rf"(?<=\b{_ROLE_CUE}(?:{_H0}[:,])?{_H}{_TITLE}?){_FULL_NAME}", 0.65),
    # "Mr. Smith", "Dr Okafor"
    ("name after title", rf"(?<=\b{_TITLE}){_FULL_NAME}", 0.65),
    # "Maria Jose Garcia here"
    ("name before 'here'", rf"\b{_FULL_NAME}(?={_H}here\b)", 0.65),
    # lower-case name closing the text after a sign-off that opens its sentence or line:
    # "cheers,\nbob", "Please advise. thanks - sam"
    (
        "lower-case name closing the text",
        rf"(?<=(?:^|[.!?\n])\s{{0,12}}{SIGNOFF_CUE}{_H0}(?:[,\n]|[ \t][-–—]){_GAP}?)"
        r"\p{Ll}{2,15}(?=[ \t.!]{0,12}$)",
        0.65,
    ),
    # signature line: "- Brian O'Neill, Dublin"
    ("signature after dash", rf"(?<=(?:^|[.!?]\s|\n)\s{{0,12}}(?:--?|—|–){_H0}){_FULL_NAME}", 0.7),
)
AFTER_SELF_CUE: Final = regex.compile(rf"\b{SELF_CUE}{_H}{_TITLE}?$")

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
_STREET_WORD = r"(?:[A-Z][A-Za-z]{0,30}(?:['’][a-z]{1,12})?|\d{1,4}(?:st|nd|rd|th))"
# a city is capitalised words, not an all-caps code: "London", not the "NW" of "NW1 6XE"
_CITY = r"\p{Lu}\p{Ll}[\p{L}.'’-]{0,30}(?:[ \t]\p{Lu}\p{Ll}[\p{L}.'’-]{0,30}){0,2}"
_US_STATE_ZIP = rf"[A-Z]{{2}}{_H}\d{{5}}(?:-\d{{4}})?"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CA_POSTCODE = r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
# "IL 62704", "NW1 6XE", "BC V6B 1A1", or a state or province code alone ("Vancouver, BC")
_REGION_CODE = rf"(?:{_US_STATE_ZIP}|{_UK_POSTCODE}|[A-Z]{{2}}(?:{_H}{_CA_POSTCODE})?(?![\w-]))"
_EU_POSTCODE = r"(?:\d{5}|\d{4}(?:[ \t]?[A-Z]{2})?|\d{3}[ \t]\d{2}|[A-Z]{1,2}-\d{4,5})"
_UNIT = (
    r"(?i:flat|apt\.?|apartment|unit|suite|ste\.?|floor|fl\.?|room)"
    rf"{_H0}(?:#{_H0})?\w{{1,5}}"
)
_ADDRESS_TAIL = (
    rf"(?:,?{_H}{_UNIT})?"
    rf"(?:,{_H0}{_CITY}(?:,?{_H}{_REGION_CODE})?"
    rf"|,?{_H}(?:{_US_STATE_ZIP}|{_UK_POSTCODE}))?"
)
_EU_TAIL = rf"(?:,?{_H}{_EU_POSTCODE}{_H}{_CITY})?"
_CAP_WORD_EU = r"[A-ZÀ-Ý][\w'’-]{1,40}"
ADDRESS_PATTERNS: Final = (
    # "42 Elm Street, Springfield, IL 62704", "Flat 3, 15 Queen's Road, Manchester M1 2AB"
    (
        "number + street + suffix",
        rf"(?:{_UNIT},?{_H})?\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,4}})?{_H}"
        rf"(?:[NSEW]\.?{_H})?(?:{_STREET_WORD}{_H}){{1,3}}{_STREET_SUFFIX}(?![A-Za-z])"
        # a directional after the suffix: "1600 Pennsylvania Avenue NW"
        rf"(?:{_H}(?:[NS][EW]?|[EW])\.?(?![\w-]))?"
        rf"{_ADDRESS_TAIL}",
        0.75,
    ),
    # "PO Box 1234, Austin, TX 78701"
    ("post office box", rf"\b(?i:p\.?[ \t]?o\.?[ \t]?box){_H}\d{{1,6}}{_ADDRESS_TAIL}", 0.75),
    # "12 rue de Rivoli, 75001 Paris"
    (
        "number + romance street word",
        rf"\b\d{{1,4}}[a-z]?,?{_H}(?i:rue|avenue|av\.|boulevard|bd|place|quai|chemin|allée"
        rf"|impasse|route|calle|avenida|rua|via|viale|piazza|corso|carrer){_H}"
        rf"(?:(?:de|du|des|la|le|l'|d'|del|della|di|da|dos|das){_H})?{_CAP_WORD_EU}"
        rf"(?:{_H}{_CAP_WORD_EU}){{0,2}}{_EU_TAIL}",
        0.75,
    ),
    # "Hauptstrasse 5, 10115 Berlin", "Storgatan 12, 114 51 Stockholm", "Via Roma 15"
    (
        "street word + number",
        r"\b(?:[A-ZÀ-Ý][\wäöüßåéè-]{0,40}(?i:strasse|straße|str\.|gasse|weg|platz|allee|ring"
        r"|damm|gatan|gata|vägen|vagen|väg|straat|laan|gracht|plein|vej|gade|veien|gate|katu|tie)"
        rf"|(?i:via|calle|rua|piazza|carrer|ulica|ul\.){_H}{_CAP_WORD_EU}"
        rf"(?:{_H}{_CAP_WORD_EU})?)"
        rf"{_H}\d{{1,4}}[a-zA-Z]?(?:[/-]\d{{1,4}})?\b{_EU_TAIL}",
        0.75,
    ),
)

_MONTH = (
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?{_H}(?:of{_H})?{_MONTH},?{_H}\d{{4}}"
    rf"|{_MONTH}{_H}\d{{1,2}}(?:st|nd|rd|th)?,?{_H}\d{{4}})"
)
_DOB_CUE = rf"(?i:born(?:{_H}on)?|d\.?o\.?b\.?|date{_H}of{_H}birth|birth{_H0}date|birthday)"
# Only a date after a birth cue: other dates (orders, deliveries) are what routing needs.
DOB_PATTERNS: Final = (
    (
        "date after birth cue",
        rf"(?<=\b{_DOB_CUE}{_H0}(?:(?:is|was|:|-){_H0})?){_DATE}\b",
        0.85,
    ),
)

# E-mail addresses written to dodge a parser (Presidio's recognizer finds the plain ones):
# "jane dot doe at gmail dot com", "mike [at] example [dot] org", "ahmed(at)example(dot)com",
# "lucas.martin @ example.fr". Read on the normalised text, so "＠" and "%40" are plain "@" here.
_TLD = (
    r"(?i:com|net|org|edu|gov|mil|info|biz|io|co|uk|de|fr|es|nl|ch|se|dk|fi|pl|cz|pt|ie|cn|jp"
    r"|kr|br|mx|ru|nz|za|sg|hk|tw|ca|au|eu|app|dev|ai)(?![\w-])"
)
_LOCAL_WORD = r"[A-Za-z0-9][A-Za-z0-9_%+-]{0,63}"
_DOMAIN_WORD = r"[A-Za-z0-9][A-Za-z0-9-]{0,62}"


def _bracketed(word: str) -> str:
    return rf"{_H0}[\[({{<]{_H0}(?i:{word}){_H0}[\])}}>]{_H0}"


_SPELLED_DOT = rf"(?:{_H}(?i:dot){_H}|{_bracketed('dot')})"
_ANY_DOT = rf"(?:\.|{_H0}\.{_H0}|{_SPELLED_DOT})"
_WORD_AT = rf"{_H}(?i:at){_H}"
_LOCAL = rf"(?<![\w.+%-]){_LOCAL_WORD}(?:{_ANY_DOT}{_LOCAL_WORD}){{0,4}}"
_WEBMAIL = (
    r"(?i:gmail|googlemail|yahoo|hotmail|outlook|live|msn|icloud|aol|proton|protonmail|gmx"
    r"|yandex|qq|163|126|sina|zoho|fastmail)"
)


def _domain(dot: str) -> str:
    return rf"{_DOMAIN_WORD}(?:{dot}{_DOMAIN_WORD}){{0,3}}{dot}{_TLD}"


EMAIL_CONTEXT: Final = ["email", "e-mail", "mail", "address", "contact", "reach", "write", "inbox"]
SPELLED_EMAIL_PATTERNS: Final = (
    ("bracketed at", rf"{_LOCAL}{_bracketed('at')}{_domain(_ANY_DOT)}", 0.8),
    (
        "@ and a spelled-out dot",
        rf"{_LOCAL}@{_DOMAIN_WORD}(?:{_ANY_DOT}{_DOMAIN_WORD}){{0,3}}"
        rf"{_SPELLED_DOT}{_TLD}",
        0.8,
    ),
    (
        "spelled-out dot before @",
        rf"(?<![\w.+%-]){_LOCAL_WORD}(?:{_ANY_DOT}{_LOCAL_WORD}){{0,3}}"
        rf"{_SPELLED_DOT}{_LOCAL_WORD}@{_domain(_ANY_DOT)}",
        0.8,
    ),
    ("spaced @", rf"{_LOCAL}(?:{_H}@{_H0}|{_H0}@{_H}){_domain(_ANY_DOT)}", 0.7),
    # "at" as a word, dots spelled out: strong with a separator in the name or a webmail domain
    (
        "spelled-out, dotted name",
        rf"(?<![\w.+%-]){_LOCAL_WORD}(?:{_ANY_DOT}{_LOCAL_WORD}){{1,4}}{_WORD_AT}"
        rf"{_domain(_SPELLED_DOT)}",
        0.7,
    ),
    (
        "spelled-out, webmail",
        rf"{_LOCAL}{_WORD_AT}{_WEBMAIL}(?:{_SPELLED_DOT}{_DOMAIN_WORD}){{0,2}}"
        rf"{_SPELLED_DOT}{_TLD}",
        0.7,
    ),
    # "look at this dot com" has the same shape: only with an e-mail word nearby (+0.35)
    ("spelled-out", rf"{_LOCAL}{_WORD_AT}{_domain(_SPELLED_DOT)}", 0.4),
)

# every spelled-out pattern has one of these: a "dot", a bracketed "at", or a spaced "@"
SPELLED_EMAIL_NEEDS: Final = regex.compile(r"(?i:dot)|[\[({<][ \t]{0,6}(?i:at)|\s@|@\s")

# Nine digits after an SSN cue: "SSN 536228741", "social security no. 412-67-3390". Presidio's
# own patterns score a bare nine-digit number 0.05 (0.4 with "ssn" nearby, under the threshold).
_SSN_CUE = rf"(?i:ssn|ss{_H0}#|social{_H}security|soc\.?{_H0}sec\.?|ss{_H0}no\.?)"
_SSN_FILLER = rf"(?:{_H0}(?i:number|num|no\.?|nr\.?|#|is|was|:|-)){{0,3}}{_H0}"
SSN_PATTERNS: Final = (
    (
        "nine digits after an SSN cue",
        rf"(?<=\b{_SSN_CUE}{_SSN_FILLER})(?<![\d-])\d{{3}}[ .-]?\d{{2}}[ .-]?\d{{4}}(?![\d-])",
        0.7,
    ),
)

# Things routing needs. A heuristic finding entirely inside one of these is not personal data.
KEEP_PATTERNS: Final = tuple(
    regex.compile(p)
    for p in (
        # ids with a capital letter and a digit: ORD-2024-118734, SKU-44-BLK-XL, 2024/INV/5531
        r"\b(?=[\w/-]{0,64}\d)(?=[\w/-]{0,64}[A-Z])[A-Z0-9]+(?:[-/_][A-Z0-9]+)+\b",
        # hash ids: #A1029384, #58213
        r"#[A-Za-z0-9][A-Za-z0-9-]{2,64}\b",
        # serials and tracking numbers: 1Z999AA10123456784, C02XK1ZJJGH5, B7734120
        r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{7,}\b",
        # numbers introduced as a reference: "Order 4482019", "case number 00482917"
        r"(?<=\b(?i:order|invoice|inv|ticket|case|reference|ref|tracking|serial|sku|account"
        r"|acct|transaction|txn|incident|rma|po|confirmation|booking|claim|policy|member"
        r"|shipment|parcel|package|item|model|repair|return)"
        rf"(?:{_H}(?i:no\.?|nr\.?|number|num|id|#))?{_H0}(?:[:#]{_H0})?)"
        # ... unless laid out as a phone number or an SSN ("account 415-555-0132")
        r"(?!\d{3}[ .-]\d{3}[ .-]\d{4}\b|\d{3}-\d{2}-\d{4}\b)"
        r"(?=[A-Za-z0-9-]{0,64}\d)[A-Za-z0-9][A-Za-z0-9-]*(?:[ \t]\d{3,})?",
        # versions: "firmware update to 4.12.0.3", "rolling back to 1.9.8.7", "Build 7.3.0.1122"
        r"(?<=\b(?i:firmware|fw|version|ver\.?|build|release|patch|update|upgrade|updated"
        rf"|upgraded|downgrade|downgraded|revert|reverted|rolled{_H}back|rolling{_H}back"
        rf"|roll{_H}back|os|ios|android|app)"
        rf"(?:{_H}(?i:to|is|was|now|of|from|version|v)){{0,4}}{_H0}v?)"
        r"\d+(?:\.\d+){1,3}\b",
        r"\b[vV]\d+(?:\.\d+)+\b",
        # amounts and percentages: $129.99, EUR 89.00, 49.99 USD, 30%
        r"(?:[$€£¥]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)[ \t]?)\d[\d,]{0,24}(?:\.\d+)?",
        r"\b\d[\d,]{0,24}(?:\.\d+)?[ \t]?(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR|%)",
    )
)
