"""Things that call the service from the outside world: the LMTP/SMTP receiver and the inbound
HTTP intake."""

__all__: list[str] = []
