"""The Dagster UI, end to end in a real browser.

A real `dagster-webserver` serves the real code location (workspace.yaml) from a temporary
instance; a materialization of `source_files` is launched through its GraphQL API, and headless
Chromium then renders the asset graph, the run page and the asset page. Screenshots go to the
test's tmp_path and to var/test-output/ui/ (git-ignored) so a person can look at them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from dagster_graphql import DagsterGraphQLClient

from tests.processes import stop_process_group
from tests.waits import PAGE_S, RUN_S, STARTUP_S

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT_COPY_DIR = REPO / "var" / "test-output" / "ui"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} "
    "(Debian: apt-get install chromium chromium-driver)",
)

# Dagster's built-in default is the QueuedRunCoordinator, whose queue only the daemon drains
# (dagster/_core/instance/ref.py, 1.13). The default coordinator makes the webserver launch
# each run itself (a subprocess per run), so no daemon has to run beside it.
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
LOCATION = "mpyforge"
SERVER_START_TIMEOUT_S = STARTUP_S
RUN_TIMEOUT_S = RUN_S
PAGE_TIMEOUT_S = PAGE_S
# Each group's assets and the kinds they declare (assets/*.py). Kinds are compared without case
# or spaces because the UI shows labels ("Hugging Face" for `huggingface`); `pdf` is left out as
# the UI draws it as an icon without a text label.
GROUPS = {
    "data": (
        ["source_files", "python_warmup_files", "pdf_documents", "corpus", "instruction_pairs"],
        ["python", "parquet", "pandas"],
    ),
    "tokenizer": (["bpe_tokenizer", "token_shards"], ["huggingface", "json", "numpy"]),
    "training": (["base_checkpoint", "instruct_checkpoint"], ["pytorch", "huggingface"]),
    "export": (["gguf_models", "ollama_model", "model_report"], ["gguf", "llamacpp", "ollama", "markdown"]),
}
ALL_GROUPS = list(GROUPS)
# The zoomed-out graph shortens long names ("instru…_checkpoint"), so those are left out here.
GRAPH_ASSETS = [
    name
    for assets, _ in GROUPS.values()
    for name in assets
    if name not in ("instruct_checkpoint", "python_warmup_files")
]
# Off-network Chromium: no background updates, sync, QUIC or first-run UI; root needs --no-sandbox.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1800",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(url: str, query: str) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    body = response.json()
    if "errors" in body:
        raise AssertionError(f"GraphQL error from {url}: {body['errors']}")
    return body["data"]


def _location_state(url: str) -> str:
    """ "LOADED", "LOADING", or the code location's load error; raises while the server is down."""
    data = _graphql(
        url,
        """{ workspaceOrError { ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }""",
    )
    entry = next(e for e in data["workspaceOrError"]["locationEntries"] if e["name"] == LOCATION)
    loaded = entry["locationOrLoadError"]
    if loaded and loaded["__typename"] == "PythonError":
        return f"load error: {loaded['message']}"
    return entry["loadStatus"] if loaded else "LOADING"


def _log_tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@pytest.fixture()
def webserver(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """A running webserver on an ephemeral port: (base url, artifact root, server log)."""
    home, artifacts, log = tmp_path / "dagster_home", tmp_path / "artifacts", tmp_path / "webserver.log"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MPYFORGE_ARTIFACT_ROOT": str(artifacts),
        "MPYFORGE_PDF_INBOX": str(tmp_path / "empty_inbox"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, state = time.monotonic() + SERVER_START_TIMEOUT_S, "not answering"
        while state != "LOADED":
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{_log_tail(log)}")
            if state.startswith("load error") or time.monotonic() > deadline:
                pytest.fail(f"code location {LOCATION!r} not loaded ({state}):\n{_log_tail(log)}")
            time.sleep(1)
            try:
                state = _location_state(url)
            except (requests.ConnectionError, StopIteration):
                state = "not answering"
        yield url, artifacts, log
    finally:
        stop_process_group(process)


@pytest.fixture()
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium_profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    SCREENSHOT_COPY_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOT_COPY_DIR / path.name)
    return path


def _squeezed(text: str) -> str:
    return "".join(text.split()).lower()


def _wait_until_shown(driver, tmp_path: Path, name: str, missing_in: Callable[[str], list[str]]) -> str:
    """Poll the rendered page (a React app) until `missing_in(page text)` is empty; screenshot it either way."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while True:
        body = driver.find_element(By.TAG_NAME, "body").text
        missing = missing_in(body)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    shot = _screenshot(driver, tmp_path, name)
    assert not missing, f"{driver.current_url} never showed {missing} (screenshot {shot}); page text:\n{body}"
    return body


def _wait_for_texts(driver, tmp_path: Path, name: str, texts: list[str], labels: list[str] = ()) -> str:
    """Wait until every text shows somewhere on the page.

    `labels` must each be a whole line of the page (a tag), compared without case and spaces,
    so that the kind `gguf` is not satisfied by the asset name `gguf_models`.
    """

    def missing_in(body: str) -> list[str]:
        lines = {_squeezed(line) for line in body.splitlines()}
        return [text for text in texts if text not in body] + [
            label for label in labels if _squeezed(label) not in lines
        ]

    return _wait_until_shown(driver, tmp_path, name, missing_in)


def _materialize_source_files(url: str, log: Path) -> str:
    """Launch `source_files` through GraphQL and wait for the run to finish; returns the run id."""
    client = DagsterGraphQLClient("127.0.0.1", port_number=int(url.rsplit(":", 1)[1]))
    run_config = {"ops": {"source_files": {"config": {"source_dir": str(REPO / "data" / "sources")}}}}
    run_id = client.submit_job_execution(
        "__ASSET_JOB",
        repository_location_name=LOCATION,
        repository_name="__repository__",
        run_config=run_config,
        asset_selection=[["source_files"]],
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (status := client.get_run_status(run_id).value) not in {"SUCCESS", "FAILURE", "CANCELED"}:
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {RUN_TIMEOUT_S} s"
        time.sleep(1)
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{_log_tail(log)}"
    return run_id


def test_asset_graph_and_run_render_in_chromium(webserver, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    url, artifacts, log = webserver
    run_id = _materialize_source_files(url, log)
    assert (artifacts / "source_files" / "CURRENT").is_file(), "the run did not write into MPYFORGE_ARTIFACT_ROOT"
    # A fresh instance opens a newsletter dialog over every page; mark it seen, as "Skip" would.
    _graphql(url, "mutation { setNuxSeen }")

    browser.get(f"{url}/asset-groups")
    # Each group name shows once in the sidebar and once more as a (collapsed) node of the graph.
    _wait_until_shown(
        browser,
        tmp_path,
        "asset_graph_groups",
        lambda body: [group for group in ALL_GROUPS if body.splitlines().count(group) < 2],
    )
    # The global graph starts with every group collapsed; Alt+E is the UI's "Expand all groups".
    ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    _wait_for_texts(browser, tmp_path, "asset_graph", ALL_GROUPS + GRAPH_ASSETS)

    for group, (assets, kinds) in GROUPS.items():
        browser.get(f"{url}/locations/{LOCATION}/asset-groups/{group}")
        _wait_for_texts(browser, tmp_path, f"group_{group}", assets, labels=kinds)

    browser.get(f"{url}/runs/{run_id}")
    run_page = _wait_for_texts(browser, tmp_path, "run", [run_id[:8], "Success", "source_files", "RUN_SUCCESS"])
    # The tab title is not checked: on a loaded machine the UI's document.title update can be
    # lost (CI saw 'Dagster' stay for minutes on pages whose text had rendered in full).
    assert "Failure" not in run_page

    # The asset page shows the group, the kinds and the materialization's path metadata.
    version = (artifacts / "source_files" / "CURRENT").read_text().strip()
    browser.get(f"{url}/assets/source_files")
    _wait_for_texts(
        browser,
        tmp_path,
        "asset_source_files",
        # The path metadata is relative to the store root (the same on every host that mounts it).
        ["Latest materialization", "data", "Parquet", "Python", f"source_files/{version}"],
    )
