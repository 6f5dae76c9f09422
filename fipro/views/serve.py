"""Serving the views with Voila on 127.0.0.1, and timing them in a real browser.

:func:`start_voila` is what the tests and ``make benchmark`` use (``make voila`` runs the same
command in the foreground): loopback only, the project's ``fipro`` template (Voila's lab
template without its CDN links), a free port unless one is given. :func:`time_views` drives
headless Debian chromium through Playwright and returns render and interaction times.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

from fipro import config

VIEWS_DIR = config.NOTEBOOKS_DIR / "views"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def voila_command(port: int) -> list[str]:
    exe = Path(sys.executable).with_name("voila")
    return [str(exe), str(VIEWS_DIR), f"--port={port}", "--Voila.ip=127.0.0.1", "--no-browser", "--template=fipro"]


def start_voila(port: Optional[int] = None, timeout: float = 90.0) -> tuple[subprocess.Popen, str]:
    """Start Voila on 127.0.0.1 and wait until it answers; returns (process, base URL)."""
    port = port or free_port()
    env = {**os.environ, "JUPYTER_PATH": str(VIEWS_DIR / "jupyter")}
    proc = subprocess.Popen(voila_command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Voila exited with code {proc.returncode} before answering on {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise TimeoutError(f"Voila did not answer on {url} within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server by its process id (terminate, then kill)."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def launch_chromium(playwright):
    executable = shutil.which("chromium")
    if not executable:
        raise RuntimeError("Debian chromium is missing: `make browser` installs it")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def time_views(url: str, labels: list[str], segments: list[str], timeout_ms: int = 120_000, browser=None) -> dict:
    """Render time of each view and the time of each interaction (typing a customer's label until
    every panel shows them; choosing a segment until its profile shows), in seconds. ``browser``:
    a running Playwright browser (one is launched otherwise)."""
    if browser is None:
        from playwright.sync_api import sync_playwright  # playwright only for the benchmark's browser timing

        with sync_playwright() as p:
            instance = launch_chromium(p)
            try:
                return time_views(url, labels, segments, timeout_ms, instance)
            finally:
                instance.close()
    out = {"customer_clicks": [], "segment_clicks": []}

    def open_view(name: str, ready: str):
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
        start = time.perf_counter()
        page.goto(f"{url}/voila/render/{name}.ipynb", timeout=timeout_ms)
        page.wait_for_selector(ready, timeout=timeout_ms)
        return page, time.perf_counter() - start

    def timed(action, condition: str, arg: str) -> float:
        start = time.perf_counter()
        action()
        page.wait_for_function(condition, arg=arg, timeout=timeout_ms)
        return time.perf_counter() - start

    page, out["customer_render_seconds"] = open_view("customer_explorer", ".fipro-search input")
    for label in labels:
        out["customer_clicks"].append(timed(lambda: page.locator(".fipro-search input").fill(label),
                                            "l => (document.querySelector('.fipro-customer') || {}).innerText?.includes(l)",
                                            label))
    page, out["segment_render_seconds"] = open_view("segment_explorer", ".fipro-map img")
    for name in segments:
        out["segment_clicks"].append(timed(lambda: page.locator(".fipro-segment-select select").select_option(label=name),
                                           "n => document.querySelector('.fipro-profile').innerText.includes(n)", name))
    return out
