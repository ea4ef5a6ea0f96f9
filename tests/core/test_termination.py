"""A polite stop waits for the end of a step that must not be cut in two, then acts."""

import signal
import subprocess
import sys
import textwrap

from tests.servers import ROOT


def test_sigterm_inside_the_block_acts_only_after_it():
    code = textwrap.dedent(
        """
        import os, signal, sys
        from core.termination import termination_deferred

        with termination_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            print("the step finished", flush=True)
        print("never reached", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.stdout == "the step finished\n"
    assert done.returncode == -signal.SIGTERM
