"""Deferred work runs after the response is sent, or at once outside a request."""

from django.http import HttpResponse
from django.test import RequestFactory

from core.after_response import AfterResponseMiddleware, after_response


def test_outside_a_request_it_runs_at_once():
    calls = []
    after_response(lambda: calls.append("ran"))
    assert calls == ["ran"]


def test_inside_a_request_it_waits_for_the_response_to_close():
    calls = []

    def view(request):
        after_response(lambda: calls.append("first"))
        after_response(lambda: 1 / 0)  # a failure does not stop the rest
        after_response(lambda: calls.append("second"))
        calls.append("view done")
        return HttpResponse("ok")

    response = AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert calls == ["view done"]
    response.close()  # what the WSGI server does after sending the last byte
    assert calls == ["view done", "first", "second"]
    # And the request's list does not leak into work done after it.
    after_response(lambda: calls.append("later"))
    assert calls[-1] == "later"


def test_no_deferred_work_adds_nothing_to_the_response():
    response = AfterResponseMiddleware(lambda request: HttpResponse("ok"))(
        RequestFactory().get("/")
    )
    assert response._resource_closers == []
