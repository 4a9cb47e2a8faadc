"""The spoken prompts: catalogue, when each is due, the speaker's queue on a fake clock with
the simulated speaker, the audio files (espeak-ng, recorded files, volume) and the ALSA
output through aplay on ALSA's null device."""

from __future__ import annotations

import shutil
import wave
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from kiosk.config import VoiceSettings
from kiosk.errors import AudioError
from kiosk.lane import LaneSnapshot
from kiosk.reasons import Reason
from kiosk.sim.audio import SimAudio
from kiosk.voice import prompts
from kiosk.voice.clips import Library, build_defaults, scaled_copy, trim_silence, wav_duration
from kiosk.voice.speaker import AlsaOutput, Voice, VoiceThread, volume_at

CST = timezone(timedelta(hours=8))


def snap(state="idle", *, lane="main", result_no=0, reason=None, present=False, **kw):
    return LaneSnapshot(
        lane, "in", state=state, reason=reason, result_no=result_no, present=present, **kw
    )


def write_wav(path, seconds=0.5, *, rate=8000, width=2, value=1000):
    frames = int(seconds * rate)
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    data = np.full(frames, value, dtype=dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


def samples(path):
    with wave.open(str(path), "rb") as handle:
        width = handle.getsampwidth()
        data = handle.readframes(handle.getnframes())
    return np.frombuffer(data, dtype={1: np.uint8, 2: np.int16, 4: np.int32}[width])


# -- the catalogue ---------------------------------------------------------------------------


def test_prompts_every_reason_has_a_result_prompt():
    for reason in Reason:
        prompt = prompts.CATALOGUE[prompts.REASON_PROMPTS[reason]]
        assert prompt.kind == prompts.RESULT
    assert prompts.result_prompt("NO_SUCH_CODE", False).name == "denied"
    assert prompts.result_prompt(None, True).name == "granted"


def test_prompts_names_are_file_stems_and_words_are_there():
    for name, prompt in prompts.CATALOGUE.items():
        assert name == prompt.name and name.isidentifier() and name.islower()
        assert prompt.zh and prompt.en
        assert prompt.text() == prompt.zh
        assert prompt.text(english=True) == f"{prompt.zh} {prompt.en}"
    assert prompts.CATALOGUE["parcel_waiting"].zh == "您有快递在取件处"
    assert prompts.CATALOGUE["show_pass"].zh == "请出示出入证"


# -- when a prompt is due --------------------------------------------------------------------


def test_prompts_result_cue_once_per_decision():
    granted = snap("granted", result_no=1, reason="GRANTED", hold_s=3.0)
    (cue,) = prompts.cues(snap("measuring"), granted, 10.0)
    assert (cue.prompt.name, cue.due, cue.stale) == ("granted", 10.0, 13.0)
    # the lane republishes during the hold (ambient, person left): no second prompt
    assert prompts.cues(granted, replace(granted, present=False), 10.5) == []
    # the next person gets the same decision: a new result number, a new prompt
    again = replace(granted, result_no=2)
    assert [c.prompt.name for c in prompts.cues(granted, again, 11.0)] == ["granted"]


def test_prompts_result_matches_the_reason():
    for reason in (Reason.FEVER, Reason.PASS_REVOKED, Reason.HOME_OBSERVATION):
        denied = snap("denied", result_no=1, reason=str(reason))
        (cue,) = prompts.cues(None, denied, 0.0)
        assert cue.prompt.name == prompts.REASON_PROMPTS[reason]


def test_prompts_parcel_notice_follows_a_grant():
    waiting = {
        "household": "7-1201",
        "count": 2,
        "slots": ["A3"],
        "text": "7-1201 有 2 件快递 · A3",
    }
    granted = snap("granted", result_no=1, reason="GRANTED", parcels=waiting)
    names = [c.prompt.name for c in prompts.cues(None, granted, 0.0)]
    assert names == ["granted", "parcel_waiting"]
    fever = snap("denied", result_no=1, reason="FEVER", parcels=waiting)
    assert [c.prompt.name for c in prompts.cues(None, fever, 0.0)] == ["fever"]
    plain = snap("granted", result_no=1, reason="GRANTED")
    assert [c.prompt.name for c in prompts.cues(None, plain, 0.0)] == ["granted"]


def test_prompts_guidance():
    measuring = snap("measuring")
    (cue,) = prompts.cues(snap("idle", present=True), measuring, 5.0)
    assert cue.prompt.name == "look_at_sensor" and cue.due == pytest.approx(5.8)
    assert prompts.cues(measuring, replace(measuring, version=3), 5.1) == []
    manual = replace(measuring, manual_temperature=True)
    assert [c.prompt.name for c in prompts.cues(measuring, manual, 6.0)] == ["manual_measure"]
    assert prompts.cues(manual, manual, 6.1) == []
    (cue,) = prompts.cues(snap("idle"), snap("idle", present=True), 1.0)
    assert cue.prompt.name == "show_pass" and cue.due == 2.0
    # back to idle after a result with the person still there: not asked for a pass again
    after = snap("idle", result_no=1, present=True)
    assert prompts.cues(snap("granted", result_no=1, present=True), after, 4.0) == []


def test_prompts_closer_is_said_at_once_when_the_lane_asks_and_once_only():
    asked = snap("idle", present=True, closer=True)
    (cue,) = prompts.cues(snap("idle", present=True), asked, 3.0)
    assert cue.prompt.name == "closer" and cue.due == 3.0
    assert (cue.prompt.zh, cue.prompt.en) == (
        "请将出入证靠近摄像头",
        "Hold your pass closer to the camera",
    )
    assert prompts.cues(asked, replace(asked, version=5), 3.5) == []
    # the pass is read: the request is over, and a pending show_pass is not said over it
    assert not prompts.wanted(cue, snap("measuring", present=True))
    assert not prompts.wanted(cue, snap("idle", present=True))
    (show,) = prompts.cues(snap("idle"), snap("idle", present=True), 0.0)
    assert not prompts.wanted(show, asked)


def test_voice_closer_interrupts_show_pass_and_a_result_interrupts_closer(speaker, clock):
    voice, audio = speaker
    voice.tell(snap("idle", present=True))
    voice.step()
    clock.advance(1.0)
    voice.step()
    assert heard(audio) == [(1.0, "main", "show_pass")]
    clock.advance(0.2)
    voice.tell(snap("idle", present=True, closer=True))
    voice.step()
    assert heard(audio)[-1] == (1.2, "main", "closer")
    closer = voice._playing[1]
    clock.advance(0.3)
    voice.tell(snap("granted", result_no=1, reason="GRANTED", present=True))
    voice.step()
    assert closer.stopped and heard(audio)[-1] == (1.5, "main", "granted")


def test_prompts_wanted_drops_what_the_lane_moved_past():
    (show,) = prompts.cues(snap("idle"), snap("idle", present=True), 0.0)
    assert prompts.wanted(show, snap("idle", present=True))
    assert not prompts.wanted(show, snap("idle", present=False))
    assert not prompts.wanted(show, snap("measuring", present=True))
    (look,) = prompts.cues(None, snap("measuring"), 0.0)
    assert not prompts.wanted(look, snap("measuring", manual_temperature=True))
    (result,) = prompts.cues(None, snap("denied", result_no=1, reason="FEVER"), 0.0)
    assert prompts.wanted(result, snap("idle", result_no=1))
    assert not prompts.wanted(result, snap("denied", result_no=2, reason="FEVER"))


# -- the speaker's queue ---------------------------------------------------------------------


@pytest.fixture
def speaker(tmp_path, clock):
    audio = SimAudio(clock)
    voice = Voice(audio, Library(tmp_path / "voice"), clock)
    voice.prepare()
    return voice, audio


def heard(audio):
    return [(round(p.t, 2), p.lane, p.prompt) for p in audio.played]


def test_voice_result_interrupts_its_lanes_guidance(speaker, clock):
    voice, audio = speaker
    voice.tell(snap("measuring"))
    voice.step()
    clock.advance(0.8)
    voice.step()
    assert heard(audio) == [(0.8, "main", "look_at_sensor")]
    playing = voice._playing[1]
    clock.advance(0.2)
    voice.tell(snap("granted", result_no=1, reason="GRANTED"))
    voice.step()
    assert playing.stopped
    assert heard(audio)[-1] == (1.0, "main", "granted")


def test_voice_quick_person_hears_only_the_result(speaker, clock):
    voice, audio = speaker
    voice.tell(snap("idle", present=True))
    voice.tell(snap("measuring", present=True))
    voice.step()
    clock.advance(0.5)
    voice.tell(snap("granted", result_no=1, reason="GRANTED", present=True))
    voice.step()
    for _ in range(100):
        clock.advance(0.05)
        voice.step()
    assert [p.prompt for p in audio.played] == ["granted"]


def test_voice_guidance_waits_for_a_result_and_other_lanes_take_turns(speaker, clock):
    voice, audio = speaker
    voice.tell(snap("denied", result_no=1, reason="FEVER", hold_s=3.0))
    voice.tell(snap("denied", lane="exit", result_no=1, reason="PASS_EXPIRED", hold_s=3.0))
    voice.step()
    assert heard(audio) == [(0.0, "main", "fever")]
    first = audio.played[0].duration_s
    assert first < 3.0
    clock.advance(first + 0.01)
    voice.step()
    assert heard(audio)[-1] == (round(first + 0.01, 2), "exit", "pass_expired")


def test_voice_stale_prompts_are_dropped(speaker, clock):
    voice, audio = speaker
    voice.tell(snap("denied", lane="exit", result_no=1, reason="PASS_EXPIRED", hold_s=3.0))
    voice.step()
    voice.tell(snap("denied", result_no=1, reason="FEVER", hold_s=0.5))
    voice.step()
    clock.advance(20.0)  # the exit prompt outlasts main's result by far
    voice.step()
    assert [p.prompt for p in audio.played] == ["pass_expired"]


def test_voice_quiet_hours_and_silence(tmp_path, clock):
    settings = VoiceSettings(volume=0.8, quiet_hours="07:00-08:00", quiet_volume=0.2)
    assert volume_at(settings, datetime(2020, 2, 4, 7, 30, tzinfo=CST)) == 0.2
    assert volume_at(settings, datetime(2020, 2, 4, 8, 0, tzinfo=CST)) == 0.8
    assert volume_at(replace(settings, quiet_hours=""), datetime(2020, 2, 4, 7, 30)) == 0.8
    audio = SimAudio(clock)  # the fake clock stands at 07:30
    voice = Voice(audio, Library(tmp_path), clock, volume=lambda m: volume_at(settings, m))
    voice.tell(snap("granted", result_no=1, reason="GRANTED"))
    voice.step()
    assert audio.played[0].volume == 0.2
    silent = Voice(audio, Library(tmp_path), clock, volume=lambda m: 0.0)
    silent.tell(snap("granted", result_no=1, reason="GRANTED"))
    silent.step()
    assert len(audio.played) == 1


def test_voice_broken_speaker_is_a_status_not_an_error(speaker, clock):
    voice, audio = speaker
    seen = []
    voice.on_status = seen.append
    audio.broken = "no such device"
    voice.tell(snap("granted", result_no=1, reason="GRANTED"))
    voice.step()  # never raises
    assert voice.status()["state"] == "fault" and seen[-1]["problem"] == "no such device"
    audio.broken = None
    voice.tell(snap("granted", result_no=2, reason="GRANTED"))
    voice.step()
    assert voice.status()["state"] == "ok" and seen[-1]["state"] == "ok"
    assert [p.prompt for p in audio.played] == ["granted"]


def test_voice_thread_prepares_then_speaks_and_stops(tmp_path, clock):
    audio = SimAudio(clock)
    voice = Voice(audio, Library(tmp_path / "voice"), clock)
    thread = VoiceThread(voice)
    thread.start()
    assert thread.alive
    assert thread.settle()  # the first turn checked the output
    assert voice.status()["state"] == "ok"
    voice.tell(snap("granted", result_no=1, reason="GRANTED"))
    assert thread.settle() and thread.settle()
    assert [p.prompt for p in audio.played] == ["granted"]
    thread.stop()
    assert not thread.alive and voice._playing is None


# -- audio files -----------------------------------------------------------------------------


def test_clips_recorded_file_wins_and_a_broken_one_falls_back(tmp_path):
    library = Library(tmp_path)
    assert library.clip("granted").files == ()
    assert "granted" in library.missing()
    default = write_wav(tmp_path / "default" / "granted.wav", 1.0)
    clip = library.clip("granted")
    assert clip.files == (default,) and clip.sources == ("default",)
    assert clip.duration_s == pytest.approx(1.0)
    recorded = write_wav(tmp_path / "granted.wav", 0.25)
    assert library.clip("granted").files == (recorded,)
    recorded.write_bytes(b"RIFF nonsense")
    assert library.clip("granted").files == (default,)


def test_clips_english_adds_the_english_file(tmp_path):
    write_wav(tmp_path / "default" / "fever.wav", 1.0)
    library = Library(tmp_path, english=True)
    assert library.clip("fever").files == ()  # the English file is missing
    write_wav(tmp_path / "default" / "fever.en.wav", 0.5)
    clip = library.clip("fever")
    assert clip.duration_s == pytest.approx(1.5)
    assert clip.text == "体温异常，请到一旁复测 Temperature high, please step aside"


def test_clips_scaled_copy_scales_samples(tmp_path):
    for width, value, expect in ((2, 1000, 500), (4, 100000, 50000), (1, 228, 178)):
        source = write_wav(tmp_path / f"w{width}.wav", 0.1, width=width, value=value)
        target = scaled_copy(source, tmp_path / "out" / f"w{width}.wav", 0.5)
        assert set(samples(target).tolist()) == {expect}
    source = tmp_path / "w3.wav"
    with wave.open(str(source), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(3)
        out.setframerate(8000)
        out.writeframes(b"\0\0\0" * 10)
    with pytest.raises(AudioError, match="24-bit"):
        scaled_copy(source, tmp_path / "out" / "w3.wav", 0.5)


def test_clips_trim_silence(tmp_path):
    path = tmp_path / "t.wav"
    data = np.concatenate([np.zeros(8000), np.full(4000, 5000), np.zeros(8000)]).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(data.tobytes())
    trim_silence(path)
    assert wav_duration(path) == pytest.approx(0.5 + 2 * 0.05, abs=0.01)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_clips_build_defaults_with_espeak_ng(tmp_path):
    made = build_defaults(tmp_path, english=True)
    assert len(made) == 2 * len(prompts.CATALOGUE)
    library = Library(tmp_path, english=True)
    assert library.missing() == []
    assert 0.3 < wav_duration(tmp_path / "default" / "granted.wav") < 6.0
    assert build_defaults(tmp_path, english=True) == []  # cached
    (tmp_path / "default" / "fever.wav").unlink()
    assert build_defaults(tmp_path, english=True) == [tmp_path / "default" / "fever.wav"]


def test_clips_build_without_espeak_ng_says_how_to_install(tmp_path):
    with pytest.raises(AudioError, match="apt-get install espeak-ng"):
        build_defaults(tmp_path, espeak="no-such-espeak")


# -- the ALSA output -------------------------------------------------------------------------

needs_aplay = pytest.mark.skipif(shutil.which("aplay") is None, reason="alsa-utils not installed")


@needs_aplay
def test_alsa_output_plays_on_the_null_device(tmp_path):
    output = AlsaOutput("null", tmp_path / "cache")
    assert output.check() is None
    clip = Library(tmp_path).clip("granted")
    with pytest.raises(AudioError, match="no audio file"):
        output.play(clip, 1.0)
    write_wav(tmp_path / "default" / "granted.wav", 0.2)
    playback = output.play(Library(tmp_path).clip("granted"), 0.5)
    playback.process.wait(5)
    assert playback.done() and playback.error is None
    assert list((tmp_path / "cache").rglob("granted.wav"))  # the volume-scaled copy


@needs_aplay
def test_alsa_output_missing_device_is_reported(tmp_path):
    output = AlsaOutput("no_such_pcm_device", tmp_path / "cache")
    problem = output.check()
    assert problem and "no_such_pcm_device" in problem
    write_wav(tmp_path / "default" / "granted.wav", 0.2)
    with pytest.raises(AudioError, match="no_such_pcm_device"):
        output.play(Library(tmp_path).clip("granted"), 1.0)


def test_alsa_output_without_aplay(tmp_path):
    output = AlsaOutput("default", tmp_path, aplay="no-such-aplay")
    assert "alsa-utils" in output.check()
