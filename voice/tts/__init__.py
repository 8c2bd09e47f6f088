"""Speech synthesis for the voice worker: Piper for the bot, espeak-ng and flite for test callers,
and a cache of fixed prompts rendered at start-up."""
