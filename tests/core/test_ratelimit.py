"""Rate limits counted in the database: windows, Retry-After, the client's address."""

import subprocess
import sys

import pytest
from django.test import RequestFactory

from core.models import RateLimitWindow
from core.ratelimit import Rate, RateLimited, client_ip, hit

T0 = 1_800_000_000.0  # a window start for 60-second windows (divisible by 60)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("30/h", Rate(30, 3600)), ("10/5m", Rate(10, 300)), (" 5 / 2d ", Rate(5, 172800))],
)
def test_rates_are_read_as_written(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "  ", None])
def test_an_empty_rate_is_no_limit(text):
    assert Rate.parse(text) is None


@pytest.mark.parametrize("text", ["often", "10", "0/h", "10/0m", "10/week"])
def test_a_bad_rate_says_how_to_write_it(text):
    with pytest.raises(ValueError, match="count/window"):
        Rate.parse(text)


@pytest.mark.django_db
def test_past_the_limit_is_refused_until_the_window_ends():
    rate = Rate(2, 60)
    hit("k", rate, message="Slow down.", now=T0)
    hit("k", rate, message="Slow down.", now=T0 + 10)
    with pytest.raises(RateLimited) as refused:
        hit("k", rate, message="Slow down.", now=T0 + 15)
    assert refused.value.retry_after == 45
    assert str(refused.value) == "Slow down. Please try again in 45 seconds."
    # Another key counts alone.
    hit("other", rate, message="Slow down.", now=T0 + 15)
    # The next window starts the count again, on the same row.
    hit("k", rate, message="Slow down.", now=T0 + 60)
    hit("k", rate, message="Slow down.", now=T0 + 61)
    with pytest.raises(RateLimited):
        hit("k", rate, message="Slow down.", now=T0 + 62)
    assert RateLimitWindow.objects.filter(key="k").count() == 1


@pytest.mark.django_db
def test_windows_that_are_over_are_forgotten_as_new_ones_begin():
    rate = Rate(5, 60)
    hit("once", rate, message="", now=T0)
    hit("twice", rate, message="", now=T0 + 1)
    hit("twice", rate, message="", now=T0 + 61)  # the same key, a new window: the same row
    assert set(RateLimitWindow.objects.values_list("key", flat=True)) == {"twice"}


@pytest.mark.django_db
def test_no_rate_counts_nothing():
    hit("k", None, message="", now=T0)
    assert not RateLimitWindow.objects.exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_another_process_counts_the_same_attempts(worker_env):
    """As a second web process would: the limit holds across processes."""
    rate = Rate(2, 3600)
    hit("shared", rate, message="Slow down.")
    hit("shared", rate, message="Slow down.")
    code = (
        "import django; django.setup()\n"
        "from core.ratelimit import Rate, RateLimited, hit\n"
        "try:\n    hit('shared', Rate(2, 3600), message='Slow down.')\n"
        "except RateLimited:\n    print('refused')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=worker_env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "refused", result.stderr


def test_the_address_is_the_connections_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(request) == "10.0.0.5"


def test_behind_one_proxy_the_address_it_appended_counts(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote the first entry itself; the router appended the second.
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_ip(request) == "203.0.113.9"
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="10.0.0.5")) == "10.0.0.5"
