#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test gemtrail:
# libclang (the rocksdb crate generates its bindings with bindgen), a C++
# compiler, and Chromium with its WebDriver (the web pages' browser tests).
# Safe to run again: it installs only what is missing.
set -euo pipefail

missing=()
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
dpkg -s chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s chromium-driver >/dev/null 2>&1 || missing+=(chromium-driver)

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

command -v cargo >/dev/null 2>&1 || {
    echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2
    exit 1
}
