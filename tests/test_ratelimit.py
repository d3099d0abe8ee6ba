"""The rate limiter's arithmetic on a fake clock, and each form of rate-limit headers it reads."""

from __future__ import annotations

import pytest

from tap_rest.quota import Quota, exhausted_wait, parse_quota
from tap_rest.ratelimit import INCREASE, INCREASE_NEAR, MARGIN, RateLimiter
from tap_rest.tap import TapRest

NOW = 1_800_000_000.0  # a Unix time, for the headers that give the reset as one


class Clock:
    """A fake clock: sleeping moves it on, and every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(clock: Clock, rate: float | None = None) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep)


def send(lim: RateLimiter, headers: dict[str, str] | None = None, **answer: object) -> None:
    """One request: acquire, answered at once, observed."""
    lim.acquire()
    lim.release()
    lim.observe(headers or {}, limited=bool(answer.get("limited")), wait=answer.get("wait"))  # type: ignore[arg-type]


# --- the headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # IETF draft 03-06: reset in delta seconds
        (
            {"RateLimit-Limit": "50", "RateLimit-Remaining": "7", "RateLimit-Reset": "2"},
            Quota(limit=50, remaining=7, reset=2),
        ),
        # GitHub: X-RateLimit-Reset in epoch seconds
        (
            {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(NOW) + 42),
            },
            Quota(limit=5000, remaining=0, reset=42),
        ),
        # epoch milliseconds
        (
            {"X-Rate-Limit-Remaining": "3", "X-Rate-Limit-Reset": str(int(NOW * 1000) + 1500)},
            Quota(remaining=3, reset=1.5),
        ),
        # Discord: a delta beside an epoch reset
        (
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.25"},
            Quota(remaining=0, reset=1.25),
        ),
        # IETF draft 01: one structured header
        ({"RateLimit": "limit=10, remaining=0, reset=5"}, Quota(limit=10, remaining=0, reset=5)),
        # IETF draft 07+: RateLimit with r and t, the quota and window in RateLimit-Policy
        (
            {"RateLimit": '"default";r=4;t=30', "RateLimit-Policy": '"default";q=100;w=60'},
            Quota(limit=100, remaining=4, reset=30, window=60),
        ),
        # IETF draft 05: RateLimit-Policy as limit;w=window
        (
            {"RateLimit-Remaining": "9", "RateLimit-Reset": "1", "RateLimit-Policy": "10;w=1"},
            Quota(limit=10, remaining=9, reset=1, window=1),
        ),
        # IETF draft 03: the policy after the limit's first number
        (
            {"RateLimit-Limit": "10, 10;w=1, 50;w=60", "RateLimit-Remaining": "2"},
            Quota(limit=10, remaining=2, window=1),
        ),
        # Shopify's leaky bucket: used/size, no reset
        ({"X-Shopify-Shop-Api-Call-Limit": "39/40"}, Quota(limit=40, remaining=1)),
        ({"Content-Type": "application/json"}, None),
    ],
)
def test_each_form_of_rate_limit_headers_is_read(headers, expected) -> None:
    assert parse_quota(headers, now=NOW) == expected


def test_a_policy_gives_the_servers_rate() -> None:
    assert Quota(limit=100, window=60).rate == pytest.approx(100 / 60)
    assert Quota(limit=100).rate is None


def test_a_wait_only_when_nothing_is_left_and_the_reset_is_known() -> None:
    assert exhausted_wait({"RateLimit-Remaining": "0", "RateLimit-Reset": "3"}) == 3
    assert exhausted_wait({"RateLimit-Remaining": "1", "RateLimit-Reset": "3"}) is None
    assert exhausted_wait({"X-Shopify-Shop-Api-Call-Limit": "40/40"}) is None


# --- the limiter -------------------------------------------------------------------------


def test_a_429_pauses_everyone_then_the_rate_is_what_the_server_accepted() -> None:
    clock = Clock()
    lim = limiter(clock)
    for _ in range(49):
        send(lim)
        clock.now += 0.004
    send(lim, limited=True, wait=1.0)  # at about 0.2 s: 49 accepted, then "wait 1 s"
    assert lim.learned is None
    lim.acquire()
    assert sum(clock.slept) == pytest.approx(1.0), "the Retry-After was waited"
    # 49 accepted over the 0.196 s they took and the 1 s wait
    assert lim.learned == pytest.approx(49 / 1.196)
    assert lim.limits == 1


def test_the_answers_in_flight_meet_the_same_limit_once() -> None:
    clock = Clock()
    lim = limiter(clock)
    for _ in range(10):
        lim.acquire()
    clock.now += 0.2
    for n in range(10):  # ten answers in flight: 5 accepted, then 5 refused
        lim.release()
        lim.observe({}, limited=n >= 5, wait=1.0 if n >= 5 else None)
    lim.acquire()
    assert lim.limits == 1
    assert lim.history == [pytest.approx(5 / 1.2)]


def test_the_rate_rises_slowly_while_no_limit_comes() -> None:
    clock = Clock()
    lim = limiter(clock)
    send(lim, limited=True, wait=1.0)
    lim.acquire()
    t0 = lim.learned
    assert t0 is not None
    for _ in range(10):  # ten seconds, a request each second
        clock.now += 1.0
        send(lim)
    assert lim.learned == pytest.approx(t0 * (1 + INCREASE) ** 10)


def test_near_the_rate_that_met_a_limit_it_rises_more_slowly() -> None:
    clock = Clock()
    lim = limiter(clock)
    send(lim, limited=True, wait=1.0)
    lim.acquire()
    lim.learned = 20.0
    send(lim, limited=True, wait=1.0)  # met again at 20
    lim.acquire()
    after = lim.learned
    assert after is not None
    assert 14 <= after <= 18  # between 0.7 and 0.9 of 20
    lim.learned = 19.0  # within 10 % of 20
    clock.now += 1.0
    lim.acquire()
    assert lim.learned == pytest.approx(19.0 * (1 + INCREASE_NEAR))


def test_a_second_limit_cuts_the_rate_by_a_tenth_to_three_tenths() -> None:
    clock = Clock()
    lim = limiter(clock)
    send(lim, limited=True, wait=1.0)
    lim.acquire()
    lim.learned = 40.0
    for _ in range(400):  # 400 accepted in 10 s: 40/s, then a limit
        clock.now += 0.025
        send(lim)
    lim.learned = 40.0
    send(lim, limited=True, wait=1.0)
    lim.acquire()
    assert lim.learned == pytest.approx(36.0)  # 400/11 s is 36.4: at most 0.9 of 40
    lim.learned = 40.0
    send(lim, limited=True, wait=30.0)  # accepted nothing, long wait: at least 0.7 of 40
    lim.acquire()
    assert lim.learned == pytest.approx(28.0)


def test_a_bare_429_halves_the_rate_once_a_second() -> None:
    clock = Clock()
    lim = limiter(clock)
    for _ in range(20):
        send(lim)  # 20 accepted in 1 s
        clock.now += 0.05
    send(lim, limited=True)
    assert lim.learned == pytest.approx(20 / 1.0 * 0.5)
    send(lim, limited=True)  # in the same second: the same limit
    assert lim.learned == pytest.approx(10.0)
    clock.now += 1.0
    send(lim, limited=True)
    assert lim.learned == pytest.approx(5.0, rel=0.1)
    assert lim.limits == 3


def test_headers_limit_over_window_is_the_rate_after_a_limit() -> None:
    clock = Clock()
    lim = limiter(clock)
    headers = {"RateLimit-Limit": "50", "RateLimit-Remaining": "40", "RateLimit-Reset": "1"}
    for _ in range(10):
        send(lim, headers)
    send(lim, {**headers, "RateLimit-Remaining": "0"}, limited=True, wait=1.0)
    lim.acquire()
    assert lim.learned == pytest.approx(MARGIN * 50)
    clock.now += 100  # no rise beyond the server's rate
    lim.acquire()
    assert lim.learned == pytest.approx(MARGIN * 50)


def test_the_remaining_budget_less_the_requests_in_flight_stops_a_burst() -> None:
    clock = Clock()
    lim = limiter(clock)
    for _ in range(3):
        lim.acquire()  # three in flight
    lim.release()
    lim.observe({"RateLimit-Remaining": "4", "RateLimit-Reset": "2"}, limited=False)
    # 4 left, 2 of them spent by the requests still in flight: 2 more may go, then a wait
    lim.acquire()
    lim.acquire()
    assert clock.slept == []
    lim.acquire()
    assert clock.slept == [pytest.approx(2.0)], "the third waits for the reset"
    assert lim.limits == 1


def test_a_spent_bucket_without_a_reset_waits_a_second() -> None:
    clock = Clock()
    lim = limiter(clock)
    send(lim, {"X-Shopify-Shop-Api-Call-Limit": "40/40"})
    lim.acquire()
    assert clock.slept == [pytest.approx(1.0)]


def test_the_users_rate_stays_the_ceiling() -> None:
    clock = Clock()
    lim = limiter(clock, rate=5)
    headers = {"RateLimit-Limit": "50", "RateLimit-Remaining": "40", "RateLimit-Reset": "1"}
    send(lim, headers)
    send(lim, {**headers, "RateLimit-Remaining": "0"}, limited=True, wait=1.0)
    lim.acquire()
    assert lim.learned == pytest.approx(45.0)
    assert lim.effective == 5
    start = clock.now
    for _ in range(10):
        lim.acquire()
    assert clock.now - start == pytest.approx(10 / 5)


def test_a_pause_set_after_acquire_holds_the_request_before_it_goes() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()  # this thread has its token ...
    lim.observe({}, limited=True, wait=3.0)  # ... when another's 429 comes back
    lim.hold()
    assert clock.slept == [pytest.approx(3.0)]
    lim.hold()
    assert clock.slept == [pytest.approx(3.0)], "no pause left: no wait"


def test_apis_learn_each_their_own_rate_under_the_taps_shared_ceiling() -> None:
    clock = Clock()
    shared = RateLimiter(5, clock=clock, sleep=clock.sleep)
    github, jira = (RateLimiter(ceiling=shared, clock=clock, sleep=clock.sleep) for _ in range(2))
    start = clock.now
    for _ in range(5):
        github.acquire()
        jira.acquire()
    assert clock.now - start == pytest.approx(9 / 5), "ten requests at 5/s between them"
    github.observe({}, limited=True, wait=30.0)
    jira.hold()
    jira.acquire()
    assert clock.now - start < 30, "GitHub's wait holds GitHub's requests only"
    github.hold()
    assert clock.now - start >= 30
    assert jira.limits == 0
    assert github.limits == 1


def test_an_answer_saying_nothing_is_left_holds_a_request_about_to_go() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()
    lim.acquire()  # this one has its turn, and is about to send ...
    lim.release()  # ... when the other's answer says nothing is left until in 4 s
    lim.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "4"}, limited=False)
    lim.hold()
    assert clock.slept == [pytest.approx(4.0)]
    assert lim.limits == 1


def test_streams_on_one_host_share_what_it_allows_and_other_hosts_do_not() -> None:
    def stream(name: str, base_url: str) -> dict:
        return {
            "name": name,
            "base_url": base_url,
            "path": "/x",
            "primary_keys": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        }

    tap = TapRest(
        config={
            "streams": [
                stream("a", "https://api.example.com/v1"),
                stream("b", "https://api.example.com/v2"),
                stream("c", "https://other.example.com"),
            ]
        }
    )
    a, b, c = (tap.streams[n].limiter for n in "abc")
    assert a is b
    assert a is not c
