"""Loading data into the store: the demo clinic and FHIR R4 bundles."""
