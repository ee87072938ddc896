"""Does a domain's SPF policy pass a provider's servers? (RFC 7208, evaluated for one include)

We cannot run ``check_host()`` for the provider's IP addresses (they are the provider's and
change), so the question is asked about its include instead: evaluating the domain's record
term by term, is ``include:<provider>`` the first mechanism that matches, with the ``+``
qualifier, in this record or in a record it includes or redirects to?

* ``ip4``, ``ip6``, ``a``, ``mx``, ``ptr`` and ``exists`` are taken not to match the provider's
  servers (they describe the domain's own); ``all`` matches everything, so a record that reaches
  ``all`` first does not authorise the provider. Terms after ``all`` are never evaluated.
* ``include:x`` matches when ``x``'s own evaluation passes (RFC 7208 5.2); its qualifier then
  decides: ``-include``/``~include``/``?include`` of the provider is a failure.
* ``redirect=x`` applies when no mechanism matched and the record has no ``all`` (6.1).
* ``include``, ``a``, ``mx``, ``ptr``, ``exists`` and ``redirect`` each cost one DNS lookup;
  more than 10 in the whole evaluation is a permanent error (4.6.4). The provider's include
  costs one; the provider's own record is not fetched.
* No SPF record, several, an unknown mechanism, or an include/redirect target without one is a
  permanent error; a DNS failure is a temporary one. Both mean "not authorised".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from perch.server.integrations.dns import DnsError

TxtLookup = Callable[[str], Awaitable[list[str]]]

LOOKUP_LIMIT = 10
_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_COSTLY = {"include", "a", "mx", "ptr", "exists"}
_NEEDS_VALUE = {"include", "ip4", "ip6", "exists"}


class PermError(Exception):
    """The policy is broken: RFC 7208 ``permerror``."""


@dataclass(frozen=True)
class Term:
    qualifier: str  # "+", "-", "~", "?" for mechanisms; "=" for modifiers
    name: str  # lower-case
    value: str  # domain-spec, CIDR or modifier value ("" when absent)


@dataclass
class _Budget:
    used: int = 0

    def spend(self) -> None:
        self.used += 1
        if self.used > LOOKUP_LIMIT:
            raise PermError(f"more than {LOOKUP_LIMIT} DNS-querying terms")


def parse_term(text: str) -> Term:
    qualified = text[0] in "+-~?"
    name, sep, value = _split_term(text[1:] if qualified else text)
    if sep == "=":
        if qualified or not name:
            raise PermError(f"malformed modifier {text!r}")
        return Term("=", name.lower(), value)
    if name.lower() not in _MECHANISMS or (name.lower() in _NEEDS_VALUE and not value):
        raise PermError(f"malformed mechanism {text!r}")
    return Term(text[0] if qualified else "+", name.lower(), value)


def _split_term(body: str) -> tuple[str, str, str]:
    """``name`` plus what follows its first ``:``, ``/`` or ``=`` (modifiers have ``=`` first)."""
    for index, char in enumerate(body):
        if char in ":/=":
            rest = body[index + 1 :] if char != "/" else body[index:]
            return body[:index], char, rest
    return body, "", ""


def spf_record(records: list[str]) -> list[Term]:
    """The terms of the one ``v=spf1`` record among a name's TXT records."""
    policies = [r for r in records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]
    if len(policies) != 1:
        raise PermError("no SPF record" if not policies else "several SPF records")
    return [parse_term(term) for term in policies[0].split()[1:]]


def same_domain(left: str, right: str) -> bool:
    return left.rstrip(".").lower() == right.rstrip(".").lower()


async def authorizes(domain: str, include: str, lookup: TxtLookup) -> bool:
    """True when ``domain``'s SPF policy passes ``include``'s servers; never raises."""
    try:
        return await _passes(domain, include, lookup, _Budget())
    except (PermError, DnsError):
        return False


async def _passes(domain: str, include: str, lookup: TxtLookup, budget: _Budget) -> bool:
    terms = spf_record(await lookup(domain))
    for term in terms:
        if term.qualifier == "=":
            continue
        if await _matches(term, include, lookup, budget):
            return term.qualifier == "+"
    redirects = [t.value for t in terms if t.qualifier == "=" and t.name == "redirect"]
    if len(redirects) > 1:
        raise PermError("several redirect= modifiers")
    if not redirects or any(t.name == "all" and t.qualifier != "=" for t in terms):
        return False
    redirect = redirects[0]
    budget.spend()
    return await _passes(redirect, include, lookup, budget)


async def _matches(term: Term, include: str, lookup: TxtLookup, budget: _Budget) -> bool:
    """Whether this mechanism matches the provider's servers (see the module docstring)."""
    if term.name in _COSTLY:
        budget.spend()
    if term.name == "all":
        return True
    if term.name != "include":
        return False
    if "%" in term.value:  # a macro cannot be expanded without the connecting IP
        return False
    if same_domain(term.value, include):
        return True
    return await _passes(term.value, include, lookup, budget)
