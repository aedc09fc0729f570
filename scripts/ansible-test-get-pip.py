"""Stand-in for ansible-test's pip bootstrap script, whose download host this lab cannot reach.

ansible-test --venv runs the cached get-pip script with pip install options (e.g.
``pip==24.2 --no-setuptools``). This does the same from the package index: ensurepip
bootstraps the wheel bundled with CPython, then pip installs what was asked."""

import ensurepip
import os
import subprocess
import sys

# ansible-test runs this with a trimmed environment: point pip at the system CA bundle.
CA = "/etc/ssl/certs/ca-certificates.crt"

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if os.path.exists(CA):
    args = ["--cert", CA] + args
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
