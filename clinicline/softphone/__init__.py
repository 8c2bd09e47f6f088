"""Agents' browser phones: a WebRTC softphone in the console, rung by the voice workers.

`gateway` runs Kamailio (SIP over WebSocket, registrations, ephemeral credentials) and
rtpengine (the browser's ICE + DTLS-SRTP to the workers' plain RTP) beside the server.
`relay` carries a signed-in agent's WebSocket from the console's app to the gateway and
tells routing when her browser phone is registered, so calls ring it instead of her desk.
"""

from clinicline.softphone.gateway import Credentials, SoftphoneGateway, SoftphoneLine

__all__ = ["Credentials", "SoftphoneGateway", "SoftphoneLine"]
