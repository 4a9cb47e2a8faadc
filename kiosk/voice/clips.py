"""The audio files behind the prompts.

Defaults are made offline, once, at set-up (``kiosk voice build``) with Debian's espeak-ng and
its Mandarin voice (``cmn``), and cached as ``<folder>/default/<name>.wav`` (``<name>.en.wav``
for the English words). Maintenance can drop recorded files of the same names into the
folder itself (``<folder>/<name>.wav``): a recorded file always wins over the default, and is
picked up at the next prompt without a restart. Files are WAV, PCM, 8, 16 or 32 bit.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.errors import AudioError
from kiosk.voice.prompts import CATALOGUE

log = logging.getLogger(__name__)

#: The generated defaults live in this sub-folder of the voice folder.
DEFAULT_SUBDIR = "default"
#: espeak-ng voices for the two languages, and the speaking rate (words per minute).
ESPEAK = "espeak-ng"
VOICES = {"zh": "cmn", "en": "en"}
SPEED_WPM = 190
#: Seconds per character when a prompt has no file to measure (the simulated speaker).
SECONDS_PER_CHAR = 0.22


@dataclass(frozen=True)
class Clip:
    """What the speaker plays for one prompt.

    :param files: WAV files played one after the other (Mandarin, then English); empty when
        there are none (the simulated speaker needs none).
    :param duration_s: how long the whole clip lasts, in seconds.
    :param sources: per file, ``"recorded"`` or ``"default"``.
    """

    name: str
    text: str
    files: tuple[Path, ...]
    duration_s: float
    sources: tuple[str, ...] = ()


def file_names(name: str, english: bool) -> list[str]:
    """The file names of prompt *name*: ``name.wav`` and, with *english*, ``name.en.wav``."""
    return [f"{name}.wav", *([f"{name}.en.wav"] if english else [])]


def wav_duration(path: Path) -> float:
    """Seconds of audio in the WAV file *path*.

    :raises AudioError: not a readable PCM WAV file.
    """
    try:
        with wave.open(str(path), "rb") as handle:
            rate = handle.getframerate()
            return handle.getnframes() / rate if rate else 0.0
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"{path}: not a usable WAV file ({exc})") from None


def estimate_duration(text: str) -> float:
    """A spoken text's length in seconds, from its characters (for clips without files)."""
    return round(0.3 + SECONDS_PER_CHAR * len(text.replace(" ", "")), 2)


class Library:
    """The prompt audio in *folder*: recorded files there, generated defaults in
    ``folder/default``.

    :param english: each prompt is followed by its English words (``name.en.wav``).
    """

    def __init__(self, folder: Path, *, english: bool = False) -> None:
        self.folder = Path(folder)
        self.defaults = self.folder / DEFAULT_SUBDIR
        self.english = english

    def _find(self, file_name: str) -> tuple[Path, str] | None:
        for path, source in (
            (self.folder / file_name, "recorded"),
            (self.defaults / file_name, "default"),
        ):
            if not path.is_file():
                continue
            try:
                wav_duration(path)
            except AudioError as exc:
                log.warning("prompt audio %s", exc)
                continue
            return path, source
        return None

    def clip(self, name: str) -> Clip:
        """The clip of prompt *name*: recorded files win over the defaults; a prompt with
        no usable file gets a clip without files (the real speaker refuses it).

        :raises KeyError: no such prompt.
        """
        prompt = CATALOGUE[name]
        found = [self._find(f) for f in file_names(name, self.english)]
        text = prompt.text(self.english)
        if not all(found):
            return Clip(name, text, (), estimate_duration(text))
        files = tuple(path for path, _ in found)
        return Clip(
            name,
            text,
            files,
            round(sum(wav_duration(p) for p in files), 3),
            tuple(source for _, source in found),
        )

    def missing(self) -> list[str]:
        """Prompts with no usable audio file."""
        return [name for name in CATALOGUE if not self.clip(name).files]

    def listing(self) -> list[dict]:
        """Each prompt: name, words, and where its audio comes from."""
        out = []
        for name, prompt in CATALOGUE.items():
            clip = self.clip(name)
            out.append(
                {
                    "name": name,
                    "kind": prompt.kind,
                    "text": clip.text,
                    "source": "+".join(clip.sources) or "missing",
                    "seconds": clip.duration_s if clip.files else None,
                }
            )
        return out


def build_defaults(folder: Path, *, english: bool = True, espeak: str = ESPEAK) -> list[Path]:
    """Make the default audio of every prompt with espeak-ng into ``folder/default``.

    Only files missing or whose words changed since they were made are written (a manifest,
    ``default/words.json``, remembers the words of each file). Returns the files written.

    :raises AudioError: espeak-ng is not installed or fails.
    """
    program = shutil.which(espeak)
    if program is None:
        raise AudioError(
            f"{espeak} is not installed: run scripts/system-packages.sh "
            "(apt-get install espeak-ng) to make the spoken prompts"
        )
    target = Path(folder) / DEFAULT_SUBDIR
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioError(f"{target}: cannot create the prompt folder: {exc}") from None
    manifest_path = target / "words.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            manifest = {}
    except (OSError, ValueError):
        manifest = {}
    written = []
    for name, prompt in CATALOGUE.items():
        todo = [("zh", f"{name}.wav", prompt.zh)]
        if english:
            todo.append(("en", f"{name}.en.wav", prompt.en))
        for language, file_name, words in todo:
            path = target / file_name
            if path.is_file() and manifest.get(file_name) == words:
                continue
            command = [
                program,
                "-v",
                VOICES[language],
                "-s",
                str(SPEED_WPM),
                "-w",
                str(path),
                words,
            ]
            try:
                subprocess.run(command, check=True, capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError) as exc:
                raise AudioError(f"{espeak} failed for prompt {name!r}: {exc}") from None
            trim_silence(path)
            manifest[file_name] = words
            written.append(path)
    if written:
        manifest_path.write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    return written


_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}
#: Samples quieter than this share of full scale count as silence at a clip's ends.
SILENCE_LEVEL = 0.01
#: Silence (s) kept at each end of a trimmed clip.
SILENCE_KEEP_S = 0.05


def read_wav(path: Path):
    """``(params, frames)`` of the WAV file *path* (``wave``'s parameters and raw bytes).

    :raises AudioError: not a readable PCM WAV file.
    """
    try:
        with wave.open(str(path), "rb") as handle:
            params = handle.getparams()
            return params, handle.readframes(params.nframes)
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"{path}: not a usable WAV file ({exc})") from None


def trim_silence(path: Path) -> None:
    """Cut the silence espeak-ng leaves at both ends of the 16-bit WAV file *path*, so a
    prompt starts at once and the speaker is free sooner.

    :raises AudioError: not a 16-bit PCM WAV file.
    """
    params, frames = read_wav(path)
    if params.sampwidth != 2:
        raise AudioError(f"{path}: expected 16-bit samples")
    samples = np.frombuffer(frames, dtype=np.int16).reshape(-1, params.nchannels)
    loud = np.flatnonzero(np.abs(samples).max(axis=1) > SILENCE_LEVEL * 32767)
    if loud.size == 0:
        return
    keep = int(SILENCE_KEEP_S * params.framerate)
    start, end = max(0, loud[0] - keep), min(len(samples), loud[-1] + keep)
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(samples[start:end].tobytes())


def scaled_copy(source: Path, target: Path, volume: float) -> Path:
    """Write *source* (a PCM WAV file) to *target* with its samples scaled by *volume*
    (0..1). Returns *target*.

    :raises AudioError: the file is not 8, 16 or 32-bit PCM WAV, or cannot be written.
    """
    params, frames = read_wav(source)
    dtype = _DTYPES.get(params.sampwidth)
    if dtype is None:
        raise AudioError(f"{source}: {8 * params.sampwidth}-bit samples; save it as 16-bit PCM")
    samples = np.frombuffer(frames, dtype=dtype)
    if dtype is np.uint8:  # 8-bit WAV is unsigned around 128
        scaled = ((samples.astype(np.float64) - 128.0) * volume + 128.0).round()
    else:
        scaled = (samples.astype(np.float64) * volume).round()
    info = np.iinfo(dtype)
    data = np.clip(scaled, info.min, info.max).astype(dtype).tobytes()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(target), "wb") as out:
            out.setparams(params)
            out.writeframes(data)
    except OSError as exc:
        raise AudioError(f"{target}: cannot write: {exc}") from None
    return target
