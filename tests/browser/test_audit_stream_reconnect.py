"""Chromium's own EventSource on the live stream with `?token=`, nothing else: across streams the
server ends and a dropped connection it reconnects by itself to the same URL with Last-Event-ID,
and no event is lost or repeated. The scenario and the proxy: tests/test_audit_stream_reconnect.py."""

import pytest

from tests.test_audit_stream_reconnect import run_the_scenario, serve_behind_proxy, stream_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reconnecting_server(transactional_db, settings):
    yield from serve_behind_proxy(settings)


LISTEN = """url => {
  window.opens = 0; window.got = []; window.ends = []; window.errors = 0;
  window.source = new EventSource(url);
  source.onopen = () => { window.opens += 1; };
  source.onmessage = (message) => { window.got.push(JSON.parse(message.data).id); };
  source.addEventListener("end", (message) => { window.ends.push(JSON.parse(message.data).reason); });
  source.onerror = () => { window.errors += 1; };
}"""


def test_chromiums_eventsource_loses_and_repeats_nothing_across_server_ends_and_a_dropped_connection(
    browser, reconnecting_server, owner, team
):
    server, proxy = reconnecting_server
    context = browser.new_context(base_url=proxy.url)
    page = context.new_page()
    page.goto("/healthz")  # the stream's origin: EventSource as the dashboard would open it
    page.evaluate(LISTEN, stream_url(server, proxy, owner, team))
    written = run_the_scenario(
        proxy, team, opens=lambda: page.evaluate("window.opens"), received=lambda: page.evaluate("window.got")
    )
    got = page.evaluate("window.got")
    assert page.evaluate("source.readyState") != 2, "EventSource gave up"
    assert len(got) == len(set(got)), "an event was delivered twice"
    assert got == written
    assert "max_duration" in page.evaluate("window.ends") and page.evaluate("window.errors") >= 2
    context.close()
