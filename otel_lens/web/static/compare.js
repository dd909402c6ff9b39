// The ways into the diff page (/diff): "Compare…" on a trace page (paste another id, or take the previous
// trace of the same root name), and ticking two traces in the trace list.
import { h } from "./common.js";

/** The trace page's "Compare…" control for `traceId` (this trace is B, the one compared with A). */
export function compareControl(traceId) {
  const other = h("input", { name: "other", placeholder: "other trace id", spellcheck: "false", "aria-label": "trace id to compare with" });
  const form = h("form", { class: "compare", action: "/diff", method: "get" },
    h("span", { class: "hint" }, "Compare…"),
    other,
    h("input", { type: "hidden", name: "b", value: traceId }),
    h("button", { type: "submit" }, "with this id"),
    h("a", { class: "button previous", href: `/diff?previous=${encodeURIComponent(traceId)}`, title: "the latest earlier trace with the same root name and service" }, "with the previous one"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = other.value.trim();
    if (!id) { other.focus(); return; }
    location.href = `/diff?${new URLSearchParams({ a: id, b: traceId })}`;
  });
  return form;
}

const picked = []; // the ticked trace ids, oldest tick first (at most two: a third tick drops the oldest)
const started = new Map(); // trace id → its start time: the earlier of the two is A, the baseline
const listeners = new Set();

function pair() {
  return [...picked].sort((x, y) => ((started.get(x) || "") < (started.get(y) || "") ? -1 : 1));
}

/** The "Compare selected" link of the trace list: enabled once two traces are ticked. */
export function compareSelected() {
  const link = h("a", { class: "button compare-selected", "aria-disabled": "true", title: "tick two traces to compare them" }, "");
  const update = () => {
    link.textContent = picked.length === 2 ? "Compare the 2 ticked" : picked.length === 1 ? "Tick 1 more to compare" : "Tick 2 to compare";
    if (picked.length === 2) {
      const [a, b] = pair();
      link.setAttribute("href", `/diff?${new URLSearchParams({ a, b })}`);
      link.removeAttribute("aria-disabled");
    } else {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    }
  };
  listeners.add(update);
  update();
  return link;
}

/** The tick box of one listed trace (kept ticked when the list is drawn again, e.g. by a live update). */
export function pickBox(traceId, startTime) {
  started.set(traceId, startTime);
  const box = h("input", { type: "checkbox", class: "pick", value: traceId, checked: picked.includes(traceId), "aria-label": "tick to compare" });
  box.addEventListener("change", () => {
    const at = picked.indexOf(traceId);
    if (box.checked && at < 0) picked.push(traceId);
    if (!box.checked && at >= 0) picked.splice(at, 1);
    while (picked.length > 2) {
      const dropped = picked.shift();
      for (const other of document.querySelectorAll("input.pick")) if (other.value === dropped) other.checked = false;
    }
    for (const update of listeners) update();
  });
  return box;
}
