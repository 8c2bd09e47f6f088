"""How the line says times and understands which offered time the caller picked."""

from datetime import date, datetime

from dialogs.actions.identity import clean_name
from dialogs.actions.phrasing import choose, speak_moment
from nlu.dates import parse_dob

OFFERS = [datetime(2031, 3, 4, 9, 0), datetime(2031, 3, 5, 14, 30), datetime(2031, 3, 6, 10, 0)]


def test_moment_is_said_with_weekday_and_short_time() -> None:
    assert speak_moment(datetime(2031, 3, 4, 9, 0)) == "Tuesday, March 4 at 9 AM"
    assert speak_moment(datetime(2031, 3, 5, 14, 30)) == "Wednesday, March 5 at 2:30 PM"


def test_ordinal_picks_offer() -> None:
    assert choose("the second one please", OFFERS, yes_means_first=False) == 1
    assert choose("i'll take the last one", OFFERS, yes_means_first=False) == 2


def test_weekday_or_hour_picks_offer() -> None:
    assert choose("thursday works", OFFERS, yes_means_first=False) == 2
    assert choose("the two thirty", OFFERS, yes_means_first=False) == 1


def test_plain_yes_takes_first_offer_only_when_allowed() -> None:
    assert choose("yes that works", OFFERS, yes_means_first=True) == 0
    assert choose("hmm", OFFERS, yes_means_first=False) is None


def test_name_lead_in_is_dropped() -> None:
    assert clean_name("um my name is Maria Lopez.") == "Maria Lopez"
    assert clean_name("it's James Carter") == "James Carter"
    assert clean_name("Aisha Khan") == "Aisha Khan"


def test_keypad_dob_is_month_day_year_and_never_future() -> None:
    today = date(2031, 3, 3)
    assert parse_dob("03041972", today) == date(1972, 3, 4)
    assert parse_dob("13041972", today) is None
    assert parse_dob("01012040", today) is None
    assert parse_dob("0304", today) is None


def test_caller_can_pick_an_offer_by_the_doctor_name() -> None:
    from dialogs.actions.offers import by_provider

    offers = [{"provider": "Dr. Nguyen"}, {"provider": "Dr. Patel"}, {"provider": "Dr. Okafor"}]
    assert by_provider("with doctor patel please", offers) == 1
    assert by_provider("yes that works", offers) is None
    # As the recogniser writes names it hears by ear; two providers named is no pick.
    assert by_provider("the one with doctor nuyen", offers) == 0
    assert by_provider("okafour please", offers) == 2
    assert by_provider("Patel or Okafor, either", offers) is None
