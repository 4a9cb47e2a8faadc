"""What the kiosk says to the person at the gate: the prompt catalogue (:mod:`.prompts`),
the audio files behind it (:mod:`.clips`) and the speaker thread (:mod:`.speaker`)."""
