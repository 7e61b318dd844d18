// The npm `eventsource` package (a WhatWG EventSource for Node), used as a browser would use it:
// one `new EventSource(url)` with `?token=`, and nothing else. It reconnects by itself, to the same
// URL with Last-Event-ID, when the server ends a stream or the connection drops.
// Prints one JSON line per happening: {"open"}, {"event": id, "last": lastEventId}, {"end": reason},
// {"error", "state"}. Stops after `seconds`, or with exit code 2 if EventSource gives up.
import { EventSource } from "eventsource";

const [url, seconds] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const source = new EventSource(url);
source.onopen = () => say({ open: true });
source.onmessage = (message) => say({ event: JSON.parse(message.data).id, last: message.lastEventId });
source.addEventListener("end", (message) => say({ end: JSON.parse(message.data).reason }));
source.addEventListener("revoked", (message) => say({ revoked: JSON.parse(message.data).reason }));
source.onerror = () => {
  say({ error: true, state: source.readyState });
  if (source.readyState === EventSource.CLOSED) process.exit(2);
};
setTimeout(() => {
  source.close();
  process.exit(0);
}, Number(seconds) * 1000);
