"""clinicline: voice."""
