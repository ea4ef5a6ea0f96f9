"""Worker processes tune malloc to hand large freed buffers back (glibc, which CI runs)."""

import subprocess
import sys
import textwrap

from tests.servers import ROOT


def test_the_tuning_is_taken_and_a_freed_image_buffer_leaves_the_process():
    code = textwrap.dedent(
        """
        import re
        from core import malloc

        def rss_kb():
            status = open("/proc/self/status").read()
            return int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1))

        assert malloc.return_freed_memory_promptly()
        before = rss_kb()
        for _ in range(20):  # many mid-sized pixel buffers, freed out of order
            buffers = [bytearray(3_000_000) for _ in range(10)]
            del buffers[::2]
            del buffers
        malloc.trim()
        print(rss_kb() - before)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 10_000  # KB still held after the buffers were freed
