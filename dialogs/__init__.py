"""clinicline: dialogs."""
