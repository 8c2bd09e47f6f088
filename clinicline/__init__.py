"""clinicline: clinicline."""
