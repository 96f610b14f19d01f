#!/usr/bin/env bash
# Sets SharkMCP up on this machine: Wireshark's command-line tools (installed with apt-get when
# this is Debian/Ubuntu and we are root or have sudo; otherwise the exact command is printed),
# the npm dependencies, and the build; with --tests, also what the tests need (OpenSSH's server,
# tcpdump).
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi

# How this machine installs packages: apt-get as root, or with password-less sudo; else "none".
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo)
  else sudo=(none)
  fi
else
  sudo=(none)
fi
apt_install() {
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
    { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; }
}

missing=()
for tool in tshark dumpcap capinfos; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done

if [ ${#missing[@]} -gt 0 ]; then
  say "missing Wireshark tools: ${missing[*]}"
  if [ "${sudo[0]:-}" != none ]; then
    say "installing tshark with apt-get (non-interactive)"
    # Answer wireshark-common's question ("may non-superusers capture?") up front: no prompt.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark
  else
    say "install Wireshark's command-line tools, then run setup again:"
    say "  Debian/Ubuntu: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y tshark"
    say "  Fedora:        sudo dnf install wireshark-cli"
    say "  Arch:          sudo pacman -S wireshark-cli"
    say "  macOS:         brew install wireshark"
    say "  Windows:       winget install WiresharkFoundation.Wireshark"
    exit 1
  fi
fi
for tool in tshark dumpcap capinfos; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "$tool is still missing after the install; install Wireshark's command-line tools by hand and run setup again."
    exit 1
  fi
done
say "$(tshark --version 2>/dev/null | head -n 1)"

# Optional: with a C compiler, pkg-config and Wireshark's headers, `npm run build` also builds the
# counter that summaries run inside tshark (native/summary-counter.c). Without it summaries are just
# as exact, and about twice as slow on large captures.
if ! { command -v cc >/dev/null 2>&1 && pkg-config --exists wireshark 2>/dev/null; }; then
  if [ "${sudo[0]:-}" != none ]; then
    say "installing gcc, pkg-config and Wireshark's headers for the summary counter"
    apt_install gcc pkg-config libwireshark-dev libglib2.0-dev ||
      say "could not install them: summaries will count the slower way"
  else
    say "for faster summaries of large captures, install gcc, pkg-config and Wireshark's headers"
    say "  (Debian/Ubuntu: apt-get install gcc pkg-config libwireshark-dev libglib2.0-dev), then run setup again"
  fi
fi

# With --tests: what the tests need beyond the server itself. OpenSSH's server, which the remote
# capture tests run inside network namespaces they make (never as a system service: the package's
# own start is held back while it installs), tcpdump, which they capture with on one host, and sudo,
# through which a user without privileges captures there (with rules only the tests' sshd sees).
if [ "${1:-}" = "--tests" ] && { [ ! -x /usr/sbin/sshd ] || ! command -v tcpdump >/dev/null 2>&1 || [ ! -x /usr/bin/sudo ]; }; then
  if [ "${sudo[0]:-}" != none ]; then
    say "installing openssh-server, tcpdump and sudo for the remote capture tests (sshd's service is not started)"
    held=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
      "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
      held=1
    fi
    apt_install openssh-server tcpdump sudo || say "could not install openssh-server, tcpdump and sudo: the remote capture tests will skip"
    if [ "$held" = 1 ]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
  else
    say "the remote capture tests need openssh-server, tcpdump and sudo (apt-get install openssh-server tcpdump sudo); they skip without them"
  fi
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

# With --tests: the MCP ecosystem's own checks, which the tests run against the built server (the
# official conformance suite and the MCP Inspector CLI), with the Node 22 they need, all from the
# npm registry into tools/mcp-checks. Without them those tests skip and say why.
if [ "${1:-}" = "--tests" ]; then
  say "installing the MCP conformance suite and Inspector CLI (with Node 22) into tools/mcp-checks"
  npm install --prefix tools/mcp-checks --no-save --no-audit --no-fund ||
    say "could not install them: the conformance and Inspector tests will skip"
fi
npm run build
say "ready: 'npm run demo' shows it working, 'npm start' serves MCP on stdio, 'npm test' runs the tests"
