"""clinicline: routing."""
