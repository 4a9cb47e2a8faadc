#!/usr/bin/env bash
# Install (or update) the gate kiosk on Raspberry Pi OS. Idempotent: run it again after
# pulling a new version; it keeps /etc/kiosk/kiosk.toml and /var/lib/kiosk as they are.
#
#   sudo scripts/install-pi.sh          (or: sudo make install)
#
# What it does: system packages; users kiosk (daemon: groups i2c, gpio, video) and
# kiosk-screen (the guard screen's browser); the code into /opt/kiosk/src and a venv in
# /opt/kiosk/venv; config/kiosk.toml to /etc/kiosk/kiosk.toml when none is there; the systemd
# units; checks that I2C and the camera are enabled. It does not start the daemon while the
# configuration still has the example gate id.
set -euo pipefail

PREFIX=/opt/kiosk
ETC=/etc/kiosk
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

if [[ $EUID -ne 0 ]]; then
    echo "run as root: sudo $0" >&2
    exit 2
fi

say "system packages"
apt-get update -qq
apt-get install -y -qq python3-venv python3-dev libzbar0 i2c-tools rsync cage chromium \
    espeak-ng alsa-utils >/dev/null

say "users and groups"
for group in i2c gpio video render input audio; do
    getent group "$group" >/dev/null || groupadd --system "$group"
done
id kiosk >/dev/null 2>&1 ||
    useradd --system --home-dir /var/lib/kiosk --no-create-home --shell /usr/sbin/nologin kiosk
usermod -a -G i2c,gpio,video,audio kiosk
id kiosk-screen >/dev/null 2>&1 ||
    useradd --system --home-dir /var/lib/kiosk-screen --no-create-home \
        --shell /usr/sbin/nologin kiosk-screen
usermod -a -G video,render,input kiosk-screen

say "code in $PREFIX/src, venv in $PREFIX/venv"
install -d -m 0755 "$PREFIX"
rsync -a --delete --exclude .git --exclude .venv --exclude var --exclude '__pycache__' \
    "$SRC/" "$PREFIX/src/"
[[ -x $PREFIX/venv/bin/python ]] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PREFIX/src"

say "configuration in $ETC"
install -d -m 0750 -o root -g kiosk "$ETC"
if [[ ! -e $ETC/kiosk.toml ]]; then
    install -m 0640 -o root -g kiosk "$SRC/config/kiosk.toml" "$ETC/kiosk.toml"
    say "wrote $ETC/kiosk.toml: set gate_id, site and [uplink] before starting"
else
    say "kept the existing $ETC/kiosk.toml"
fi
install -d -m 0750 -o kiosk -g kiosk /var/lib/kiosk

say "spoken prompts (espeak-ng, offline)"
sudo -u kiosk "$PREFIX/venv/bin/kiosk" voice build --config "$ETC/kiosk.toml" ||
    warn "the default prompt audio could not be made; run: sudo -u kiosk $PREFIX/venv/bin/kiosk voice build --config $ETC/kiosk.toml"

say "systemd units"
install -m 0644 "$SRC/systemd/kiosk.service" /etc/systemd/system/kiosk.service
install -m 0644 "$SRC/systemd/kiosk-screen.service" /etc/systemd/system/kiosk-screen.service
# the resident screen needs its display attached to seat1 first: enabled by hand (operations.md)
install -m 0644 "$SRC/systemd/kiosk-resident-screen.service" \
    /etc/systemd/system/kiosk-resident-screen.service
systemctl daemon-reload
systemctl enable kiosk.service kiosk-screen.service >/dev/null

say "hardware checks"
if command -v raspi-config >/dev/null; then
    [[ $(raspi-config nonint get_i2c) == 0 ]] || {
        raspi-config nonint do_i2c 0
        warn "I2C was off; enabled it (reboot needed)"
    }
fi
CONFIG_TXT=/boot/firmware/config.txt
[[ -e $CONFIG_TXT ]] || CONFIG_TXT=/boot/config.txt
if [[ -e $CONFIG_TXT ]] && ! grep -q '^dtparam=i2c_arm_baudrate=100000' "$CONFIG_TXT"; then
    echo 'dtparam=i2c_arm_baudrate=100000' >>"$CONFIG_TXT"
    warn "set the I2C bus to 100 kHz for the MLX90614 in $CONFIG_TXT (reboot needed)"
fi
[[ -e /dev/i2c-1 ]] || warn "/dev/i2c-1 missing: enable I2C (raspi-config) and reboot"
if [[ -e /dev/i2c-1 ]] && command -v i2cdetect >/dev/null; then
    i2cdetect -y 1 | grep -q ' 5a' || warn "no device at 0x5A on I2C bus 1: check the MLX90614"
fi
ls /dev/video* >/dev/null 2>&1 || warn "no /dev/video*: connect and enable the camera"

if grep -q '^gate_id = "gate-1"' "$ETC/kiosk.toml"; then
    warn "$ETC/kiosk.toml still has the example gate_id; edit it, then:"
    echo "    sudo -u kiosk $PREFIX/venv/bin/kiosk selftest --config $ETC/kiosk.toml"
    echo "    sudo systemctl start kiosk kiosk-screen"
else
    systemctl restart kiosk.service
    systemctl restart kiosk-screen.service || warn "the guard screen did not start"
    say "running: systemctl status kiosk; journalctl -u kiosk -f"
fi
