"""The kinds of outbound campaign, apart from the service: the command line lists them
without loading the store (every `clinicline` process builds the whole parser)."""

KINDS = ("reminder", "results_ready", "post_discharge", "provider_out")
