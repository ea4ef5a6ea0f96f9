"""Work handed off by a request runs on the background thread; elsewhere it runs at once."""

import threading

from django.http import HttpResponse
from django.test import RequestFactory

from core.background import BackgroundWorkMiddleware, in_background
from tests.servers import wait_for


def test_outside_a_request_it_runs_at_once_in_this_thread():
    ran_in = []
    in_background(lambda: ran_in.append(threading.current_thread()))
    assert ran_in == [threading.current_thread()]


def test_a_request_hands_it_to_the_background_thread_in_order():
    ran = []
    release = threading.Event()

    def view(request):
        in_background(release.wait)  # holds the thread until the response is out
        in_background(lambda: 1 / 0)  # a failure does not stop what follows
        in_background(lambda: ran.append(("first", threading.current_thread().name)))
        in_background(lambda: ran.append(("second", threading.current_thread().name)))
        return HttpResponse("ok")

    response = BackgroundWorkMiddleware(view)(RequestFactory().get("/"))
    assert response.status_code == 200 and ran == []  # answered before the work ran
    release.set()
    wait_for(lambda: len(ran) == 2, timeout=10, what="the background work")
    assert ran == [("first", "background"), ("second", "background")]


def test_the_request_mark_does_not_leak_past_the_request():
    BackgroundWorkMiddleware(lambda request: HttpResponse("ok"))(RequestFactory().get("/"))
    ran_in = []
    in_background(lambda: ran_in.append(threading.current_thread()))
    assert ran_in == [threading.current_thread()]
