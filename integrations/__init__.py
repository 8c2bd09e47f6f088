"""clinicline integrations: the clinic's store (models, migrations), its services and seed data."""
