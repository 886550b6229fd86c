"""Labelled support tickets for the learning-loop tests, written for this project: templates per
``rubrics/support.yaml`` category label, filled in deterministically, so two calls give the same
tickets and ``tickets(n, offset)`` slices never overlap."""

from __future__ import annotations

import itertools

_TEMPLATES: dict[str, list[str]] = {
    "billing": [
        "I was billed {n} times for the same {thing} this month",
        "Why does my invoice for {month} show an extra charge of ${n}?",
        "Please refund the ${n} you took from my card for the {thing}",
        "My payment for the {thing} failed but the money left my account",
        "The {month} invoice has the wrong VAT number on it",
        "You charged me after I cancelled the {thing} in {month}",
    ],
    "technical": [
        "The {thing} page shows error {n} whenever I click save",
        "Since the {month} update the app crashes on start",
        "Uploads over {n} MB time out and nothing happens",
        "The {thing} export produces an empty file",
        "Notifications stopped working on my phone in {month}",
        "The dashboard takes {n} seconds to load and then freezes",
    ],
    "account": [
        "I can't sign in, the reset link for my {thing} login never arrives",
        "Please change the email on my profile, I lost access in {month}",
        "My account got locked after {n} wrong password attempts",
        "How do I turn on two-factor authentication for my {thing} account?",
        "I want to close my account and remove my profile",
        "Someone else is listed as owner of my {thing} workspace",
    ],
    "shipping": [
        "My parcel with the {thing} has been stuck in transit for {n} days",
        "Tracking says delivered in {month} but no package came",
        "When will the {thing} I ordered ship? It's been {n} days",
        "Can you send the {thing} to a different delivery address?",
        "The courier lost my package, order placed in {month}",
        "Delivery was promised in {n} days and it still hasn't shipped",
    ],
    "returns": [
        "The {thing} arrived cracked, I want a replacement",
        "I'd like to return the {thing}, it is the wrong size",
        "How do I send back an order I received in {month}?",
        "You sent me {n} units instead of one, how do I return the rest?",
        "The {thing} I got is not the colour I ordered, exchange please",
        "Can I get a return label for the faulty {thing}?",
    ],
    "sales": [
        "What would {n} seats of the {thing} plan cost per year?",
        "Do you offer an education discount on the {thing}?",
        "Is the Business plan worth it over Pro for a team of {n}?",
        "Could you send a quote for the {thing} before {month}?",
        "Does the {thing} integrate with our CRM before we buy?",
        "Can we trial the premium tier for {n} days before purchasing?",
    ],
    "feedback": [
        "Just wanted to say the new {thing} is fantastic, thank you",
        "Your support team was rude to me in {month}, very disappointing",
        "Suggestion: let us sort the {thing} list by date",
        "I love the app but the {thing} screen could be simpler",
        "Great service in {month}, {n} stars from me",
        "It would be nice to have dark mode in the {thing} view",
    ],
}
_THINGS = ["subscription", "headphones", "desk lamp", "team", "premium", "backpack", "report"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]
_NUMBERS = ["2", "3", "5", "12", "30", "45", "99"]

LABELS = list(_TEMPLATES)


def _fills() -> itertools.product[tuple[str, str, str]]:
    return itertools.product(_NUMBERS, _THINGS, _MONTHS)


def tickets(per_label: int, offset: int = 0) -> list[tuple[str, str]]:
    """``per_label`` (text, label) pairs per label, interleaved by label; ``offset`` skips that
    many per label first (so slices are disjoint)."""
    out: list[tuple[str, str]] = []
    for label, templates in _TEMPLATES.items():
        made: list[str] = []
        for (n, thing, month), template in itertools.product(_fills(), templates):
            text = template.format(n=n, thing=thing, month=month)
            if text not in made:
                made.append(text)
            if len(made) >= offset + per_label:
                break
        assert len(made) == offset + per_label, f"only {len(made)} distinct {label} tickets"
        out.extend((text, label) for text in made[offset:])
    # interleave, so a prefix of the stream covers every label
    by_label = [out[i * per_label : (i + 1) * per_label] for i in range(len(_TEMPLATES))]
    return [pair for group in zip(*by_label, strict=True) for pair in group]
