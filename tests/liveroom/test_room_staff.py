"""Staff run the room from the live dashboard (liveroom/engagementviews.py): owners and
managers moderate questions and change the questions' settings; viewer members see no button
and are refused; another campaign's staff, another event's question, an unknown action and GET
are refused and change nothing."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from engagement import asks, polls, reactions
from engagement.models import Ask, Poll, Question, QuestionStatus, RoomSettings
from events.models import EventStatus
from liveroom.engagementviews import VIEW_ONLY
from tests.engagement.factories import QuestionFactory, open_poll
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _url(event_id: int, question_id: int, action: str) -> str:
    return reverse("liveroom:question-action", args=[event_id, question_id, action])


def _state(question: Question) -> tuple[str, bool]:
    question.refresh_from_db()
    return question.status, question.on_screen


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owners_and_managers_approve_and_pin_from_the_dashboard(client, staff_factory, event, role):
    question = QuestionFactory(event=event, text='<b onclick="x()">Rent?</b>')
    client.force_login(staff_factory(event.campaign, role=role))
    dashboard = reverse("liveroom:dashboard", args=[event.pk])
    page = client.get(dashboard).content.decode()
    assert "Waiting for you (1)" in page
    assert "&lt;b onclick=&quot;x()&quot;&gt;Rent?&lt;/b&gt;" in page  # text, never HTML
    assert 'data-question-action="approve"' in page

    response = client.post(_url(event.pk, question.pk, "approve"), follow=True)

    assert response.redirect_chain[-1][0] == f"{dashboard}#room"
    assert "Question approved: it is on every page." in response.content.decode()
    assert _state(question) == ("approved", False)

    response = client.post(
        _url(event.pk, question.pk, "pin"), headers={"accept": "application/json"}
    )
    assert response.json() == {"question": question.pk, "status": "approved", "on_screen": True}
    assert _state(question) == ("approved", True)
    assert "On screen now" in client.get(dashboard).content.decode()


def test_a_viewer_member_sees_no_buttons_and_is_refused(client, staff_factory, event):
    question = QuestionFactory(event=event)
    client.force_login(staff_factory(event.campaign, role="viewer"))
    page = client.get(reverse("liveroom:dashboard", args=[event.pk])).content.decode()
    assert question.text in page
    assert "data-question-action" not in page
    assert "data-room-setting" not in page

    response = client.post(_url(event.pk, question.pk, "approve"))
    settings = client.post(
        reverse("liveroom:question-settings", args=[event.pk]), {"questions_open": "on"}
    )

    assert (response.status_code, response.content.decode()) == (403, VIEW_ONLY)
    assert settings.status_code == 403
    assert _state(question) == ("pending", False)
    assert not RoomSettings.objects.exists()


def test_another_campaigns_staff_get_a_404_and_change_nothing(client, staff_factory, event):
    question = QuestionFactory(event=event)
    client.force_login(staff_factory(CampaignFactory(), role="owner"))

    for action in ("approve", "pin", "dismiss"):
        assert client.post(_url(event.pk, question.pk, action)).status_code == 404
    response = client.post(reverse("liveroom:question-settings", args=[event.pk]), {})

    assert response.status_code == 404
    assert _state(question) == ("pending", False)
    assert not RoomSettings.objects.exists()


def test_another_events_question_an_unknown_action_and_get_are_refused(
    client, staff_factory, event
):
    other = QuestionFactory(event=EventFactory(campaign=event.campaign))
    mine = QuestionFactory(event=event)
    client.force_login(staff_factory(event.campaign))

    assert client.post(_url(event.pk, other.pk, "approve")).status_code == 404
    assert client.post(_url(event.pk, mine.pk, "delete")).status_code == 404
    assert client.get(_url(event.pk, mine.pk, "approve")).status_code == 405
    assert _state(other) == _state(mine) == ("pending", False)


def test_pinning_a_dismissed_question_says_why(client, staff_factory, event):
    question = QuestionFactory(event=event, status=QuestionStatus.DISMISSED)
    client.force_login(staff_factory(event.campaign))

    response = client.post(
        _url(event.pk, question.pk, "pin"), headers={"accept": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Approve the question again before you pin it."}
    assert _state(question) == ("dismissed", False)


def test_staff_close_questions_and_show_them_at_once(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign))
    url = reverse("liveroom:question-settings", args=[event.pk])

    response = client.post(url, {}, follow=True)
    assert "Questions are closed." in response.content.decode()
    assert "Open questions" in response.content.decode()
    client.post(url, {"questions_open": "on", "show_questions_at_once": "on"})

    settings = RoomSettings.objects.get(event=event)
    assert (settings.questions_open, settings.show_questions_at_once) == (True, True)


def _poll_url(event_id: int, poll_id: int, action: str) -> str:
    return reverse("liveroom:poll-action", args=[event_id, poll_id, action])


def test_a_manager_prepares_a_poll_and_opens_it_at_once(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign))
    dashboard = reverse("liveroom:dashboard", args=[event.pk])
    assert 'id="new-poll"' in client.get(dashboard).content.decode()

    response = client.post(
        reverse("liveroom:poll-create", args=[event.pk]),
        {"question": "Which first?", "option": ["Rent", "Jobs", "", "", "", ""], "then": "open"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == f"{dashboard}#polls"
    assert "Poll open on every page." in response.content.decode()
    poll = Poll.objects.get()
    assert (poll.question, poll.status) == ("Which first?", "open")
    assert list(poll.options.values_list("text", flat=True)) == ["Rent", "Jobs"]
    client.post(
        reverse("liveroom:poll-create", args=[event.pk]),
        {"question": "Later?", "option": ["Yes", "No"], "then": "prepare"},
    )
    assert Poll.objects.get(question="Later?").status == "draft"


def test_a_bad_poll_comes_back_with_what_was_typed_and_the_reason(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign))

    response = client.post(
        reverse("liveroom:poll-create", args=[event.pk]),
        {"question": "Which <b>first</b>?", "option": ["Rent", "", "", "", "", ""]},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "A poll has 2 to 6 answers (this one has 1)." in html
    assert 'value="Which &lt;b&gt;first&lt;/b&gt;?"' in html
    assert 'id="new-poll-option-1" name="option" maxlength="100" value="Rent"' in html
    assert not Poll.objects.exists()
    json_client = client.post(
        reverse("liveroom:poll-create", args=[event.pk]),
        {"question": "", "option": ["A", "B"]},
        headers={"accept": "application/json"},
    )
    assert (json_client.status_code, json_client.json()) == (
        400, {"error": "Type the poll's question."},
    )  # fmt: skip
    assert not Poll.objects.exists()


def test_staff_close_reveal_and_take_a_poll_off_the_page(client, staff_factory, event):
    poll = open_poll(event)
    client.force_login(staff_factory(event.campaign))
    for action in ("close", "reveal", "remove"):
        response = client.post(_poll_url(event.pk, poll.pk, action))
        assert response.status_code == 302
    poll.refresh_from_db()
    assert (poll.status, poll.results_revealed) == ("archived", True)
    response = client.post(
        _poll_url(event.pk, poll.pk, "close"), headers={"accept": "application/json"}
    )
    assert (response.status_code, response.json()) == (
        400, {"error": "Only an open poll can be closed."},
    )  # fmt: skip


def test_polls_refuse_other_campaigns_viewers_and_other_events(client, staff_factory, event):
    poll = open_poll(event)
    other = open_poll(EventFactory(campaign=event.campaign, status=EventStatus.LIVE))
    client.force_login(staff_factory(CampaignFactory(), role="owner"))
    assert client.post(_poll_url(event.pk, poll.pk, "close")).status_code == 404
    assert (
        client.post(
            reverse("liveroom:poll-create", args=[event.pk]),
            {"question": "Q", "option": ["A", "B"]},
        ).status_code
        == 404
    )
    client.force_login(staff_factory(event.campaign, role="viewer"))
    assert client.post(_poll_url(event.pk, poll.pk, "close")).status_code == 403
    assert (
        client.post(
            reverse("liveroom:poll-create", args=[event.pk]),
            {"question": "Q", "option": ["A", "B"]},
        ).status_code
        == 403
    )
    client.force_login(staff_factory(event.campaign))
    assert client.post(_poll_url(event.pk, other.pk, "close")).status_code == 404
    assert client.post(_poll_url(event.pk, poll.pk, "delete")).status_code == 404
    assert set(Poll.objects.values_list("status", flat=True)) == {"open"}
    assert Poll.objects.count() == 2


def test_the_dashboard_shows_each_polls_exact_counts(client, staff_factory, event):
    poll = open_poll(event, options=("Rent", "Jobs"))
    for n, voter in enumerate(["a" * 32, "b" * 32, "c" * 32]):
        option = poll.options.get(position=1 if n < 2 else 2)
        polls.cast_vote(event_id=event.pk, poll_id=poll.pk, option_id=option.pk, voter=voter)
    client.force_login(staff_factory(event.campaign))
    html = client.get(reverse("liveroom:dashboard", args=[event.pk]) + "?fragment=1")
    text = html.content.decode()
    assert "3 votes · results only for voters" in text
    assert '<th scope="row">Rent</th><td class="num">2</td><td class="num">67%</td>' in text
    assert '<th scope="row">Jobs</th><td class="num">1</td><td class="num">33%</td>' in text


def test_the_dashboard_shows_the_last_minutes_reactions(client, staff_factory, event, live_redis):
    pipe = live_redis.pipeline()
    minute = reactions.minute_of(time.time())
    reactions.add_count_commands(pipe, event_id=event.pk, counts={"clap": 7}, minute=minute)
    reactions.add_count_commands(pipe, event_id=event.pk, counts={"heart": 2}, minute=minute - 1)
    pipe.execute()
    client.force_login(staff_factory(event.campaign, role="viewer"))
    html = client.get(reverse("liveroom:dashboard", args=[event.pk]) + "?fragment=1")
    text = html.content.decode()
    assert '<span class="dash-reaction">❤️ 2</span><span class="dash-reaction">👏 7</span>' in text


def test_a_manager_prepares_an_ask_and_pins_it_and_takes_it_down(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign))
    dashboard = reverse("liveroom:dashboard", args=[event.pk])

    response = client.post(
        reverse("liveroom:ask-create", args=[event.pk]),
        {"text": "Give $27 now", "amount": "27", "tag": "", "then": "pin"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == f"{dashboard}#asks"
    assert "Ask pinned on every page." in response.content.decode()
    ask = Ask.objects.get()
    assert (ask.amount_minor, ask.tag, ask.pinned) == (2_700, "ask-1", True)
    assert '<strong class="dash-votes">$27</strong>' in response.content.decode()
    client.post(reverse("liveroom:ask-action", args=[event.pk, ask.pk, "unpin"]))
    ask.refresh_from_db()
    assert ask.pinned is False


def test_a_bad_ask_comes_back_with_what_was_typed_and_the_reason(client, staff_factory, event):
    client.force_login(staff_factory(event.campaign))

    response = client.post(
        reverse("liveroom:ask-create", args=[event.pk]),
        {"text": "Give now", "amount": "27.505", "tag": "ask-x"},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Use at most two decimal places." in html
    for typed in ('value="27.505"', 'value="Give now"', 'value="ask-x"'):
        assert typed in html
    assert not Ask.objects.exists()


def test_asks_refuse_other_campaigns_and_viewers(client, staff_factory, event):
    ask = asks.create_ask(event_id=event.pk, text="Give", amount_minor=2_700, by_user_id=None)
    url = reverse("liveroom:ask-action", args=[event.pk, ask.pk, "pin"])
    create = reverse("liveroom:ask-create", args=[event.pk])
    client.force_login(staff_factory(CampaignFactory(), role="owner"))
    assert client.post(url).status_code == 404
    assert client.post(create, {"text": "Give", "amount": "5"}).status_code == 404
    client.force_login(staff_factory(event.campaign, role="viewer"))
    assert client.post(url).status_code == 403
    assert client.post(create, {"text": "Give", "amount": "5"}).status_code == 403
    assert client.post(create, {"text": "", "amount": "x"}).status_code == 403
    assert list(Ask.objects.values_list("pinned", flat=True)) == [False]
