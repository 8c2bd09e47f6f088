"""clinicline: nlu."""
