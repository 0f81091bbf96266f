#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only when some are missing.
#
#   postgresql-15-postgis-3  PostGIS server binaries (tests start a throwaway cluster themselves)
#   mariadb-server           MariaDB server binaries (likewise)
#   chromium                 headless browser for the Playwright tests
#   fonts-wqy-microhei       CJK font so Chinese text renders in screenshots
#
# Idempotent and quick when everything is present (one dpkg-query per package, no network).
# The tests never use the system services: while installing, a temporary policy-rc.d forbids
# package maintainer scripts from starting daemons, so nothing grabs ports 5432/3306.
set -euo pipefail

PACKAGES=(postgresql-15-postgis-3 mariadb-server chromium fonts-wqy-microhei)
if [[ $# -gt 0 ]]; then  # e.g. `system-deps.sh fonts-wqy-microhei` for `make demo`
    PACKAGES=("$@")
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system-deps: all present (${PACKAGES[*]})"
    exit 0
fi

echo "system-deps: missing: ${missing[*]}"

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "system-deps: ERROR: not root and sudo is not available." >&2
    echo "Install these Debian packages as root, then re-run:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

# Keep maintainer scripts from starting postgresql/mariadb services (invoke-rc.d and
# deb-systemd-invoke both honour /usr/sbin/policy-rc.d; exit 101 = "action forbidden").
# Only install our own policy if none exists, and remove only the one we put there.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
cleanup() {
    if [[ $policy_added -eq 1 ]]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [[ ! -e "$POLICY" ]]; then
    printf '#!/bin/sh\n# temporary, from gridwatch scripts/system-deps.sh\nexit 101\n' \
        | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    policy_added=1
fi

"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

# Belt and braces: if a service still came up (e.g. a systemd host ignoring the policy),
# stop it so it does not sit on the default ports. The tests never use it.
# Only services of packages installed just now: never touch a server that was already there.
services=()
for pkg in "${missing[@]}"; do
    case "$pkg" in
        postgresql-*) services+=(postgresql) ;;
        mariadb-server) services+=(mariadb) ;;
    esac
done
if [[ ${#services[@]} -gt 0 ]] && command -v systemctl >/dev/null 2>&1 \
        && [[ -d /run/systemd/system ]]; then
    for svc in "${services[@]}"; do
        if systemctl is-active --quiet "$svc" 2>/dev/null; then
            echo "system-deps: stopping $svc service (tests start their own servers)"
            "${SUDO[@]}" systemctl stop "$svc" || true
        fi
    done
fi

for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        echo "system-deps: ERROR: $pkg is still not installed" >&2
        exit 1
    fi
done
echo "system-deps: installed ${missing[*]}"
