"""Deliverability: is a sending domain's DNS ready for the provider that sends its mail?

``service.check(resolver, domain, MICROSOFT_365)`` answers two questions from DNS alone:

* SPF (``spf.py``): does the domain's SPF policy *pass* the provider's servers, i.e. reach the
  provider's include (``include:spf.protection.outlook.com``) with a ``+`` result, through nested
  includes and ``redirect=``, within RFC 7208's limit of 10 DNS-querying terms?
* DKIM (``dkim.py``): do all of the provider's selectors (``selector1``, ``selector2``) publish a
  ``v=DKIM1`` key record with a non-empty ``p=``, directly or through a CNAME?

A DNS failure is an answer too (``False``); nothing here raises to the caller. A provider is a
``Profile``; others (Google: ``_spf.google.com`` and ``google``) are one line each.
"""
