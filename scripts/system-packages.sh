#!/usr/bin/env bash
# Makes sure the system packages kiosk needs are present.
#   runtime: libzbar0 (pyzbar's decoder library), espeak-ng (makes the spoken prompts'
#            default audio, Mandarin voice), alsa-utils (aplay plays them)
#   test:    runtime + chromium (browser tests) + zbar-tools (zbarimg, a benchmark peer)
#            + postgresql (the committee server's tests and benchmark start a throwaway one)
# As root, missing packages are installed with apt-get; otherwise the exact command is
# printed and the script fails.
set -euo pipefail
want=${1:-runtime}

missing=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libzbar\.so\.0' || missing+=(libzbar0)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v aplay >/dev/null 2>&1 || missing+=(alsa-utils)
if [ "$want" = test ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${missing[*]}"
  bash -c "$cmd"
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
