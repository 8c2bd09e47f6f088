"""clinicline: integrations."""
