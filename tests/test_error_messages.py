"""Error messages that fit the failure, for the four public clients:

* an HTML error page (a proxy's, a gateway's, a load balancer's) goes into the message as its
  ``<title>``, or its text when it has none, whitespace collapsed, never as markup;
* a TLS certificate that does not match the host name says so, and does not send the user
  after a CA bundle; only a certificate from an unknown CA suggests ``ca_bundle=``.
"""

from __future__ import annotations

import ssl
from typing import Iterator

import pytest
from reliability import FLAVOURS, read, write
from servers import Response, Server, html_error

NGINX_502 = html_error(502, "Bad Gateway")
SQUID_PAGE = """<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">
<html><head>
<meta type="copyright" content="Copyright (C) 1996-2022 The Squid Software Foundation">
<title>ERROR: The requested URL   could not
 be retrieved</title>
<style type="text/css"><!-- body { font-family: sans-serif } --></style>
</head><body id=ERR_CONNECT_FAIL><h1>ERROR</h1><p>Connection &amp; stuff failed</p></body></html>"""
UNTITLED_PAGE = """<html><head><style>h1 { color: red }</style><script>var x = "<b>";</script></head>
<body>
  <h1>Service   Unavailable</h1>
  <p>Back &lt;soon&gt; &mdash; try again</p>
</body></html>"""
CASES = {
    "nginx": (NGINX_502, "502 Bad Gateway"),
    "squid": (Response(503, SQUID_PAGE, content_type="text/html"), "ERROR: The requested URL could not be retrieved"),
    "untitled": (
        Response(503, UNTITLED_PAGE, content_type="text/html; charset=utf-8"),
        "Service Unavailable Back <soon> \u2014 try again",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_html_error_page_gives_its_title_or_text(make_api, http_server, flavour, case):
    module = flavour.split("-")[0]
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    page, expected = CASES[case]
    for op in (read(module), write(module)):
        http_server.add(op.path, page, method=op.http)
        with pytest.raises(api.error) as caught:
            api.op(op)
        message = str(caught.value)
        assert ": %s [" % expected in message, message
        assert "<" not in message.replace("<soon>", ""), message
        assert caught.value.detail == expected


def test_text_that_is_not_html_is_kept(make_api, http_server):
    api = make_api("altan-sync", http_server, max_retries=0)
    http_server.add("/connection", Response(400, "a < b and c > d", content_type="text/plain"))
    with pytest.raises(api.error, match="a < b and c > d"):
        api.op(read("altan"))


@pytest.fixture
def wrong_name_server(tls_ca) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("api.example.com").configure_cert(context)  # not 127.0.0.1
    server = Server(context).start()
    yield server
    server.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # an IP address, a host name
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_host_name_mismatch_says_so_and_does_not_suggest_a_ca_bundle(
    make_api, wrong_name_server, ca_bundle, flavour, host
):
    wrong_name_server.url = "https://%s:%d" % (host, wrong_name_server.port)
    api = make_api(flavour, wrong_name_server, ca_bundle=ca_bundle, max_retries=2)
    with pytest.raises(api.error) as caught:
        api.op(read(flavour.split("-")[0]))
    message = str(caught.value)
    assert "certificate verification failed" in message and "not retried" in message
    assert "does not match the host name" in message, message
    assert "ca_bundle" not in message and "ssl_context" not in message and "private CA" not in message
    assert wrong_name_server.count() == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_unknown_ca_suggests_a_ca_bundle(make_api, https_server, flavour):
    api = make_api(flavour, https_server, max_retries=0)  # the system CAs do not include the test CA
    with pytest.raises(api.error) as caught:
        api.op(write(flavour.split("-")[0]))
    message = str(caught.value)
    assert "ca_bundle=" in message and "ssl_context=" in message
    assert "does not match" not in message
