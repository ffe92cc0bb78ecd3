"""User-facing errors.

Every problem a user can cause or fix (a bad file, a missing model pack, a wrong
option) is raised as a :class:`HeirloomError` whose message is one sentence a
photographer understands. The CLI prints it and exits with code 2; the GUI shows it
in a dialog. Anything else that escapes is a bug in Heirloom.
"""

from __future__ import annotations


class HeirloomError(Exception):
    """A problem with the user's input or set-up, described in one line.

    Messages often quote what the user gave (a file name, a manifest key); control
    characters in those are shown escaped, so the message stays one line.
    """

    def __str__(self) -> str:
        text = super().__str__()
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ImageError(HeirloomError):
    """An image file cannot be read or written."""


class WriteError(HeirloomError):
    """A file could not be written (disk full, read-only folder, ...); nothing was lost."""


class PackError(HeirloomError):
    """A model pack is missing, malformed or does not match its manifest."""


class Cancelled(Exception):  # noqa: N818 - it is an outcome, not an error
    """Raised inside a job when the user cancelled it; never shown as an error."""
