"""Generate the eval rubrics in evals/rubrics/ from the datasets' label names.

Each label becomes a yes/no question ("Is this text about ...?"). The questions were written by
hand from what each label means: its name, and for the cryptic ones a look at the TRAIN split
(never the test split; no wording was tuned on test results). NLU++ uses the dataset's own
ontology questions verbatim. ``--examples K`` adds K utterances per label drawn (seeded) from
the TRAIN split as ``examples:``; files made that way are named ``*_fewshot.yaml`` so a reader
never mistakes them for zero-shot rubrics.

    .venv/bin/python evals/make_rubrics.py                  # zero-shot rubrics
    .venv/bin/python evals/make_rubrics.py --examples 5     # plus *_fewshot.yaml variants
    .venv/bin/python evals/make_rubrics.py --data-dir ../shared/data

Only the few-shot variants and NLU++ read the data; the zero-shot rubrics are written from the
tables below alone.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
OUT = HERE / "rubrics"

# --------------------------------------------------------------------------- BANKING77
# label -> what a ticket with that label is about. Some labels are narrower or different from
# what their name says (e.g. get_physical_card is mostly about the PIN that comes with the card,
# contactless_not_working about contactless payments failing); the topic follows the meaning.
BANKING77: dict[str, str] = {
    "Refund_not_showing_up": "a refund that has not shown up or arrived in the account yet",
    "activate_my_card": "activating a new card",
    "age_limit": "the minimum age to open an account, or accounts for children",
    "apple_pay_or_google_pay": "using or topping up with Apple Pay or Google Pay",
    "atm_support": "which ATMs or cash machines accept the card",
    "automatic_top_up": "setting up or using automatic top-ups (auto top-up)",
    "balance_not_updated_after_bank_transfer": (
        "the balance not updated after a bank transfer into the account"
    ),
    "balance_not_updated_after_cheque_or_cash_deposit": (
        "a cheque or cash deposit that is not showing in the balance yet"
    ),
    "beneficiary_not_allowed": "a transfer to a beneficiary or payee that is not allowed",
    "cancel_transfer": "cancelling or reversing a transfer made by mistake",
    "card_about_to_expire": "a card that is about to expire and getting a replacement",
    "card_acceptance": "where the card is accepted and where it can be used",
    "card_arrival": "a new card that has not arrived yet, tracking the card in the mail",
    "card_delivery_estimate": "how long card delivery takes, when a card will be delivered",
    "card_linking": "linking a card to the account in the app",
    "card_not_working": "a card that is not working or stopped working",
    "card_payment_fee_charged": "an extra fee charged on a card payment",
    "card_payment_not_recognised": "a card payment the customer does not recognise",
    "card_payment_wrong_exchange_rate": "a wrong exchange rate applied to a card payment",
    "card_swallowed": "a card swallowed, kept or stuck in an ATM",
    "cash_withdrawal_charge": "a fee charged for withdrawing cash at an ATM",
    "cash_withdrawal_not_recognised": "a cash withdrawal the customer does not recognise",
    "change_pin": "changing the card PIN",
    "compromised_card": "a compromised card, fraud or someone else using the card",
    "contactless_not_working": "contactless payment not working",
    "country_support": "which countries are supported for accounts and cards",
    "declined_card_payment": "a card payment that was declined",
    "declined_cash_withdrawal": "a cash withdrawal at an ATM that was declined",
    "declined_transfer": "a transfer that was declined",
    "direct_debit_payment_not_recognised": "a direct debit payment the customer does not recognise",
    "disposable_card_limits": "limits on disposable virtual cards",
    "edit_personal_details": "changing personal details such as name or address",
    "exchange_charge": "fees for exchanging currencies",
    "exchange_rate": "what exchange rate is used and how it is calculated",
    "exchange_via_app": "exchanging currencies in the app",
    "extra_charge_on_statement": "an unexplained extra charge, such as £1, on the statement",
    "failed_transfer": "a transfer that failed or did not go through",
    "fiat_currency_support": "which fiat currencies are supported for holding and exchange",
    "get_disposable_virtual_card": "getting a disposable virtual card",
    "get_physical_card": "getting the physical card and finding the PIN that comes with it",
    "getting_spare_card": "getting an extra or spare card",
    "getting_virtual_card": "getting a virtual card",
    "lost_or_stolen_card": "a lost or stolen card",
    "lost_or_stolen_phone": "a lost or stolen phone and access to the app",
    "order_physical_card": "ordering a physical card",
    "passcode_forgotten": "a forgotten app passcode",
    "pending_card_payment": "a card payment that is still pending",
    "pending_cash_withdrawal": "a cash withdrawal that is still pending",
    "pending_top_up": "a top-up that is still pending",
    "pending_transfer": "a transfer that is still pending",
    "pin_blocked": "a PIN that is blocked after too many wrong attempts",
    "receiving_money": "receiving money or a salary into the account",
    "request_refund": "requesting a refund for a purchase",
    "reverted_card_payment?": "a card payment that was reverted or returned",
    "supported_cards_and_currencies": "which cards and currencies can be used to add money",
    "terminate_account": "closing or deleting the account",
    "top_up_by_bank_transfer_charge": "fees for topping up by bank transfer",
    "top_up_by_card_charge": "fees for topping up with a card",
    "top_up_by_cash_or_cheque": "topping up with cash or a cheque",
    "top_up_failed": "a top-up that failed",
    "top_up_limits": "limits on how much can be topped up",
    "top_up_reverted": "a top-up that was reverted or disappeared",
    "topping_up_by_card": "topping up the account with a card",
    "transaction_charged_twice": "a transaction charged twice, a duplicate payment",
    "transfer_fee_charged": "a fee charged for a transfer",
    "transfer_into_account": "transferring money into the account",
    "transfer_not_received_by_recipient": "a transfer the recipient has not received",
    "transfer_timing": "how long a transfer takes to arrive",
    "unable_to_verify_identity": "being unable to verify identity, identity verification failing",
    "verify_my_identity": "how to verify identity",
    "verify_source_of_funds": "verifying or showing the source of funds",
    "verify_top_up": "verifying a top-up, the top-up verification code",
    "virtual_card_not_working": "a virtual card that is not working",
    "visa_or_mastercard": "whether the card is Visa or Mastercard",
    "why_verify_identity": "why identity verification is needed",
    "wrong_amount_of_cash_received": "receiving the wrong amount of cash from an ATM",
    "wrong_exchange_rate_for_cash_withdrawal": (
        "a wrong exchange rate on a cash withdrawal abroad"
    ),
}

# --------------------------------------------------------------------------- CLINC150
# domain -> intent -> topic. Written from the intent names; cryptic names read against train.
CLINC150_BY_DOMAIN: dict[str, dict[str, str]] = {
    "auto_and_commute": {
        "current_location": "finding out my current location",
        "directions": "directions to get somewhere",
        "distance": "how far away a place is or how long it takes to get there",
        "gas": "how much fuel or gas is left in the car",
        "gas_type": "which type of gas or fuel the car needs",
        "jump_start": "jump starting a car with a dead battery",
        "last_maintenance": "when the car was last serviced",
        "mpg": "the car's fuel economy, miles per gallon",
        "oil_change_how": "how to change the car's oil",
        "oil_change_when": "when the car needs an oil change",
        "schedule_maintenance": "scheduling car maintenance or a service appointment",
        "tire_change": "when the car's tires need changing",
        "tire_pressure": "the car's tire pressure",
        "traffic": "traffic on the way to a place",
        "uber": "booking an uber or a ride",
    },
    "banking": {
        "account_blocked": "a bank account that is blocked",
        "balance": "the balance of a bank account",
        "bill_balance": "how much is owed on a bill",
        "bill_due": "when a bill is due",
        "freeze_account": "freezing a bank account",
        "interest_rate": "the interest rate on an account",
        "min_payment": "the minimum payment on a bill or card",
        "order_checks": "ordering new checks for a bank account",
        "pay_bill": "paying a bill",
        "pin_change": "changing a PIN number",
        "report_fraud": "reporting a fraudulent transaction",
        "routing": "a bank routing number",
        "spending_history": "how much money was spent recently",
        "transactions": "recent transactions on an account",
        "transfer": "transferring money between accounts",
    },
    "credit_cards": {
        "application_status": "the status of a credit card application",
        "apr": "the APR of a credit card",
        "card_declined": "a credit card that was declined",
        "credit_limit": "the credit limit of a card",
        "credit_limit_change": "raising or changing a credit limit",
        "credit_score": "my credit score or credit rating",
        "damaged_card": "a damaged or broken credit card",
        "expiration_date": "when a card expires",
        "improve_credit_score": "how to improve a credit score",
        "international_fees": "fees for using a card abroad",
        "new_card": "applying for a new credit card",
        "redeem_rewards": "redeeming credit card rewards",
        "replacement_card_duration": "how long a replacement card takes to arrive",
        "report_lost_card": "reporting a lost or stolen card",
        "rewards_balance": "how many rewards points are on a card",
    },
    "home": {
        "calendar": "what is on my calendar",
        "calendar_update": "adding or removing an event on my calendar",
        "next_song": "skipping to the next song",
        "order": "ordering or buying something",
        "order_status": "the status of an order or delivery",
        "play_music": "playing music or a song",
        "reminder": "what my reminders are",
        "reminder_update": "setting a reminder",
        "shopping_list": "what is on my shopping list",
        "shopping_list_update": "adding or removing items on my shopping list",
        "smart_home": "controlling smart home devices like lights, locks or thermostat",
        "todo_list": "what is on my to do list",
        "todo_list_update": "adding or removing tasks on my to do list",
        "update_playlist": "adding a song to a playlist",
        "what_song": "what song is playing",
    },
    "kitchen_and_dining": {
        "accept_reservations": "whether a restaurant takes reservations",
        "calories": "how many calories a food has",
        "cancel_reservation": "cancelling a restaurant reservation",
        "confirm_reservation": "confirming a restaurant reservation",
        "cook_time": "how long to cook something",
        "food_last": "how long food lasts or is safe to eat",
        "how_busy": "how busy a restaurant is or the wait time",
        "ingredient_substitution": "substituting one ingredient for another",
        "ingredients_list": "the ingredients needed for a dish",
        "meal_suggestion": "a suggestion for what to cook or eat",
        "nutrition_info": "nutrition information of a food",
        "recipe": "a recipe for a dish",
        "restaurant_reservation": "booking a table at a restaurant",
        "restaurant_reviews": "reviews of a restaurant",
        "restaurant_suggestion": "a suggestion for a restaurant to go to",
    },
    "meta": {
        "cancel": "cancelling or stopping the current request",
        "change_accent": "changing the assistant's accent or voice",
        "change_ai_name": "giving the assistant a new name",
        "change_language": "changing the language the assistant speaks",
        "change_speed": "changing how fast the assistant speaks",
        "change_user_name": "changing what the assistant calls me",
        "change_volume": "changing the volume",
        "maybe": "answering maybe or being unsure",
        "no": "answering no or disagreeing",
        "repeat": "asking to repeat what was said",
        "reset_settings": "resetting the assistant to factory settings",
        "sync_device": "connecting or syncing the assistant with my phone",
        "user_name": "what my name is",
        "whisper_mode": "switching to whisper mode",
        "yes": "answering yes or agreeing",
    },
    "small_talk": {
        "are_you_a_bot": "whether the assistant is a bot or a real person",
        "do_you_have_pets": "whether the assistant has pets",
        "fun_fact": "a fun fact or trivia",
        "goodbye": "saying goodbye",
        "greeting": "saying hello",
        "how_old_are_you": "how old the assistant is",
        "meaning_of_life": "the meaning of life",
        "tell_joke": "telling a joke",
        "thank_you": "saying thank you",
        "what_are_your_hobbies": "the assistant's hobbies",
        "what_can_i_ask_you": "what the assistant can do or help with",
        "what_is_your_name": "the assistant's name",
        "where_are_you_from": "where the assistant is from",
        "who_do_you_work_for": "who the assistant works for",
        "who_made_you": "who made or created the assistant",
    },
    "travel": {
        "book_flight": "booking a flight",
        "book_hotel": "booking a hotel",
        "car_rental": "renting a car",
        "carry_on": "carry-on luggage rules for a flight",
        "exchange_rate": "a currency exchange rate or conversion",
        "flight_status": "the status or time of a flight",
        "international_visa": "whether a visa is needed to travel to a country",
        "lost_luggage": "lost luggage",
        "plug_type": "the power plug or socket type in another country",
        "timezone": "the time zone of a place",
        "translate": "translating a phrase into another language",
        "travel_alert": "travel alerts or warnings for a country",
        "travel_notification": "telling my bank that I am traveling",
        "travel_suggestion": "suggestions for things to do when traveling",
        "vaccines": "vaccinations needed for travel",
    },
    "utility": {
        "alarm": "setting an alarm",
        "calculator": "doing a math calculation",
        "date": "today's date or a date",
        "definition": "the definition or meaning of a word",
        "find_phone": "finding my lost phone",
        "flip_coin": "flipping a coin",
        "make_call": "making a phone call",
        "measurement_conversion": "converting units of measurement",
        "roll_dice": "rolling dice",
        "share_location": "sharing my location with someone",
        "spelling": "how to spell a word",
        "text": "sending a text message",
        "time": "what time it is",
        "timer": "setting a timer",
        "weather": "the weather forecast",
    },
    "work": {
        "direct_deposit": "setting up direct deposit of a paycheck",
        "income": "how much I earn, my salary or income",
        "insurance": "my insurance benefits",
        "insurance_change": "changing or getting new insurance",
        "meeting_schedule": "what meetings I have scheduled",
        "next_holiday": "when the next holiday is",
        "payday": "when I get paid next",
        "pto_balance": "how many vacation or PTO days I have left",
        "pto_request": "requesting vacation or time off",
        "pto_request_status": "the status of a time off request",
        "pto_used": "how many vacation or PTO days I have used",
        "rollover_401k": "rolling over a 401k",
        "schedule_meeting": "scheduling a meeting",
        "taxes": "taxes I owe or pay",
        "w2": "getting my W-2 tax form",
    },
}
CLINC150: dict[str, str] = {k: v for group in CLINC150_BY_DOMAIN.values() for k, v in group.items()}

CLINC_DOMAINS: dict[str, str] = {
    "auto_and_commute": (
        "cars, driving and commuting: fuel, maintenance, tires, traffic, directions, rides"
    ),
    "banking": "bank accounts: balance, transfers, bills, transactions, fraud, PIN, checks",
    "credit_cards": "credit cards: limits, APR, rewards, credit score, applications, lost cards",
    "home": "home assistant tasks: calendar, reminders, lists, music, shopping orders, smart home",
    "kitchen_and_dining": "food, cooking, recipes, nutrition and restaurant reservations",
    "meta": "controlling the assistant itself: its voice, name, language, settings, yes or no",
    "small_talk": "small talk with the assistant: greetings, jokes, questions about the assistant",
    "travel": "travel: flights, hotels, luggage, visas, car rental, time zones, translation",
    "utility": "utilities: time, date, weather, alarms, timers, calculations, calls, texts",
    "work": "work: pay, PTO and vacation days, meetings, insurance, taxes, 401k",
}

BITEXT: dict[str, str] = {
    "account": "a customer account: creating, editing, deleting, switching it or a password",
    "order": "an order: placing, changing, cancelling or tracking it",
    "refund": "a refund: getting one, tracking it or the refund policy",
    "delivery": "delivery options or how long delivery takes",
    "invoice": "an invoice: getting or checking it",
    "feedback": "feedback: a complaint or a review",
    "payment": "payment methods or a problem with a payment",
    "contact": "contacting customer service or a human agent",
    "shipping_address": "setting up or changing the shipping address",
    "cancellation_fee": "the fee for cancelling",
    "newsletter": "subscribing to or unsubscribing from the newsletter",
}


def _question(topic: str) -> str:
    return f"Is this text about {topic}?"


def _train_examples(path: Path, k: int, seed: int, field: str = "label") -> dict[str, list[str]]:
    by: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by[str(row[field])].append(row["text"].strip())
    rng = random.Random(seed)  # noqa: S311 (sampling, not secrets)
    return {
        label: rng.sample(sorted(set(texts)), min(k, len(set(texts))))
        for label, texts in by.items()
    }


def _labels(
    topics: dict[str, str],
    examples: dict[str, list[str]] | None,
    rename: dict[str, str] | None = None,
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for source, topic in topics.items():
        entry: dict[str, object] = {
            "name": (rename or {}).get(source, source),
            "rubric": _question(topic),
        }
        if examples is not None:
            entry["examples"] = examples.get(source, [])
        out.append(entry)
    return out


def _write(path: Path, doc: dict[str, object], header: str) -> None:
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header + body, encoding="utf-8")
    print(f"wrote {path.relative_to(HERE.parent)}")


def _header(source: str, fewshot: int) -> str:
    lines = [
        "# GENERATED by evals/make_rubrics.py; edit the tables there, not this file.",
        f"# Labels from {source}. Questions written by hand from the label names"
        " (train split read for meaning only).",
    ]
    if fewshot:
        lines.append(
            f"# examples: {fewshot} utterances per label sampled from the TRAIN split (few-shot,"
            " not zero-shot)."
        )
    return "\n".join(lines) + "\n"


def build(data_dir: Path, examples: int, seed: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    variants = [0] + ([examples] if examples else [])
    for k in variants:
        suffix = "_fewshot" if k else ""
        b_ex = _train_examples(data_dir / "banking77" / "train.jsonl", k, seed) if k else None
        _write(
            OUT / f"banking77{suffix}.yaml",
            {
                "name": f"banking77{suffix}",
                "description": "BANKING77 intents (Casanueva et al., 2020; CC BY 4.0).",
                "labels": _labels(BANKING77, b_ex),
            },
            _header("BANKING77 (PolyAI, CC BY 4.0)", k),
        )
        c_ex = _train_examples(data_dir / "clinc150_oos" / "train.jsonl", k, seed) if k else None
        _write(
            OUT / f"clinc150{suffix}.yaml",
            {
                "name": f"clinc150{suffix}",
                "description": "CLINC150 intents (Larson et al., 2019; CC BY 3.0); no 'oos' label:"
                " out-of-scope is 'none fits'.",
                "labels": _labels(CLINC150, c_ex),
            },
            _header("CLINC150 oos-eval (clinc, CC BY 3.0)", k),
        )
    _write(
        OUT / "clinc150_domains.yaml",
        {
            "name": "clinc150_domains",
            "description": "CLINC150's 10 domains (CC BY 3.0).",
            # a domain's examples are its intents' topics (from the table above, not data): the
            # encoder matches a query to a concrete intent far better than to a domain summary
            "labels": _labels(
                CLINC_DOMAINS,
                {d: list(CLINC150_BY_DOMAIN[d].values()) for d in CLINC_DOMAINS},
            ),
        },
        _header("CLINC150 domains (clinc, CC BY 3.0)", 0),
    )
    _write(
        OUT / "bitext.yaml",
        {
            "name": "bitext",
            "description": "Bitext customer-support categories (CDLA-Sharing-1.0); synthetic data.",
            "labels": _labels(BITEXT, None),
        },
        _header("Bitext customer support (CDLA-Sharing-1.0)", 0),
    )
    ontology = json.loads((data_dir / "nlupp" / "ontology.json").read_text(encoding="utf-8"))
    intents = [
        {"name": name, "rubric": spec["description"][0].upper() + spec["description"][1:]}
        for name, spec in ontology["intents"].items()
        if {"general", "banking"} & set(spec["domain"])
    ]
    _write(
        OUT / "nlupp_banking.yaml",
        {
            "name": "nlupp_banking",
            "description": "NLU++ banking + general intents (Casanueva et al., 2022; CC BY 4.0);"
            " rubric questions are the dataset's ontology.json descriptions, verbatim.",
            "axes": {"intent": {"multi_label": True, "labels": intents}},
        },
        "# GENERATED by evals/make_rubrics.py from NLU++ ontology.json (CC BY 4.0).\n",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--examples", type=int, default=0, help="train utterances per label")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    build(args.data_dir, args.examples, args.seed)


if __name__ == "__main__":
    main()
