// The waterfall's drawn rows: scrolling keeps the rows still in view and draws only those coming into it
// (redrawing every row on each scroll frame made long tasks on 10,000-span traces); any change of what a
// row shows (tree, selection, search) invalidates them all.

export class RowCache {
  constructor(container) {
    this.container = container;
    this.drawn = new Map(); // span id → { node, top }
    this.valid = false;
  }

  invalidate() {
    this.valid = false;
  }

  /** Rows first..last-1 of ``visible`` ([span, depth] pairs) in the container, in row order; ``drawRow(span, depth, top)`` makes one. */
  draw(visible, first, last, height, drawRow) {
    const old = this.valid ? this.drawn : new Map();
    const kept = new Map();
    const before = [];
    const after = [];
    for (let i = first; i < last; i++) {
      const [span, depth] = visible[i];
      const top = i * height;
      const row = old.get(span.span_id);
      if (row && row.top === top) { kept.set(span.span_id, row); continue; }
      const node = drawRow(span, depth, top);
      // New rows above the first kept one go before it, the others after the last (the window is contiguous).
      (kept.size === before.length && after.length === 0 ? before : after).push(node);
      kept.set(span.span_id, { node, top });
    }
    if (kept.size === before.length + after.length) this.container.replaceChildren(...before, ...after);
    else {
      for (const [id, row] of old) if (kept.get(id) !== row) row.node.remove();
      this.container.prepend(...before); // in row order, as the keyboard and screen readers meet them
      this.container.append(...after);
    }
    this.drawn = kept;
    this.valid = true;
  }
}
