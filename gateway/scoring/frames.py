"""The question frame of a rubric: what is stripped before the encoder sees the topic.

An encoder measures topical closeness; "Is this complaint about late delivery?" and a ticket
about late delivery are close in their topic, not in "Is this complaint about". A frame is an
auxiliary ("is", "does", "would"), a subject that names the ticket or its writer ("this",
"the customer", "this support ticket"), then, optionally, a verb that introduces the topic
("about", "asking for", "want to", "a question about"). A subject that is the topic itself
("Is the payment failing?") keeps its words; only the auxiliary goes.
"""

from __future__ import annotations

import re

_AUX = r"(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should)"
# words that name the ticket or its writer, never its topic
_NOUN = (
    r"(?:text|ticket|message|mail|email|e-mail|note|chat|conversation|thread|customer|client|"
    r"user|caller|sender|writer|author|requester|person|contact|complaint|request|query|"
    r"question|inquiry|enquiry|intent|case)s?"
)
_SUBJECT = rf"(?:(?:this|that|the|these|those)\s+(?:[\w-]+\s+)?{_NOUN}|it|they|he|she|this|that)"
_ADVERB = r"(?:(?:mainly|primarily|mostly|really|actually|clearly|explicitly|specifically)\s+)?"
_VERB = (
    r"(?:about|regarding|concerning|concern(?:s|ing)?|related\s+to|to\s+do\s+with|"
    r"ask(?:s|ing)?(?:\s+(?:about|for|to|whether|if))?|"
    r"want(?:s|ing)?(?:\s+to)?|would\s+like(?:\s+to)?|like\s+to|need(?:s|ing)?(?:\s+to)?|"
    r"mention(?:s|ing)?|report(?:s|ing)?|describ(?:e|es|ing)|express(?:es|ing)?|"
    r"contain(?:s|ing)?|request(?:s|ing)?|complain(?:s|ing)?(?:\s+about)?|"
    r"tr(?:y|ying)\s+to|intend(?:s|ing)?\s+to|seeking|looking\s+for|to|"
    r"an?\s+(?:question|request|inquiry|enquiry)(?:\s+(?:about|regarding|for|to|on))?)"
)
_FRAME = re.compile(rf"^\s*{_AUX}\s+{_SUBJECT}\s+{_ADVERB}(?:{_VERB}\s+)?", re.IGNORECASE)
_LEADING_AUX = re.compile(rf"^\s*{_AUX}\s+", re.IGNORECASE)


def topic_of(rubric: str) -> str:
    """The topic a yes/no rubric question names: what the encoder can compare against."""
    text = rubric.strip()
    framed = _FRAME.sub("", text, count=1)
    if framed == text and text.endswith("?"):
        framed = _LEADING_AUX.sub("", text, count=1)
    topic = framed.rstrip("?").strip()
    return topic or text
