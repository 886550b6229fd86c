"""Name cues in German, French and Spanish, for tickets redacted without NER.

The English spaCy model reads ordinary German words as names ("Rechnung", "Sie", "Grüßen"), so a
ticket detected in another language is redacted with the pattern recognizers only
(``gateway.redaction.language``). What NER found there is then found only after a cue: a
self-introduction ("mein Name ist", "je m'appelle", "me llamo"), a sign-off ("Mit freundlichen
Grüßen", "Cordialement", "Saludos") or a title ("Herr", "Mme", "Sra."). A capitalised noun after
a weak cue is a German noun as often as a name, so the weak cues ("ich bin", "je suis", "soy")
are left out. Measured with ``bench/redaction_languages.py`` on ``evals/pii/languages.jsonl``.
"""

from __future__ import annotations

from typing import Final

# the shared building blocks of the English cues (bounded whitespace, a capitalised name)
from gateway.redaction.patterns import _FULL_NAME, _GAP, _H, _H0, _W

_SELF_CUE = (
    rf"(?i:mein{_W}name{_W}ist|ich{_W}hei(?:ß|ss)e|name\s{{0,4}}:|je{_W}m['’]appelle"
    rf"|mon{_W}nom{_W}est|nom\s{{0,4}}:|me{_W}llamo|mi{_W}nombre{_W}es|nombre\s{{0,4}}:)"
)
_SIGNOFF_CUE = (
    rf"(?i:(?:mit{_W}freundlichen|viele|beste|liebe|herzliche|freundliche){_W}gr(?:ü|ue)(?:ß|ss)en?"
    rf"|gr(?:ü|ue)(?:ß|ss)e|mfg|(?:bien{_W})?cordialement|bien{_W}(?:à|a){_W}vous"
    rf"|(?:sinc(?:è|e)res{_W})?salutations|(?:un{_W})?saludos?(?:{_W}cordiales)?|atentamente"
    rf"|muchas{_W}gracias)"
)
_TITLE_INTL = (
    rf"(?:(?:Herr|Herrn|Frau|Monsieur|Madame|Mademoiselle|M\.|Mme|Mlle|Señor|Señora|Sr\.?|Sra\.?"
    rf"|Srta\.?|Don|Doña|Dr\.?|Prof\.?){_H})"
)

# a title is the cue, never the name ("Atentamente, Sra. Ortega": the name is "Ortega")
_NAME = rf"(?!(?:Herrn?|Frau|Mme|Mlle|Sr|Sra|Srta|Don|Doña|Dr|Prof)\b){_FULL_NAME}"

INTL_NAME_PATTERNS: Final = (
    ("name after self-introduction (de/fr/es)", rf"(?<=\b{_SELF_CUE}{_H}){_NAME}", 0.7),
    (
        "name after sign-off (de/fr/es)",
        rf"(?<=\b{_SIGNOFF_CUE}(?:{_H0}[,!.])?{_GAP}{_TITLE_INTL}?){_NAME}",
        0.7,
    ),
    ("name after title (de/fr/es)", rf"(?<={_TITLE_INTL}){_NAME}", 0.65),
)
