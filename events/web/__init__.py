"""What a service's public web pages share: validators, a cache of rendered answers,
compression, security headers and a guard on the query string (``events.web.public``).

May import: libraries only, no other ``events`` package.
"""
