"""The clinic's EHR as the source of truth, over FHIR R4 (`--ehr fhir+http://…`).

Patients, practitioners, medications and free slots are read from the EHR when a call needs
them and mirrored into the local store (which keeps call records, audit and the console
working unchanged); bookings go to the EHR first, in one transaction guarded by the slot's
version; refill requests become FHIR Tasks through an outbox that retries until they land.
"""
