"""Code run by several threads at once, as several workers would run it."""

import threading

from django.db import connections


def run_at_once(target, arguments) -> list[BaseException]:
    """Call target(argument) for each argument in a thread of its own, all started together;
    each thread closes its database connections at the end. The exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(arguments))

    def run(argument) -> None:
        try:
            start.wait()
            target(argument)
        except BaseException as error:  # reported to the test, in its own thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stuck = [thread for thread in threads if thread.is_alive()]
    if stuck:
        errors.append(TimeoutError(f"{len(stuck)} of {len(threads)} threads still running"))
    return errors
