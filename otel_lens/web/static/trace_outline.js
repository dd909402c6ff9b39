// A trace's outline (/api/traces/{id}?view=outline: parallel arrays, no attributes) as the span objects the
// waterfall draws; the page draws its first rows from these, then swaps in the whole trace's spans.

/** Span objects with what a waterfall row shows (the detail and the attribute search wait for the whole trace). */
export function fromOutline(outline) {
  const o = outline.spans;
  const made = new Array(o.span_id.length);
  for (let i = 0; i < made.length; i++) {
    const service = outline.services[o.service[i]];
    made[i] = {
      span_id: o.span_id[i], parent_span_id: o.parent_span_id[i], name: o.name[i],
      start_time_unix_nano: o.start_time_unix_nano[i], end_time_unix_nano: o.end_time_unix_nano[i],
      duration_ms: (o.end_time_unix_nano[i] - o.start_time_unix_nano[i]) / 1e6,
      status: { code: o.status[i], message: o.status_message[i] },
      state: o.state ? o.state[i] : "ended", // running/abandoned: end_time_unix_nano is the end so far
      resource: service == null ? {} : { "service.name": service },
      events: o.events[i].map(([name, time]) => ({ name, time_unix_nano: time })),
    };
  }
  return made;
}
