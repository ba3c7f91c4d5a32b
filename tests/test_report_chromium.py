"""`report.html` renders in a real browser (headless Chromium) with no broken image.

Without Chromium the test is skipped with its reason, except where `STRATA_REQUIRE_CHROMIUM=1`
is set: `.ci/run` installs Debian's `chromium` and sets it, so CI renders the report for real.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.test_report_html import image_sources

# runs in the page once everything has loaded; writes one line per image into the DOM
CHECK = """
<script>
window.addEventListener("load", function () {
  var lines = [];
  document.querySelectorAll("img").forEach(function (img) {
    lines.push((img.complete && img.naturalWidth > 0 ? "OK " : "BROKEN ") + img.naturalWidth + " " + img.getAttribute("src"));
  });
  var out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = "IMAGES " + lines.length + "\\n" + lines.join("\\n") + "\\nEND";
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    reason = "headless Chromium is not installed (apt-get install -y chromium); .ci/run installs it"
    if os.environ.get("STRATA_REQUIRE_CHROMIUM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def render(page, profile) -> str:
    """The DOM of `page` after load, as headless Chromium sees it."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--allow-file-access-from-files", "--virtual-time-budget=10000",
        "--dump-dom", page.as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_no_image_of_the_report_is_broken_in_chromium(digits_run, tmp_path):
    # a copy of the run's page and pictures with the check added, so the run stays untouched
    shutil.copytree(digits_run / "report", tmp_path / "report")
    page = (digits_run / "report.html").read_text(encoding="utf-8")
    (tmp_path / "report.html").write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")

    dom = render(tmp_path / "report.html", tmp_path / "profile")
    match = re.search(r"IMAGES (\d+)\n(.*?)\nEND", dom, re.S)
    assert match, "the check script did not run; DOM:\n" + dom[-2000:]
    count, lines = int(match.group(1)), match.group(2).splitlines()
    assert count == len(image_sources(page)) and count >= 4
    broken = [line for line in lines if not line.startswith("OK ")]
    assert not broken, broken
