#!/usr/bin/env bash
# Set up a Debian bookworm machine for hkcompute's tests: the programs that check rendered
# configs (named-checkconf, dnsmasq --test, vtysh --dryrun, promtool, chronyd, sshd -t, netplan,
# slurmctld/slurmd, chromium; ifupdown2, extracted from its .deb and never installed), the
# container lab (docker.io, mmdebstrap), then the package itself with `pip install -e '.[dev]'`.
# Run as root; idempotent; no questions asked (works with CI=true and no stdin). Prints how long
# each part took.
#
# Service safety: packages are installed with a policy-rc.d that exits 101, so no service is
# started (or restarted) by an install; an existing policy-rc.d is put back afterwards. On a
# machine where systemd is PID 1 the units are still enabled for the next boot, as Debian does:
# disable the ones you do not want there (e.g. `systemctl disable frr prometheus slurmctld`).
# chrony replaces systemd-timesyncd (they conflict), which is what a lab host wants anyway.
#
# netplan.io was checked before it went in here: it has no maintainer scripts, it brings only
# a systemd generator that does nothing while no YAML exists in /etc/netplan, /run/netplan or
# /lib/netplan (the package ships none, and the tests only run `netplan generate --root-dir`
# on a scratch folder), and it depends on nothing that replaces ifupdown. Installed with
# --no-install-recommends (like everything here) it cannot change the machine's networking;
# the default route is compared before and after the install all the same.
#
# The Docker engine is not started here: the lab's test fixture starts dockerd when none answers
# (hkcompute.lab.docker_engine.ensure_engine), so `python -m pytest` works the same without this script.
#
# Environment: PYTHON (default: python, else python3); HKCOMPUTE_SKIP_PIP=1 skips the pip steps
# (the package install and the runtime wheelhouse); HKCOMPUTE_WHEELHOUSE (default
# build/wheelhouse) is where the runtime dependencies are downloaded for the clean-install test.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(
    docker.io          # the container lab's engine (dockerd 20.10; starts its own containerd)
    mmdebstrap         # builds the lab's base images from Debian packages (no registry here)
    bind9-utils        # named-checkconf, named-checkzone
    dnsmasq-base       # dnsmasq --test, without a dnsmasq service
    frr                # vtysh --dryrun
    prometheus         # promtool
    chrony             # chronyd -p / -Q
    openssh-server     # sshd -t
    openssh-client     # ssh, ssh-keygen
    netplan.io         # netplan generate --root-dir
    slurm-wlm          # slurmctld, slurmd (and slurm-client)
    chromium           # headless screenshots of reports
    fonts-liberation   # a font for those screenshots (a Recommends of chromium)
    iproute2           # ip netns, ss
    python3            # the system interpreter that runs the extracted ifupdown2 (below)
)
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED="$POLICY.hkcompute-saved"
TIMINGS=()

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "setup-debian: $*"; }
timed() { # timed LABEL START
    TIMINGS+=("$1 $(since "$2") s")
    say "$1 took $(since "$2") s"
}

installed() { # installed PKG -> 0 when dpkg has it fully installed
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

restore_policy() {
    if [ -e "$POLICY_SAVED" ]; then
        mv -f "$POLICY_SAVED" "$POLICY"
    else
        rm -f "$POLICY"
    fi
}

block_service_starts() {
    if [ -e "$POLICY" ]; then
        mv -f "$POLICY" "$POLICY_SAVED"
    fi
    printf '#!/bin/sh\n# hkcompute setup-debian.sh: no service starts during installs.\nexit 101\n' \
        >"$POLICY"
    chmod 0755 "$POLICY"
    trap restore_policy EXIT
}

apt_install() {
    apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@"
}

START_ALL=$(now)
export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_MODE=l

# --- system packages -------------------------------------------------------------------------
START=$(now)
MISSING=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || MISSING+=("$pkg")
done
AUDIT=""
if command -v dpkg >/dev/null; then
    AUDIT=$(dpkg --audit 2>/dev/null || true)
fi
if [ ${#MISSING[@]} -eq 0 ] && [ -z "$AUDIT" ]; then
    say "all ${#PACKAGES[@]} system packages are installed"
else
    if [ "$(id -u)" -ne 0 ]; then
        say "missing packages (${MISSING[*]}) and not root: run this script as root" >&2
        exit 1
    fi
    ROUTE_BEFORE=$(ip -4 route show default 2>/dev/null || true)
    block_service_starts
    if [ -n "$AUDIT" ]; then
        say "dpkg reports unfinished packages; running dpkg --configure -a"
        dpkg --configure -a
    fi
    if [ ${#MISSING[@]} -gt 0 ]; then
        say "installing: ${MISSING[*]}"
        T=$(now)
        apt-get update -q -o DPkg::Lock::Timeout=600
        timed "apt-get update" "$T"
        T=$(now)
        apt_install "${MISSING[@]}"
        timed "apt-get install (${#MISSING[@]} packages)" "$T"
    fi
    restore_policy
    trap - EXIT
    ROUTE_AFTER=$(ip -4 route show default 2>/dev/null || true)
    if [ "$ROUTE_BEFORE" != "$ROUTE_AFTER" ]; then
        say "WARNING: the default route changed during the install:" >&2
        say "  before: ${ROUTE_BEFORE:-none}; after: ${ROUTE_AFTER:-none}" >&2
    fi
fi
for tool in dockerd mmdebstrap named-checkconf dnsmasq vtysh promtool chronyd sshd ssh-keygen \
    netplan slurmctld slurmd chromium; do
    if ! PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$tool" >/dev/null; then
        say "ERROR: $tool is still missing after the install" >&2
        exit 1
    fi
done
timed "system packages" "$START"

# --- ifupdown2, extracted, not installed ------------------------------------------------------
# The ifupdown2 checker (hkcompute/lint/ifupdown2.py) parses Cumulus Linux switches'
# /etc/network/interfaces with ifupdown2 itself. Debian's ifupdown2 package conflicts with
# ifupdown and would take over this machine's networking, so it is never installed: the .deb is
# downloaded (apt-get download, no root needed) and unpacked with dpkg-deb -x into
# build/debs/ifupdown2 (HKCOMPUTE_IFUPDOWN2_DIR), where the checker runs it with python3. It
# picks its command by the name it runs under, so __main__.py is copied to ifup beside it.
IFUPDOWN2_DIR=${HKCOMPUTE_IFUPDOWN2_DIR:-build/debs/ifupdown2}
if [ -f "$IFUPDOWN2_DIR/usr/share/ifupdown2/ifup" ]; then
    say "ifupdown2 is extracted in $IFUPDOWN2_DIR"
else
    START=$(now)
    DEB_TMP=$(mktemp -d)
    if ! (cd "$DEB_TMP" && apt-get download -q ifupdown2 >/dev/null 2>&1); then
        if [ "$(id -u)" -eq 0 ]; then
            apt-get update -q -o DPkg::Lock::Timeout=600
        fi
        (cd "$DEB_TMP" && apt-get download -q ifupdown2)
    fi
    DEB=$(find "$DEB_TMP" -maxdepth 1 -name 'ifupdown2_*.deb' | head -n 1)
    if [ -z "$DEB" ]; then
        say "ERROR: apt-get download ifupdown2 gave no .deb" >&2
        exit 1
    fi
    rm -rf "$IFUPDOWN2_DIR"
    mkdir -p "$IFUPDOWN2_DIR"
    dpkg-deb -x "$DEB" "$IFUPDOWN2_DIR"
    cp "$DEB" "$IFUPDOWN2_DIR/"
    cp "$IFUPDOWN2_DIR/usr/share/ifupdown2/__main__.py" "$IFUPDOWN2_DIR/usr/share/ifupdown2/ifup"
    chmod 0755 "$IFUPDOWN2_DIR/usr/share/ifupdown2/ifup"
    rm -rf "$DEB_TMP"
    timed "ifupdown2 $(basename "$DEB" .deb | cut -d_ -f2) extracted" "$START"
fi

# --- the Python package ----------------------------------------------------------------------
PYTHON=${PYTHON:-python}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ "${HKCOMPUTE_SKIP_PIP:-0}" = "1" ]; then
    say "HKCOMPUTE_SKIP_PIP=1: not installing the Python package"
elif [ ! -f pyproject.toml ]; then
    say "no pyproject.toml here: nothing to pip install" >&2
    exit 1
else
    START=$(now)
    "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[dev]'
    timed "pip install -e .[dev]" "$START"
fi

# --- the runtime wheelhouse ------------------------------------------------------------------
# The clean-install test (tests/integration/test_clean_install.py) installs the built wheel into
# a new virtual environment without extras, offline: tests reach no registry. So the runtime
# dependencies (pyproject's [project] dependencies, nothing from the extras) are fetched here,
# once per change of pyproject.toml, into build/wheelhouse.
WHEELHOUSE=${HKCOMPUTE_WHEELHOUSE:-build/wheelhouse}
if [ "${HKCOMPUTE_SKIP_PIP:-0}" != "1" ] && [ -f pyproject.toml ]; then
    KEY=$(sha256sum pyproject.toml | cut -c1-64)
    if [ "$(cat "$WHEELHOUSE/.key" 2>/dev/null || true)" != "$KEY" ]; then
        START=$(now)
        rm -rf "$WHEELHOUSE"
        mkdir -p "$WHEELHOUSE"
        "$PYTHON" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
            >"$WHEELHOUSE/requirements.txt"
        # setuptools and wheel too: pip builds the project's own wheel offline from them.
        printf 'setuptools>=68\nwheel\npip\n' >>"$WHEELHOUSE/requirements.txt"
        "$PYTHON" -m pip download -q --disable-pip-version-check -d "$WHEELHOUSE" \
            -r "$WHEELHOUSE/requirements.txt"
        echo "$KEY" >"$WHEELHOUSE/.key"
        timed "runtime wheelhouse" "$START"
    fi
fi

TIMINGS+=("total $(since "$START_ALL") s")
SUMMARY=$(printf '%s; ' "${TIMINGS[@]}")
say "timings: ${SUMMARY%; }"
