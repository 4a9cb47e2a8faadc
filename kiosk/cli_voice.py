"""``kiosk voice``: the spoken prompts' audio made offline with espeak-ng, listed, and one
played on the configured ALSA device. Part of the ``kiosk`` command (:mod:`kiosk.cli`)."""

from __future__ import annotations

import click

from kiosk.config import CONFIG_HELP, load_or_default
from kiosk.errors import ConfigError, KioskError
from kiosk.schema import did_you_mean


@click.group()
def voice() -> None:
    """The spoken prompts: make the default audio, list it, play one."""


def _voice_library(config_path, demo: bool):
    from kiosk.voice.clips import Library

    cfg = load_or_default(config_path, demo=demo)
    return cfg, Library(cfg.voice_dir, english=cfg.voice.english)


DEMO_HELP = "Use the demo configuration (default: /etc/kiosk/kiosk.toml)."


@voice.command("build")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def voice_build(config_path: str | None, demo: bool) -> None:
    """Make the default audio of every prompt with espeak-ng (Mandarin and English), offline.

    Only missing files and those whose words changed are made; recorded files of the same
    names in the voice folder are never touched and always win."""
    from kiosk.voice.clips import build_defaults

    _, library = _voice_library(config_path, demo)
    made = build_defaults(library.folder, english=True)
    click.echo(f"{len(made)} files made in {library.defaults}")
    missing = library.missing()
    if missing:
        raise KioskError(f"prompts still without audio: {', '.join(missing)}")


@voice.command("list")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def voice_list(config_path: str | None, demo: bool) -> None:
    """Every prompt: name, kind, where its audio comes from (recorded, default, missing), words."""
    _, library = _voice_library(config_path, demo)
    for row in library.listing():
        seconds = f"{row['seconds']:.1f} s" if row["seconds"] else ""
        click.echo(
            f"{row['name']:20} {row['kind']:7} {row['source']:17} {seconds:>6}  {row['text']}"
        )


@voice.command("play")
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def voice_play(name: str, config_path: str | None, demo: bool) -> None:
    """Play prompt NAME on the configured ALSA device, at the volume of this hour."""
    from kiosk.clock import SystemClock
    from kiosk.voice.prompts import CATALOGUE
    from kiosk.voice.speaker import AlsaOutput, volume_at

    cfg, library = _voice_library(config_path, demo)
    if name not in CATALOGUE:
        hint = did_you_mean(name, CATALOGUE)
        raise ConfigError(f"no prompt named {name!r}{hint} (kiosk voice list shows them)")
    output = AlsaOutput(cfg.voice.device, library.defaults / "at-volume")
    volume = volume_at(cfg.voice, SystemClock().now())
    playback = output.play(library.clip(name), max(volume, 0.05))
    playback.process.wait()
    playback.done()
    if playback.error:
        raise KioskError(playback.error)
    click.echo(f"played {name} at volume {volume:g} on {cfg.voice.device}")
