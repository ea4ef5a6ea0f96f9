"""The production image's Python layer, built as the Dockerfile builds it, serves /healthz.

No Docker engine is needed: the Dockerfile's own steps run here in a clean virtualenv and a
copy of the build context (.dockerignore applied): the requirements install, collectstatic
with the production settings, gunicorn with the image's CMD, and the image's HEALTHCHECK.
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.test_deploy_files import heroku_env, stop_group
from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """{stage name: [(INSTRUCTION, arguments), ...]}, continuation lines joined."""
    stages: dict[str, list[tuple[str, str]]] = {}
    logical = re.sub(r"\\\n\s*", " ", text)
    current = None
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            current = arguments.split(" AS ")[-1].strip() if " AS " in arguments else arguments
            stages[current] = []
        else:
            stages[current].append((instruction, arguments.strip()))
    return stages


STAGES = dockerfile_stages((ROOT / "Dockerfile").read_text())
FINAL = STAGES[list(STAGES)[-1]]


def instructions(stage, name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


def environment(stage) -> dict[str, str]:
    env = {}
    for arguments in instructions(stage, "ENV"):
        env.update(word.split("=", 1) for word in shlex.split(arguments))
    return env


def test_the_image_is_production_only_non_root_and_checked():
    assert list(STAGES)[-1] == "production", "the default target must be the production image"
    build_runs = " ".join(instructions(STAGES["build"], "RUN"))
    assert "-r requirements/production.txt" in build_runs
    assert "local.txt" not in build_runs
    assert "--from=build /opt/venv /opt/venv" in instructions(FINAL, "COPY")
    assert environment(FINAL)["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    users = instructions(FINAL, "USER")
    assert users and users[-1] not in ("root", "0")
    assert any("collectstatic" in run for run in instructions(FINAL, "RUN"))
    assert json.loads(instructions(FINAL, "CMD")[-1])[0] == "gunicorn"
    assert "/healthz" in (ROOT / instructions(FINAL, "HEALTHCHECK")[-1].split('"')[-2]).read_text()


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns used here: the last matching pattern wins."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").removeprefix("**/")
        parts = Path(path).parts
        if any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))) or (
            fnmatch.fnmatch(parts[-1], pattern)
        ):
            ignored = not negated
    return ignored


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_keeps_local_state_out_of_the_image():
    patterns = dockerignore_patterns()
    for path in (".venv/bin/python", "var/db.sqlite3", ".git/HEAD", ".env", "staticfiles/x.css",
                 "var/test-artifacts/a.png", "media_pipeline/__pycache__/models.cpython-313.pyc",
                 ".pytest_cache/v", ".ruff_cache/x", "tests/conftest.py"):  # fmt: skip
        assert dockerignored(path, patterns), path
    kept = ("manage.py", "config/settings/production.py", "requirements/production.txt",
            "scripts/healthcheck", "media_pipeline/static/media_pipeline/app.css")  # fmt: skip
    for path in kept:
        assert not dockerignored(path, patterns), path


def build_context(destination: Path) -> None:
    """The files `docker build .` would send: the checkout's files less .dockerignore's."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    patterns = dockerignore_patterns()
    for path in filter(None, listed):
        if (ROOT / path).is_file() and not dockerignored(path, patterns):
            (destination / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, destination / path)


def run_step(command: str, *, cwd: Path, env: dict) -> None:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_dockerfile_steps_build_an_app_that_answers_healthz(worker_env, tmp_path):
    import requests

    app, venv = tmp_path / "app", tmp_path / "venv"
    build_context(app)
    env = {
        "HOME": os.environ.get("HOME", str(tmp_path)),  # pip's cache is allowed
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    # The build stage's RUN: a virtualenv of the image's Python with the runtime set only.
    install = next(r for r in instructions(STAGES["build"], "RUN") if "production.txt" in r)
    install = install.replace("/opt/venv", str(venv)).replace(
        "python -m venv", f"{sys.executable} -m venv"
    )
    run_step(install.replace("--no-cache-dir ", ""), cwd=app, env=env)
    installed = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout
    assert "pytest" not in installed and "gunicorn" in installed

    image_env = {**env, **environment(FINAL), "VAR_DIR": str(tmp_path / "var")}
    image_env["PATH"] = env["PATH"]
    collect = next(r for r in instructions(FINAL, "RUN") if "collectstatic" in r)
    run_step(collect, cwd=app, env=image_env)
    assert (app / "staticfiles" / "staticfiles.json").exists()

    port = free_port()
    command = json.loads(instructions(FINAL, "CMD")[-1])
    command = [arg.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for arg in command]
    runtime = {**heroku_env(worker_env, port), **image_env, "PORT": str(port)}
    runtime["DJANGO_SETTINGS_MODULE"] = environment(FINAL)["DJANGO_SETTINGS_MODULE"]
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        web = subprocess.Popen(
            command, cwd=app, env=runtime, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"

        def healthz():
            try:  # the first request loads the app in a gunicorn process: give it time
                return requests.get(f"{base}/healthz", timeout=30)
            except requests.RequestException:
                return None

        answer = wait_for(
            lambda: (r := healthz()) is not None and [r], timeout=90, what="gunicorn to answer"
        )[0]
        assert answer.status_code == 200, log_path.read_text()[-3000:]
        manifest = json.loads((app / "staticfiles" / "staticfiles.json").read_text())
        hashed = next(iter(manifest["paths"].values()))
        assert requests.get(f"{base}/static/{hashed}", timeout=5).status_code == 200

        healthcheck = json.loads(instructions(FINAL, "HEALTHCHECK")[-1].split("CMD", 1)[1])
        checked = subprocess.run(healthcheck, cwd=app, env=runtime, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
    finally:
        stop_group(web)
