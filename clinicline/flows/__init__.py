"""The Flows area's back end: versions of the call flow's wording, and how workers pick up the
published one without a restart."""
