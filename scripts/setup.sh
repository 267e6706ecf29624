#!/usr/bin/env bash
# Installs every build and test dependency of caflens on Debian bookworm.
# Idempotent: installs only what is missing and prints nothing when all is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libcaf-dev libssl-dev           # CAF 0.17.6: core, io, openssl
  nlohmann-json3-dev              # JSON everywhere
  libcurl4-openssl-dev            # LLM providers, exporters
  libcpp-httplib-dev              # HTTP servers (mock providers, dashboard)
  liblua5.4-dev                   # operator sandbox
  libsqlite3-dev                  # store
  libcli11-dev                    # the caflens command line
  libedit-dev                     # caflens shell: line editing, history
  libjs-chart.js                  # the dashboard's charts (embedded)
  chromium                        # dashboard browser tests (headless)
  tmux                            # caflens top, tested in a real terminal
  prometheus prometheus-pushgateway  # exporter tests: a real scrape, a real push
  collectd-core                   # exporter tests: a real StatsD daemon
  prometheus-cpp-dev              # the prometheus-cpp adapter; benchmark peer
  libbenchmark-dev                # benchmarks (optional build)
  erlang-nox                      # differential supervision tests against OTP
  python3                         # LLM wire kit replay server
  clang libclang-rt-14-dev        # libFuzzer builds (CAFLENS_ENABLE_FUZZERS)
)

# npm for playwright-core: Debian's, unless a Node.js with npm is there.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser tests drive Debian's Chromium with playwright-core (npm, the
# version pinned in tests/dashboard/package-lock.json; no browser download).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -d "$root/tests/dashboard/node_modules/playwright-core" ]; then
  echo "setup: npm ci in tests/dashboard (playwright-core)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$root/tests/dashboard" \
    --no-audit --no-fund --loglevel=error >/dev/null
fi
