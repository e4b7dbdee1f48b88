"""The playground's latency as the browser sees it (optional: needs the serve extra, playwright's
Python package and Debian's chromium).

    python benchmarks/bench_browser.py            # 15 step-0 updates at the cs231n shape
    python benchmarks/bench_browser.py --n 30 --dtype float64

Starts ``initlab serve --port 0``, opens the page in headless chromium, changes the depth back and
forth between 10 and 9 (the cs231n shape: batch 1000, width 500, tanh, Xavier) and reads, for every
update, the page's own measure (``window.__initlabLatency``): ``server_ms`` (the computation in the
server), ``draw_ms`` (from the message's arrival to the last plot drawn) and ``page_ms`` (from the control's change to the last plot drawn: the request, the
computation, the message, the redraw). Prints the median and the range of both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=15, help="updates measured")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--chromium", default="/usr/bin/chromium")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen([sys.executable, "-m", "initlab", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                            "PYTHONPATH": str(ROOT / "src")})
    try:
        url = proc.stdout.readline().split()[3]
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
            ctx = pw.chromium.launch_persistent_context(profile, executable_path=args.chromium, args=FLAGS,
                                                        headless=True, viewport={"width": 1500, "height": 1100})
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}?s.dtype={args.dtype}")
            page.wait_for_function("document.body.dataset.step0")
            page.wait_for_function("document.querySelector('#phaseplot .main-svg') !== null")
            server, seen, drawn = [], [], []
            for i in range(args.n + 1):
                before = page.evaluate("document.body.dataset.step0")
                page.fill("#c-network-depth", "9" if i % 2 == 0 else "10")
                page.wait_for_function("(a) => window.__initlabLatency && String(window.__initlabLatency.id) !== a "
                                       "&& document.body.dataset.step0 !== a", arg=before)
                lat = page.evaluate("window.__initlabLatency")
                if i:  # the first update warms the caches
                    server.append(lat["server_ms"])
                    seen.append(lat["page_ms"])
                    drawn.append(lat["draw_ms"])
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(30)
    for name, xs in (("server", server), ("drawing (message -> drawn)", drawn),
                     ("page (change -> drawn)", seen)):
        print(f"{name:>24}: median {statistics.median(xs):.0f} ms, range {min(xs):.0f}-{max(xs):.0f} ms "
              f"over {len(xs)} updates ({args.dtype}, batch 1000, 10 x 500 tanh)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
