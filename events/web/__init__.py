"""What a service's public web pages share: validators, a cache of rendered answers,
compression, security headers and a guard on the query string (``events.web.public``);
imports no other package here.
"""
