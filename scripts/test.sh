#!/usr/bin/env bash
# The test command: installs or starts what the tests need on this machine, then runs the
# whole suite. On a fresh machine with only the Rust toolchain and Python 3 this is all it
# takes (Debian or Ubuntu; it uses apt-get, through sudo when not run as root).
#
#   bash scripts/test.sh            # the whole suite
#   bash scripts/test.sh -p doin-net  # any extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
apt_updated=
apt_install() {
    [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v python3 >/dev/null || { echo "python3 is required (the canonical-JSON cross-check and the Python plugin SDK)" >&2; exit 1; }

# PostgreSQL: the analytics export and the PostgreSQL anchor are tested against a real
# server, by default postgres://root@127.0.0.1:5432/test (trust auth). Set
# DOIN_TEST_POSTGRES_URL to use another server; otherwise this one is installed and started.
if [ -z "${DOIN_TEST_POSTGRES_URL:-}" ]; then
    if ! command -v pg_isready >/dev/null; then
        apt_install postgresql
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        as_root service postgresql start
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
    pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
    if ! psql -h 127.0.0.1 -U root -d test -c 'SELECT 1' >/dev/null 2>&1; then
        # A fresh Debian cluster: loopback connections trusted, the role and database made.
        hba=$(as_root su postgres -c "psql -tAc 'SHOW hba_file'")
        if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
            as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
            as_root su postgres -c "psql -q -c 'SELECT pg_reload_conf()'" >/dev/null
        fi
        as_root su postgres -c "psql -q -c 'CREATE ROLE root SUPERUSER LOGIN'" 2>/dev/null || true
        as_root su postgres -c "createdb -O root test" 2>/dev/null || true
        psql -h 127.0.0.1 -U root -d test -c 'SELECT 1' >/dev/null \
            || { echo "PostgreSQL: cannot connect as root to database test on 127.0.0.1 (needs trust auth)" >&2; exit 1; }
    fi
fi

# TLS: the PostgreSQL TLS tests give this server a certificate of a CA of their own, once
# (doin_stats::pg_tls::testing: files in its data directory, ssl on by ALTER SYSTEM and a
# reload), which needs root; for a server elsewhere set DOIN_TEST_POSTGRES_CA to its CA.

# numpy: the external-plugin tests run reference-style Python plugins, which seed numpy.
python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy \
    || echo "numpy could not be installed; the numpy conversion test will be skipped" >&2

# The dashboard's browser test drives Debian's headless Chromium through chromedriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install chromium chromium-driver
fi

exec cargo test --workspace --locked --no-fail-fast "$@"
