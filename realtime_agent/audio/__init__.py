"""Sound: audio formats and codecs, resampling, sources and sinks. Knows nothing of the protocol."""
