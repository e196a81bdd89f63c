#!/usr/bin/env bash
# Makes sure cargo (Rust 1.85+, for edition 2024) is on PATH; installs rustup's stable
# toolchain for the current user when it is missing. Source it: `. scripts/ensure-rust.sh`.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: installing the Rust toolchain with rustup" >&2
  if ! command -v curl >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq curl ca-certificates; \
    else sudo apt-get update -qq && sudo apt-get install -y -qq curl ca-certificates; fi
  fi
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
