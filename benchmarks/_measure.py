"""Run a callable in a fresh process and report wall time and peak resident memory."""
from __future__ import annotations

import json
import subprocess
import sys


def run_isolated(code: str) -> dict:
    """Execute `code` (which must print one JSON object last) in a new interpreter; add peak RSS."""
    wrapper = (
        "import json, resource, time\n"
        f"{code}\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({**RESULT, 'peak_rss_mb': round(rss, 1)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])
