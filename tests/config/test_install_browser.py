"""scripts/install-browser waits for another apt or dpkg holding the lock on a shared machine."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-browser"


def test_every_apt_get_call_waits_for_the_lock(tmp_path):
    """Run the script as "root" with a recording apt-get: update and install both wait."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (fake / "id").write_text("#!/bin/sh\necho 0\n")
    for tool in fake.iterdir():
        tool.chmod(0o755)
    subprocess.run(
        [str(SCRIPT)],
        check=True,
        timeout=30,
        env={
            **os.environ,
            "PATH": f"{fake}:{os.environ['PATH']}",
            "E2E_CHROMIUM": str(tmp_path / "no-chromium"),
        },
    )
    lines = calls.read_text().splitlines()
    assert [line.split()[2] for line in lines] == ["update", "install"]
    assert all(line.startswith("-o DPkg::Lock::Timeout=600 ") for line in lines), lines


def test_no_apt_get_call_in_the_script_lacks_the_timeout():
    """A static check, so an apt-get added later cannot skip the lock timeout."""
    text = SCRIPT.read_text()
    bare = [
        line
        for line in text.splitlines()
        if "apt-get " in line
        and "DPkg::Lock::Timeout" not in line
        and not line.lstrip().startswith(("#", "echo", "if ! command"))
    ]
    assert bare == []
