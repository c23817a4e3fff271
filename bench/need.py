"""What a bench script needs on this machine, checked before it starts.

`need("wrk", "pgbench")` finds each tool on PATH (PostgreSQL's server tools also under
/usr/lib/postgresql/*/bin); a missing one is installed with apt-get when the script runs as root
on a Debian machine, otherwise the script stops with one line naming the package to install.
"""

import glob
import os
import shutil
import subprocess
import sys

# tool -> the Debian package that provides it
PACKAGES = {
    "wrk": "wrk",
    "curl": "curl",
    "psql": "postgresql-client",
    "pgbench": "postgresql-contrib",
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "openssl": "openssl",
    "valgrind": "valgrind",
    "redis-server": "redis-server",
}


def find(tool: str) -> str | None:
    return shutil.which(tool) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)), None)


def need(*tools: str) -> dict[str, str]:
    """The path of each tool; installs or stops with a clear message when one is missing."""
    missing = [t for t in tools if find(t) is None]
    if missing:
        packages = sorted({PACKAGES.get(t, t) for t in missing})
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print(f"bench: installing {', '.join(packages)} for {', '.join(missing)}", file=sys.stderr)
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, stdout=subprocess.DEVNULL)
        still = [t for t in missing if find(t) is None]
        if still:
            sys.exit(f"bench: {os.path.basename(sys.argv[0])} needs {', '.join(still)} "
                     f"(Debian: apt-get install {' '.join(sorted({PACKAGES.get(t, t) for t in still}))})")
    found = {t: find(t) for t in tools}
    # Tools found outside PATH (PostgreSQL's) are put on it, so scripts call them by name.
    for path in found.values():
        d = os.path.dirname(path or "")
        if d and d not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = d + os.pathsep + os.environ.get("PATH", "")
    return found  # type: ignore[return-value]


def need_binary(path: str) -> None:
    """Stops with the build command when the binary under test is missing."""
    if not os.access(path, os.X_OK):
        sys.exit(f"bench: {os.path.basename(sys.argv[0])} needs the binary {path} "
                 "(cargo build --release, or pass --binary)")


if __name__ == "__main__":
    # From a shell script: `python3 bench/need.py wrk psql || exit 1`
    need(*sys.argv[1:])
