"""Open the widget notebooks in a real browser, as a learner would, and photograph them.

Run by hand (not part of the tests), from the repository root:

    python tools/browser_check.py                       # notebooks 01 and 02
    python tools/browser_check.py --notebooks 04_train_copy --out /tmp/shots

It serves JupyterLab on notebooks/ (a free local port, a random token), opens each notebook
in headless Chromium, runs all its cells, and then, in every widget view the notebook shows,
moves each slider with the keyboard (focus the handle, PageUp / PageDown) and clicks each toggle,
waiting each time until the view's picture has been redrawn. It saves a screenshot of every
view before and after, and of the whole page, and prints what it did. Then look at the PNGs.

Needs, besides requirements.txt (which has jupyterlab and ipywidgets):

    apt-get install -y chromium        # Debian's Chromium; or pass --chromium PATH
    pip install playwright             # the Python driver only: no `playwright install`

Exit status 1 if a cell raised, a view never drew, or a control did not redraw its view.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_addressing", "02_memory")
RUN_TIMEOUT_S = 300  # all cells of one notebook, on a busy machine
REDRAW_TIMEOUT_S = 60  # one control's redraw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(root: Path):
    """A JupyterLab server on ``root``; yields its base URL and token."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands by name
        f"--LabApp.user_settings_dir={root.parent / 'settings'}",
        f"--LabApp.workspaces_dir={root.parent / 'workspaces'}",  # no tabs from other runs
        "--allow-root",
    ]
    log = open(root.parent / "jupyter_lab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {log.name}") from None
                time.sleep(1)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def copy_of_notebooks(workspace: Path, source: Path) -> Path:
    """workspace/notebooks, a copy of ``source``, beside a link to the package: the notebooks
    put their parent folder on sys.path, as they do in the repository."""
    shutil.copytree(source, workspace / "notebooks")
    # every cell in the page, so that a view far down is there to find and photograph
    settings = workspace / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    # no "get notified about news?" toast over the screenshots
    settings = workspace / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    (workspace / "ntm_numpy").symlink_to(REPO / "ntm_numpy")
    return workspace / "notebooks"


def clear_outputs(page, command: str, timeout_s: float = 60) -> None:
    """Clear every output, retrying until no code cell shows an execution count: a command sent
    before the notebook panel is current does nothing."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.evaluate(command)
        page.wait_for_timeout(1000)
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        if not any(re.search(r"\[\d+\]", p) for p in prompts):
            return
    raise TimeoutError("the notebook's outputs could not be cleared")


def wait_until_all_ran(page, command: str, timeout_s: float) -> None:
    """Until every code cell's prompt shows an execution count, [1]: ... (the outputs were
    cleared first, so a number means this run). ``command`` (run all) is sent again while no
    cell has started: one sent before the notebook panel is current does nothing."""
    deadline, report = time.time() + timeout_s, time.time() + 30
    while time.time() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        numbered = sum(bool(re.search(r"\[\d+\]", p)) for p in prompts)
        if numbered == len(prompts):
            return
        if not numbered and not any("*" in p for p in prompts):
            page.evaluate(command)
        if time.time() > report:
            print(f"    {numbered} of {len(prompts)} code cells have run", flush=True)
            report = time.time() + 30
        page.wait_for_timeout(3000)
    raise TimeoutError(f"the notebook still runs after {timeout_s} s")


def cell_errors(page) -> list[str]:
    """The text of every error output (a traceback) on the page."""
    selector = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'
    texts = page.locator(selector).all_inner_texts()
    return [t for t in texts if "Traceback" in t or "Error" in t]


def image_source(view) -> str:
    return view.locator("img").first.get_attribute("src") or ""


def wait_for_redraw(view, before: str, settle_s: float = 4.0) -> bool:
    """Until the picture has changed and then stayed the same for ``settle_s`` (one key press
    may queue several redraws); False if it never changed."""
    deadline = time.time() + REDRAW_TIMEOUT_S
    last, changed_at = before, None
    while time.time() < deadline:
        source = image_source(view)
        if source != last:
            last, changed_at = source, time.time()
        elif changed_at is not None and time.time() - changed_at > settle_s:
            return True
        time.sleep(0.25)
    return changed_at is not None


def picture_shown(view) -> bool:
    """The view's picture has loaded and takes up room on the page."""
    return view.locator("img").first.evaluate(
        "(img) => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().height > 0"
    )


def start_kernel(page, timeout_s: float = 180) -> None:
    """Accept the kernel dialog if JupyterLab asks, and wait until the kernel is idle."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        select = page.locator(".jp-Dialog button:has-text('Select')")
        if select.count():
            select.first.click()
        if page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
            return
        page.wait_for_timeout(1000)
    raise TimeoutError(f"the kernel did not start in {timeout_s} s")


def drive_view(page, view, name: str, out: Path, keys: tuple[str, ...]) -> list[str]:
    """Move every slider and click every toggle of one view; returns the problems found."""
    problems = []
    view.scroll_into_view_if_needed()
    view.screenshot(path=str(out / f"{name}_before.png"))
    handles = view.locator(".noUi-handle")
    labels = view.locator(".widget-slider .widget-label")
    for i in range(handles.count()):
        label = labels.nth(i).inner_text() if i < labels.count() else f"slider {i}"
        before, readout = image_source(view), view.locator(".widget-readout").nth(i)
        value_before = readout.inner_text()
        handles.nth(i).focus()
        for key in keys:
            handles.nth(i).press(key)
        view.page.wait_for_timeout(300)
        if readout.inner_text() == value_before:
            print(f"    {label!r}: {value_before}, at its limit: not moved")
            continue
        redrawn = wait_for_redraw(view, before)
        view.page.wait_for_timeout(300)
        value_after, shown = readout.inner_text(), picture_shown(view)
        print(f"    {label!r}: {value_before} -> {value_after}, redrawn: {redrawn}, shown: {shown}")
        if value_before != value_after and not redrawn:
            problems.append(f"{name}: moving {label!r} did not redraw the view")
        if not shown:
            problems.append(f"{name}: after moving {label!r} the picture is missing")
    toggles = view.locator("button.widget-toggle-button, .widget-checkbox input")
    for i in range(toggles.count()):
        before = image_source(view)
        toggles.nth(i).click()
        redrawn = wait_for_redraw(view, before)
        print(f"    toggle {i}: redrawn: {redrawn}")
        if not redrawn:
            problems.append(f"{name}: toggle {i} did not redraw the view")
    view.screenshot(path=str(out / f"{name}_after.png"))
    return problems


def check_notebook(browser, url: str, token: str, notebook: str, out: Path) -> list[str]:
    """Run one notebook in a new page and drive its views; a timeout is a problem, with a
    screenshot of the page as it was (``<notebook>_timeout.png``)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        return run_and_drive(page, url, token, notebook, out)
    except (TimeoutError, PlaywrightTimeout) as error:
        page.screenshot(path=str(out / f"{notebook}_timeout.png"))
        return [f"{notebook}: {str(error).splitlines()[0]}"]
    finally:
        page.close()


def run_and_drive(page, url: str, token: str, notebook: str, out: Path) -> list[str]:
    # ?reset: a workspace with this notebook alone, so that commands act on it
    page.goto(f"{url}/lab/tree/{notebook}.ipynb?reset&token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000, state="attached")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands", timeout=60_000)
    start_kernel(page)
    print(f"  {notebook}: kernel idle", flush=True)
    run = "() => { window.jupyterapp.commands.execute('%s'); }"  # not awaited: see below
    clear_outputs(page, run % "notebook:clear-all-cell-outputs")
    started = time.time()
    # not awaited: the command's promise settles only when every cell has run
    run_all = run % "notebook:run-all-cells"
    page.evaluate(run_all)
    wait_until_all_ran(page, run_all, RUN_TIMEOUT_S)
    page.wait_for_timeout(3000)  # the last outputs and widget views render
    print(f"  {notebook}: all cells ran in {time.time() - started:.0f} s in the browser")
    problems = [f"{notebook}: {e[:300]}" for e in cell_errors(page)]
    views = page.locator(".jp-OutputArea-output .widget-vbox:has(> img.widget-image)")
    page.wait_for_timeout(1000)
    count = views.count()
    print(f"  {notebook}: {count} widget view(s)")
    if count == 0:
        problems.append(f"{notebook}: no widget view was drawn")
    for v in range(count):
        view = views.nth(v)
        if not image_source(view):
            problems.append(f"{notebook}: view {v} shows no picture")
            continue
        for direction, keys in (("up", ("PageUp",)), ("down", ("PageDown",) * 3)):
            print(f"  view {v}, sliders {direction}:")
            name = f"{notebook}_view{v}_{direction}"
            problems += drive_view(page, view, name, out, keys)
    page.screenshot(path=str(out / f"{notebook}_page.png"), full_page=False)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS))
    parser.add_argument("--out", type=Path, default=REPO / "tools" / "screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument(
        "--notebook-dir",
        type=Path,
        default=REPO / "notebooks",
        help="the folder of notebooks to serve (a copy of it), e.g. a scratch notebook",
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    workspace = Path(tempfile.mkdtemp(prefix="browser_check_"))
    print(f"serving a copy of notebooks/ from {workspace} (autosave must not touch the originals)")
    with (
        jupyter_lab(copy_of_notebooks(workspace, args.notebook_dir)) as (url, token),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=args.chromium, headless=True, args=["--no-sandbox"]
        )
        for notebook in args.notebooks:
            problems += check_notebook(browser, url, token, notebook, args.out)
        browser.close()
    print(f"screenshots in {args.out}")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
