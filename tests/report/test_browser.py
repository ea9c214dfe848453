"""report.html in a real browser (headless Chromium): no console errors, images decoded, summary complete,
the verdict on the first screen and the details collapsed.

Skips when no Chromium binary is installed (``make test`` installs Debian's
``chromium`` where apt is available) or the ``playwright`` driver package is
missing; with both present a broken report fails.
"""

import shutil

import pandas as pd
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no Chromium binary on PATH (looked for {', '.join(CHROMIUM_NAMES)}); "
                "install it with `apt-get install -y chromium` (`make test` does where apt is available)")


def _open(executable, run_dir, screenshot):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package drives Chromium: "
                                   "pip install -e '.[test]'")
    console, errors, requests = [], [], []
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: console.append((message.type, message.text)))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto((run_dir / "report.html").resolve().as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, complete: e.complete, width: e.naturalWidth}))")
            # the first screen, as loaded (no scrolling): where the verdict is
            verdict = page.eval_on_selector("#verdict", """el => {
                const box = el.getBoundingClientRect();
                const first = el.querySelector("li, p.none").getBoundingClientRect();
                const summary = document.querySelector("#summary");
                return {top: box.top, firstTop: first.top, firstBottom: first.bottom, scrollY: window.scrollY,
                        beforeSummary: !!(el.compareDocumentPosition(summary) & Node.DOCUMENT_POSITION_FOLLOWING)};
            }""")
            verdict["visible"] = page.is_visible("#verdict")
            details = page.eval_on_selector_all("details", "els => els.map(e => e.hasAttribute('open'))")
            summary = page.text_content("#summary")  # the headlines sit in collapsed <details>: not rendered text
            conditions = page.eval_on_selector_all("#summary li", "els => els.map(e => e.dataset.condition)")
            page.screenshot(path=str(screenshot), full_page=False)  # the top: notice and verdict
            table = "#bias_change"
            first_before = page.inner_text(f"{table} tbody tr:first-child td:nth-child(9)")
            page.click(f"{table} th:nth-child(9)")  # delta, ascending
            ascending = page.eval_on_selector_all(f"{table} tbody tr td:nth-child(9)",
                                                  "els => els.map(e => e.getAttribute('data-value'))")
        finally:
            browser.close()
    return {"console": console, "errors": errors, "requests": requests, "images": images, "summary": summary,
            "conditions": conditions, "sorted": ascending, "first_before": first_before, "verdict": verdict,
            "details": details}


@pytest.mark.parametrize("which", ["tiny_run", "mitigated_run", "uncertain_run"])
def test_report_renders_in_chromium(which, request, tmp_path):
    executable = _chromium()  # skip before the (slow) run fixture when there is no browser
    run_dir = request.getfixturevalue(which)
    screenshot = tmp_path / "report.png"
    page = _open(executable, run_dir, screenshot)
    assert screenshot.stat().st_size > 10_000
    assert [m for m in page["console"] if m[0] == "error"] == [] and page["errors"] == []
    assert all(url.startswith(("file:", "data:")) for url in page["requests"]), page["requests"]
    pngs = sorted(p.stem for p in (run_dir / "figures").glob("*.png"))
    assert sorted(image["alt"] for image in page["images"]) == pngs
    assert len(pngs) == (13 if which == "mitigated_run" else 11)
    assert all(image["complete"] and image["width"] > 0 for image in page["images"]), page["images"]
    conditions = pd.read_csv(run_dir / "metrics" / "performance.csv")["condition"].unique()
    for condition in conditions:
        assert condition in page["summary"], condition
    assert set(page["conditions"]) == set(conditions)
    values = [float(v) for v in page["sorted"] if v]
    assert values == sorted(values) and len(values) > 3  # the inline JS sorted the table by delta
    verdict = page["verdict"]
    assert verdict["visible"] and verdict["scrollY"] == 0
    assert verdict["top"] < 900 and verdict["firstBottom"] < 900, verdict  # its first line on the first screen
    assert verdict["beforeSummary"]
    datasets_tasks = pd.read_csv(run_dir / "metrics" / "performance.csv")[["dataset", "task"]].drop_duplicates()
    assert len(page["details"]) >= len(datasets_tasks) and not any(page["details"])  # all collapsed


def test_the_browser_check_catches_a_broken_report(tiny_run, tmp_path):
    """Negative control: a script error and an undecodable image are both reported."""
    executable = _chromium()
    broken = tmp_path / "broken"
    (broken / "metrics").mkdir(parents=True)
    html = (tiny_run / "report.html").read_text()
    html = html.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAAA", 1)
    html = html.replace("(function () {", "(function () { notDefined();", 1)
    (broken / "report.html").write_text(html)
    page = _open(executable, broken, tmp_path / "shot.png")
    assert any("notDefined" in error for error in page["errors"])
    assert [image["alt"] for image in page["images"] if image["width"] == 0] == [
        "quality_task_vs_level_synthetic-chest"]
