"""A real headless Chromium for the tests: pages are opened offline (every host unresolvable)
and measured by a probe script that writes its findings as JSON onto ``<body>``."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)

#: Skips a test on a machine without Chromium, saying how to get it.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--virtual-time-budget=10000"]  # fmt: skip

#: Where the browser put the title, legend, scale bar and layer control of a map.
LAYOUT = """function () {
  function box(sel) { var e = document.querySelector(sel); if (!e) return null;
    var r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  var scale = document.querySelectorAll('.leaflet-control-scale-line');
  return {legend: box('.ruralnet-legend'), scale: box('.leaflet-control-scale'),
    title: box('.ruralnet-title'), layers: box('.leaflet-control-layers'),
    scale_lines: Array.prototype.map.call(scale, function (e) { return e.textContent; }),
    towns: document.querySelectorAll('.ruralnet-township-label').length};
}"""


def probe(page: Path, tmp_path: Path, function: str, size=(1280, 800), wait_ms: int = 300):
    """What ``function`` (JavaScript, returning JSON-able data) finds in ``page`` once loaded
    (a copy of the page with the probe; Chromium lays it out headless, offline)."""
    script = (
        "<script>window.addEventListener('load', function () { setTimeout(function () {"
        f"var found = ({function})();"
        "document.body.setAttribute('data-probe', JSON.stringify(found));"
        f"}}, {wait_ms}); }});</script>"
    )
    copy = tmp_path / f"probe-{page.parent.name}-{page.name}"
    copy.write_text(
        page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8"
    )
    flags = [
        *FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={size[0]},{size[1]}",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", copy.as_uri()], capture_output=True, text=True,
        timeout=120,
    ).stdout  # fmt: skip
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the probe script did not run"
    return json.loads(html.unescape(found.group(1)))


def overlap(a, b) -> bool:
    """Whether two boxes ``[left, top, right, bottom]`` overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
