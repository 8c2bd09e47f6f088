"""Routing: business hours, agent selection, the CTI screen-pop payload and warm-transfer planning.

Nothing here speaks SIP or serves HTTP; the voice worker and the agent console call into it.
"""
