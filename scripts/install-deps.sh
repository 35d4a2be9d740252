#!/usr/bin/env bash
# Installs what fenix needs to build and test, and nothing that is already
# there. Debian packages only (plus npm packages for the end-to-end tests).
# Usage: scripts/install-deps.sh [build|test|bench]
set -euo pipefail
what="${1:-build}"
cd "$(dirname "$0")/.."

pkgs=(g++ make cmake ninja-build ccache pkg-config libssl-dev
      libcaf-dev libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev)
if [[ "$what" == build || "$what" == test || "$what" == bench ]]; then
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  [[ "$what" == test ]] && pkgs+=(chromium)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# End-to-end tests drive fenix with the official phoenix npm client.
if [[ "$what" == test && -f tests/e2e/package.json ]]; then
  if [[ ! -d tests/e2e/node_modules ]] ||
     [[ tests/e2e/package.json -nt tests/e2e/node_modules ]]; then
    (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error)
  fi
fi

# The chat demo serves the phoenix client from its npm package
# (apps/chat/node_modules); the browser tests drive chromium with
# playwright-core (tests/browser/node_modules).
npm_dirs=(apps/chat)
[[ "$what" == test ]] && npm_dirs+=(tests/browser)
if [[ "$what" == build || "$what" == test ]]; then
  for d in "${npm_dirs[@]}"; do
    if [[ -f $d/package.json ]] &&
       { [[ ! -d $d/node_modules ]] || [[ $d/package.json -nt $d/node_modules ]]; }; then
      (cd "$d" && npm install --no-audit --no-fund --loglevel=error && touch node_modules)
    fi
  done
fi

# The dashboard's browser test drives Debian's chromium with playwright-core.
if [[ "$what" == test && -f tests/inspect/browser/package.json ]]; then
  if [[ ! -d tests/inspect/browser/node_modules ]] ||
     [[ tests/inspect/browser/package.json -nt tests/inspect/browser/node_modules ]]; then
    (cd tests/inspect/browser && npm install --no-audit --no-fund --loglevel=error)
  fi
fi
