"""Things that call the service from the outside world: the LMTP/SMTP receiver."""

__all__: list[str] = []
