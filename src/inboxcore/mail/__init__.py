"""Layer 3, the mail toolkit: reading messages as a person would, knowing nothing of helpdesks.

Parsing (:mod:`~inboxcore.mail.parsing`), what a message is (:mod:`~inboxcore.mail.classify`:
bounces, confirmations, auto-replies, loops), forwarded blocks (:mod:`~inboxcore.mail.forwards`,
its words per language in :mod:`~inboxcore.mail.forward_languages`) and who originally wrote it
(:mod:`~inboxcore.mail.sender`). Pure: bytes and values in, values out.
"""

__all__: list[str] = []
