"""The requester's address, read from a field that must name exactly one.

An export cell, a configured requester header, a rule's ``requester`` group or a helpdesk
notification may hold an address list (``a@b.com,evil@x.com``, ``a@b.com; c@d.com``,
``"A" <a@b>, <c@d>``). The usual parsers quietly take the first address; whoever the list
happens to start with would get the notice, and the others nothing. Such a field is rejected
as input instead, naming where it came from.
"""

from __future__ import annotations

from email.utils import getaddresses


class AddressListError(ValueError):
    """A field that must hold one address holds several."""

    def __init__(self, raw: str, count: int) -> None:
        super().__init__(
            f"{raw!r} is an address list ({count} addresses), not one address "
            '(a display name with a comma needs quotes: "Lee, Sam" <sam@example.org>)'
        )
        self.count = count


def single_address(raw: str) -> tuple[str, str]:
    """(display name, address) of ``raw``; ("", "") when it names none.

    Raises :class:`AddressListError` when ``raw`` names more than one: separated by ``,`` or
    ``;``, or two ``<...>`` in a row. Whether the one address is valid is the caller's check.
    """
    pairs = [
        (name.strip(), address.strip())
        for name, address in getaddresses([raw])
        if name.strip() or address.strip()
    ]
    if len(pairs) > 1:
        raise AddressListError(raw, len(pairs))
    return pairs[0] if pairs else ("", "")


def check_single(raw: str) -> str:
    """``raw`` itself when it is not an address list; raises :class:`AddressListError`."""
    if any(mark in raw for mark in ",;<"):  # nothing to split on: one address or none
        single_address(raw)
    return raw
